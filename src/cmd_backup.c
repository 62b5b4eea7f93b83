/*
 * cmd_backup.c - `auzdb backup [-]`.
 *
 * Flags and variables: --database-url URL (or the environment's), --backup-dir DIR /
 * AUZDB_BACKUP_DIR, --compress-level N, --with-owners, `-` for standard output,
 * AUZDB_BACKUP_KEEP.
 */
#define _POSIX_C_SOURCE 200809L
#include "cmd_backup.h"

#include "backup.h"
#include "exitcodes.h"
#include "log.h"

#include <stdlib.h>
#include <unistd.h>

/* `auzdb backup [-]`: one database, now, whatever its migrations. */
int cmd_backup(const struct config *cfg)
{
	struct dbconn db;
	char *err = NULL, *file = NULL;
	int rc;

	if (cfg->backup_stdout && isatty(STDOUT_FILENO))
		return log_fail(
		    AZ_EXIT_USAGE, NULL,
		    xstrdup("backup -: standard output is a terminal; redirect it to a file "
		            "or a pipe"));
	rc = db_connect(cfg, cfg->database_url, NULL, false, &db, &err);
	if (rc)
		return log_fail(rc, NULL, err);
	if (cfg->backup_stdout) {
		rc = backup_to_fd(cfg, &db, STDOUT_FILENO, &err);
	} else {
		struct backup_set *bs = backup_set_new(cfg);
		rc = backup_database(bs, &db, &file, &err);
		backup_set_close(bs);
		if (!rc)
			out_line("%s", file);
		free(file);
	}
	if (rc)
		rc = log_fail(rc, db.dbname, err);
	db_close(&db);
	return rc;
}
