/*
 * backup.h - pg_dump-style logical backups, one gzip file per database.
 *
 * Owns: turning one database into a plain SQL script (catalog queries,
 * deparsed by the server, in an order that restores: pre-data, COPY data,
 * then constraints, indexes, triggers, foreign keys, policies, comments),
 * read in one REPEATABLE READ, READ ONLY transaction; the backup set of a
 * run (<dir>/<UTC timestamp>/<database>.sql.gz, written to a temp name,
 * fsynced, verified, renamed; files 0600), its manifest.json, and
 * AUZDB_BACKUP_KEEP retention.  A set is shared by a run's workers.
 * Also: owners and privileges with --with-owners, rows holding a value of
 * more than 1 MiB fetched in slices (libpq would hold a COPY row twice),
 * and the progress line on a TTY (one dump of a set at a time).
 * Calls: conn, compress, log.
 */
#ifndef AUZDB_BACKUP_H
#define AUZDB_BACKUP_H

#include "conn.h"

struct backup_set;

/* A set for this run under cfg->backup_dir; nothing is created until the first backup. */
struct backup_set *backup_set_new(const struct config *cfg);
/*
 * Backs up one connected, idle database into the set.  Returns AZ_EXIT_OK
 * and the file's path in *file (caller frees), or AZ_EXIT_BACKUP with a
 * one-line *err; then no file exists under the final name.
 */
int backup_database(struct backup_set *bs, struct dbconn *db, char **file, char **err) AZ_MUSTCHECK;
/* Applies retention (only when every backup of the run succeeded) and frees bs. */
void backup_set_close(struct backup_set *bs);

/* Writes one database's backup to an open descriptor (stdout for `backup -`). */
int backup_to_fd(const struct config *cfg, struct dbconn *db, int fd, char **err) AZ_MUSTCHECK;

#endif
