/* log.c - see log.h */
#define _POSIX_C_SOURCE 200809L
#include "log.h"

#include "exitcodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set once from the parsed options (log_setup), read everywhere after. */
static struct {
	enum log_format format;
	bool verbose;
	bool quiet;
	char **secrets;
	size_t nsecrets;
} logcfg;

void log_setup(enum log_format fmt, bool verbose, bool quiet)
{
	logcfg.format = fmt;
	logcfg.verbose = verbose;
	logcfg.quiet = quiet;
}

enum log_format log_get_format(void)
{
	return logcfg.format;
}

void log_add_secret(const char *secret)
{
	if (!secret || strlen(secret) < 3)
		return; /* too short to scrub without mangling ordinary text */
	for (size_t i = 0; i < logcfg.nsecrets; i++)
		if (strcmp(logcfg.secrets[i], secret) == 0)
			return;
	logcfg.secrets = xrealloc(logcfg.secrets, (logcfg.nsecrets + 1) * sizeof(char *));
	logcfg.secrets[logcfg.nsecrets++] = xstrdup(secret);
}

char *log_scrub(const char *s)
{
	struct strbuf sb;

	sb_init(&sb);
	sb_adds(&sb, s);
	for (size_t i = 0; i < logcfg.nsecrets; i++) {
		const char *sec = logcfg.secrets[i];
		size_t sl = strlen(sec);
		char *hit;
		struct strbuf tmp;
		const char *p = sb.buf;

		if (!strstr(p, sec))
			continue;
		sb_init(&tmp);
		while ((hit = strstr(p, sec)) != NULL) {
			sb_add(&tmp, p, (size_t)(hit - p));
			sb_adds(&tmp, "****");
			p = hit + sl;
		}
		sb_adds(&tmp, p);
		sb_free(&sb);
		sb = tmp;
	}
	return sb.buf;
}

static const char *level_name(enum log_level l)
{
	switch (l) {
	case LOG_DEBUG: return "debug";
	case LOG_INFO: return "info";
	case LOG_WARN: return "warn";
	case LOG_ERROR: return "error";
	}
	return "?";
}

void log_at(enum log_level lvl, const struct log_ctx *ctx, const char *fmt, ...)
{
	struct strbuf msg, line;
	va_list ap;
	char ts[40];
	char *clean;
	FILE *f = lvl >= LOG_WARN ? stderr : stdout;

	if (lvl == LOG_DEBUG && !logcfg.verbose)
		return;
	if (lvl == LOG_INFO && logcfg.quiet)
		return;
	sb_init(&msg);
	va_start(ap, fmt);
	sb_vaddf(&msg, fmt, ap);
	va_end(ap);
	/* one event, one line: fold newlines, and no control byte (an escape
	 * sequence in a hostile value) ever reaches a terminal */
	for (size_t i = 0; i < msg.len; i++)
		if ((unsigned char)msg.buf[i] < 0x20 || msg.buf[i] == 0x7f)
			msg.buf[i] = ' ';
	while (msg.len && msg.buf[msg.len - 1] == ' ')
		msg.buf[--msg.len] = '\0';

	sb_init(&line);
	if (logcfg.format == LOG_JSON) {
		utc_timestamp(ts, sizeof ts, false);
		sb_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_name(lvl));
		sb_add_json(&line, msg.buf);
		sb_adds(&line, "\"");
		if (ctx && ctx->database) {
			sb_adds(&line, ",\"database\":\"");
			sb_add_json(&line, ctx->database);
			sb_adds(&line, "\"");
		}
		if (ctx && ctx->migration) {
			sb_adds(&line, ",\"migration\":\"");
			sb_add_json(&line, ctx->migration);
			sb_adds(&line, "\"");
		}
		if (ctx && ctx->duration_ms >= 0)
			sb_addf(&line, ",\"duration_ms\":%lld", ctx->duration_ms);
		sb_adds(&line, "}");
	} else {
		if (lvl == LOG_ERROR)
			sb_adds(&line, "auzdb: error: ");
		else if (lvl == LOG_WARN)
			sb_adds(&line, "auzdb: warning: ");
		if (ctx && ctx->database)
			sb_addf(&line, "[%s] ", ctx->database);
		sb_adds(&line, msg.buf);
		if (ctx && ctx->duration_ms >= 0)
			sb_addf(&line, " (%lld ms)", ctx->duration_ms);
	}
	clean = log_scrub(line.buf);
	fprintf(f, "%s\n", clean);
	fflush(f);
	free(clean);
	sb_free(&line);
	sb_free(&msg);
}

void out_line(const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;
	char *clean;

	sb_init(&sb);
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	clean = log_scrub(sb.buf);
	fprintf(stdout, "%s\n", clean);
	fflush(stdout);
	free(clean);
	sb_free(&sb);
}

int log_fail(int rc, const char *database, char *err)
{
	log_db(LOG_ERROR, database, "%s", err ? err : az_exit_name(rc));
	free(err);
	return rc;
}
