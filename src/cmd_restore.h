/*
 * cmd_restore.h - the restore command.
 *
 * Owns: `auzdb restore FILE`: opening the file before any connection,
 * connecting the target (creating it with --create), and handing both to
 * restore_play.
 * Calls: restore, conn, log.
 */
#ifndef AUZDB_CMD_RESTORE_H
#define AUZDB_CMD_RESTORE_H

#include "config.h"

int cmd_restore(const struct config *cfg);

#endif
