/*
 * backup.h - the dump engine: one database to a plain SQL script, pg_dump-style.
 *
 * Owns: dumping one connected, idle database into a gzip writer, read in
 * one REPEATABLE READ, READ ONLY transaction with every table locked
 * ACCESS SHARE, in an order that restores (pre-data, COPY data and sequence
 * values, then constraints, indexes, triggers, foreign keys, policies,
 * comments; owners and privileges with --with-owners); COPY streaming;
 * rows holding a value of more than 1 MiB fetched in slices (libpq would
 * hold a COPY row twice); the progress line on a TTY; and `backup -`, one
 * database onto a descriptor.  What to ask the catalogue and the SQL its
 * rows become is backup_catalog's.  The backup set a run writes its files
 * into is backup_set's: backup_set.h is included here for the modules that
 * back up through this header.
 * Calls: backup_catalog, conn, compress, signals, log.
 */
#ifndef AUZDB_BACKUP_H
#define AUZDB_BACKUP_H

#include "backup_set.h"
#include "conn.h"

struct gz_writer;

/* What one dump read, for the set's manifest. */
struct table_count {
	char *name;
	long long rows;
};

struct dump_info {
	char *server_version;
	char started_at[40];
	long long duration_ms;
	struct table_count *tables;
	size_t ntables;
};

void dump_info_free(struct dump_info *in);

struct dump_opts {
	long lock_timeout_s; /* for the LOCK TABLE of every table read */
	bool owners;         /* --with-owners: owners and privileges too */
	bool progress;       /* draw the progress line on stderr */
};

/*
 * Dumps db (connected, idle) into w and fills *info.  Returns true, or
 * false with *err the database-side cause, or with *err NULL when the
 * writer failed (gzw_finish then says why).  *err, when set, is the
 * caller's to free, even on success.  The progress line is cleared.
 */
bool backup_dump(struct dbconn *db, struct gz_writer *w, const struct dump_opts *o,
                 struct dump_info *info, char **err) AZ_MUSTCHECK;

/* Writes one database's backup to an open descriptor (stdout for `backup -`). */
int backup_to_fd(const struct config *cfg, struct dbconn *db, int fd, char **err) AZ_MUSTCHECK;

#endif
