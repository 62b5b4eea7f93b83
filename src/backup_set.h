/*
 * backup_set.h - the backup set of a run: <dir>/<UTC timestamp>/<database>.sql.gz.
 *
 * Owns: the set directory (created 0700 on the first backup, with a -N
 * suffix when the name is taken), each database's file (its name %XX-escaped,
 * written under a temp name, fsynced, read back and checked against the
 * sha256 its writer computed, renamed into place, the directory fsynced;
 * files 0600), manifest.json (rewritten after every file), AUZDB_BACKUP_KEEP
 * retention (only after a run whose backups all succeeded, counting only
 * complete sets), and which dump may draw the progress line (one at a time).
 * A set is shared by a run's workers: one mutex guards it.
 * Calls: backup (the dump), compress (the writer, sha256), util (the
 * atomic temp-file-and-rename write), signals (temp files a forced exit
 * removes), log.
 */
#ifndef AUZDB_BACKUP_SET_H
#define AUZDB_BACKUP_SET_H

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

#endif
