/*
 * restore.h - `auzdb restore FILE`: plays a plain SQL backup (auzdb's, or
 * pg_dump's plain format; gzip-compressed or not) into a database.
 *
 * Owns: reading the script statement by statement (sqlscan's splitter),
 * streaming each COPY ... FROM stdin block with PQputCopyData without
 * holding it in memory, psql meta-commands (\restrict and \unrestrict are
 * accepted, any other is refused), the empty-target rule and --clean,
 * --create.  The whole restore is one transaction: it applies completely
 * or not at all, and stops at the first error, naming the line.
 * Calls: conn, compress, sqlscan, pgtext (the end of a COPY block), log.
 */
#ifndef AUZDB_RESTORE_H
#define AUZDB_RESTORE_H

#include "config.h"

/* Returns AZ_EXIT_OK, or an exit code after logging one error line. */
/*
 * `auzdb restore FILE`, in three steps: restore_open opens cfg->restore_file
 * ("-" is standard input; gzip or plain) before any connection, so a bad file
 * is a usage error at once; restore_play plays it into db (borrowed) in one
 * transaction, with --clean's drops and the refusals (a non-empty target, a
 * script that would put nothing back), and logs what it did; restore_close.
 */
struct dbconn;
struct restore;
struct restore *restore_open(const struct config *cfg, char **err);
int restore_play(struct restore *rs, struct dbconn *db) AZ_MUSTCHECK;
void restore_close(struct restore *rs);

/*
 * The reader without a server (tests/fuzz/fuzz_restore.c): reads the
 * script script[0, len) (plain text) as restore_run reads a file, with a
 * read buffer of buf_size bytes (at least 4), and hands each statement to
 * statement(), which returns true when it starts COPY FROM stdin; that
 * block's data then goes to copy_data() in pieces (together: its lines,
 * the "\." line excluded) and copy_end() gets its row count.  Returns
 * AZ_EXIT_OK, or an exit code after logging one error line.
 */
struct restore_sink {
	bool (*statement)(void *arg, const char *sql, long first_line, long token_line);
	void (*copy_data)(void *arg, const char *data, size_t n);
	void (*copy_end)(void *arg, long long rows);
	void *arg;
};
int restore_scan(const char *script, size_t len, size_t buf_size, const struct restore_sink *sink);

/* The same over a backup file (gzip or plain): how `auzdb resync` reads the rows back. */
int restore_scan_file(const char *path, const struct restore_sink *sink) AZ_MUSTCHECK;

/*
 * Plays the backup at path into the connected database db (borrowed, left
 * open and idle) in one transaction; with clean_first, drops everything the
 * database holds first (as --clean).  `auzdb reset`/`resync` use it to put a
 * database back as it was.  Returns AZ_EXIT_OK, or an exit code with a
 * one-line *err (the failing line is logged).
 */
struct dbconn;
int restore_into(struct dbconn *db, const char *path, bool clean_first, char **err) AZ_MUSTCHECK;

#endif
