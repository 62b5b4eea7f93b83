/*
 * cmd_restore.c - `auzdb restore FILE`.
 *
 * Flags and variables: FILE (a backup, gzip or plain; "-" is standard input),
 * --database-url URL (or the environment's), --clean (drop the target's
 * schemas first; refused for a script that would put nothing back), --create
 * (create the target database when it is missing).
 */
#define _POSIX_C_SOURCE 200809L
#include "cmd_restore.h"

#include "conn.h"
#include "exitcodes.h"
#include "log.h"
#include "restore.h"

#include <stdlib.h>
#include <string.h>

int cmd_restore(const struct config *cfg)
{
	struct restore *rs;
	struct dbconn db;
	char *e = NULL;
	int rc;

	rs = restore_open(cfg, &e);
	if (!rs) {
		log_error("restore: %s", e);
		free(e);
		return AZ_EXIT_USAGE;
	}
	rc = db_connect(cfg, cfg->database_url, NULL, cfg->restore_create, &db, &e);
	if (rc) {
		log_error("restore: %s%s", e,
		          strstr(e, "does not exist") && !cfg->restore_create
		              ? " (pass --create to create it)"
		              : "");
		free(e);
		restore_close(rs);
		return rc;
	}
	rc = restore_play(rs, &db);
	db_close(&db);
	restore_close(rs);
	return rc;
}
