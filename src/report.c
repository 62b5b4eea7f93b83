/* report.c - see report.h */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "signals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void outcome_free(struct db_outcome *o)
{
	for (size_t i = 0; i < o->ndone; i++)
		free(o->done[i].name);
	free(o->done);
	free(o->database);
	free(o->slug);
	free(o->state_after);
	free(o->detail);
	free(o->error);
	free(o->state_before);
	free(o->backup_file);
	memset(o, 0, sizeof *o);
}

void report_init(struct report *r, const char *command)
{
	memset(r, 0, sizeof *r);
	utc_timestamp(r->started_at, sizeof r->started_at, false);
	r->start_ms = now_ms();
	r->command = command;
}

struct db_outcome *report_add(struct report *r)
{
	r->dbs = xrealloc(r->dbs, (r->count + 1) * sizeof *r->dbs);
	memset(&r->dbs[r->count], 0, sizeof *r->dbs);
	return &r->dbs[r->count++];
}

void report_free(struct report *r)
{
	for (size_t i = 0; i < r->count; i++)
		outcome_free(&r->dbs[i]);
	free(r->dbs);
	memset(r, 0, sizeof *r);
}

int report_exit_code(const struct report *r)
{
	bool tenant_failed = false;
	int retryable = 0; /* the first tenant's code while every failure is retryable */
	for (size_t i = 0; i < r->count; i++) {
		const struct db_outcome *o = &r->dbs[i];
		int c = o->exit_code;
		if (c == AZ_EXIT_OK)
			continue;
		if (str_eq(o->role, "master"))
			return signals_exit_code(c);
		if (!tenant_failed)
			retryable = c;
		if (c != AZ_EXIT_UNREACHABLE && c != AZ_EXIT_LOCK && c != AZ_EXIT_BACKUP &&
		    c != AZ_EXIT_INTERRUPTED)
			retryable = -1;
		tenant_failed = true;
	}
	/*
	 * Tenants that failed only for reasons a retry fixes (the server went
	 * away, a lock, a backup, a signal): the run's code says "retry" too.
	 */
	if (tenant_failed && retryable > 0)
		return signals_exit_code(retryable);
	return signals_exit_code(tenant_failed ? AZ_EXIT_TENANTS_FAILED : AZ_EXIT_OK);
}

static size_t total_applied(const struct report *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->count; i++)
		n += r->dbs[i].ndone;
	return n;
}

static size_t total_failed(const struct report *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->count; i++)
		n += r->dbs[i].exit_code != AZ_EXIT_OK;
	return n;
}

void report_print_table(const struct report *r)
{
	out_line("%-32s %-7s %-14s    %-14s %7s %9s  %s", "DATABASE", "ROLE", "BEFORE", "AFTER",
	         "APPLIED", "TIME", "ERROR");
	for (size_t i = 0; i < r->count; i++) {
		const struct db_outcome *o = &r->dbs[i];
		char t[32];
		snprintf(t, sizeof t, "%lld ms", o->duration_ms);
		out_line("%-32s %-7s %-14s -> %-14s %7zu %9s  %s", o->database ? o->database : "?",
		         o->role ? o->role : "", o->state_before ? o->state_before : "-",
		         o->state_after ? o->state_after : "-", o->ndone, t,
		         o->error ? o->error : "");
	}
	out_line("%zu database%s, %zu failed, %zu migration%s applied in %lld ms: %s (exit %d)",
	         r->count, r->count == 1 ? "" : "s", total_failed(r), total_applied(r),
	         total_applied(r) == 1 ? "" : "s", now_ms() - r->start_ms,
	         az_exit_name(report_exit_code(r)), report_exit_code(r));
}

char *report_json(const struct report *r)
{
	struct json j;
	int code = report_exit_code(r);
	char *doc, *clean;

	json_init(&j);
	json_object(&j, NULL);
	json_string(&j, "command", r->command);
	json_string(&j, "started_at", r->started_at);
	json_int(&j, "duration_ms", now_ms() - r->start_ms);
	json_int(&j, "exit_code", code);
	json_string(&j, "result", az_exit_name(code));
	json_array(&j, "databases");
	for (size_t i = 0; i < r->count; i++) {
		const struct db_outcome *o = &r->dbs[i];
		json_object(&j, NULL);
		json_string(&j, "name", o->database);
		json_string(&j, "role", o->role);
		json_string(&j, "slug", o->slug);
		json_string(&j, "state_before", o->state_before);
		json_string(&j, "state_after", o->state_after);
		json_string(&j, "detail", o->detail && *o->detail ? o->detail : NULL);
		json_uint(&j, "applied_before", o->applied_before);
		json_uint(&j, "pending_before", o->pending_before);
		json_array(&j, "applied");
		for (size_t k = 0; k < o->ndone; k++) {
			json_object(&j, NULL);
			json_string(&j, "name", o->done[k].name);
			json_int(&j, "duration_ms", o->done[k].duration_ms);
			json_end(&j);
		}
		json_end(&j);
		json_int(&j, "exit_code", o->exit_code);
		if (o->exit_code) {
			json_object(&j, "error");
			json_int(&j, "code", o->exit_code);
			json_string(&j, "name", az_exit_name(o->exit_code));
			json_string(&j, "message", o->error);
			json_end(&j);
		} else {
			json_null(&j, "error");
		}
		json_string(&j, "backup_file", o->backup_file);
		json_int(&j, "duration_ms", o->duration_ms);
		json_end(&j);
	}
	json_end(&j);
	json_object(&j, "totals");
	json_uint(&j, "databases", r->count);
	json_uint(&j, "ok", r->count - total_failed(r));
	json_uint(&j, "failed", total_failed(r));
	json_uint(&j, "migrations_applied", total_applied(r));
	json_end(&j);
	json_end(&j);
	doc = json_finish(&j);
	/* the report may quote server messages: scrub secrets once more */
	clean = log_scrub(doc);
	free(doc);
	return clean;
}

bool report_write_file(const struct report *r, const char *path, char **err)
{
	struct strbuf sb;
	char *json = report_json(r), *e = NULL;
	bool ok;

	sb_init(&sb);
	sb_adds(&sb, json);
	sb_addc(&sb, '\n');
	ok = write_file_atomic(path, sb.buf, sb.len, 0600, &e);
	if (!ok) {
		*err = xasprintf("cannot write report %s: %s", path, e);
		free(e);
	}
	sb_free(&sb);
	free(json);
	return ok;
}

void report_termination(const struct report *r, const char *path)
{
	struct strbuf sb;
	int code = report_exit_code(r);
	char *clean, *e = NULL;

	sb_init(&sb);
	sb_addf(&sb,
	        "auzdb %s: %s (exit %d): %zu database%s, %zu failed, %zu migration%s applied\n",
	        r->command, az_exit_name(code), code, r->count, r->count == 1 ? "" : "s",
	        total_failed(r), total_applied(r), total_applied(r) == 1 ? "" : "s");
	for (size_t i = 0; i < r->count && sb.len < 4096; i++) {
		const struct db_outcome *o = &r->dbs[i];
		if (o->exit_code)
			sb_addf(&sb, "%s: %s\n", o->database ? o->database : "?",
			        o->error ? o->error : az_exit_name(o->exit_code));
	}
	clean = log_scrub(sb.buf);
	sb_free(&sb);
	if (strlen(clean) > 4096)
		memcpy(clean + 4096 - 4, "...\n", 5);
	/* in place: its directory (/dev in Kubernetes) is not ours to create files in */
	if (!write_file_in_place(path, clean, strlen(clean), 0600, &e)) {
		log_debug("cannot write the termination message: %s", e);
		free(e);
	}
	free(clean);
}
