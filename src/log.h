/*
 * log.h - everything auzdb prints about its progress.
 *
 * Owns: the output format (human text, or JSON lines with ts, level, msg,
 * database, migration, duration_ms) and the list of secrets that must never
 * be printed: every line is scrubbed of them before it is written.
 * Info goes to stdout; warnings and errors to stderr.  Set up once from
 * the parsed options, before any other module logs.
 */
#ifndef AUZDB_LOG_H
#define AUZDB_LOG_H

#include "util.h"

enum log_format { LOG_TEXT, LOG_JSON };
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_setup(enum log_format fmt, bool verbose, bool quiet);
enum log_format log_get_format(void);
/* Registers a string (a password) that is replaced by "****" in all output. */
void log_add_secret(const char *secret);
/* Replaces every registered secret in s; returns a new string. */
char *log_scrub(const char *s);

/* Context of a log line; any field may be NULL / negative. */
struct log_ctx {
	const char *database;
	const char *migration;
	long long duration_ms;
};

void log_at(enum log_level lvl, const struct log_ctx *ctx, const char *fmt, ...) AZ_PRINTF(3, 4);

#define LOG_NOCTX      ((const struct log_ctx *)0)
#define log_debug(...) log_at(LOG_DEBUG, LOG_NOCTX, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, LOG_NOCTX, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, LOG_NOCTX, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, LOG_NOCTX, __VA_ARGS__)
/* A line about one database (shown as "[database] ..." in text). */
#define log_db(lvl, database, ...)                                                                 \
	log_at((lvl), &(struct log_ctx){(database), NULL, -1}, __VA_ARGS__)

/* Prints a line of plain output (tables, status lines) to stdout, scrubbed. */
void out_line(const char *fmt, ...) AZ_PRINTF(1, 2);
/*
 * A command's failure: logs err (or the code's name) as an error for
 * database (may be NULL), frees err, and returns rc.
 */
int log_fail(int rc, const char *database, char *err);

#endif
