/*
 * cmd_backup.h - the backup command.
 *
 * Owns: `auzdb backup` - one database, now, whatever its migrations, into
 * the backup directory or standard output.
 * Calls: backup, conn, log.
 */
#ifndef AUZDB_CMD_BACKUP_H
#define AUZDB_CMD_BACKUP_H

#include "config.h"

int cmd_backup(const struct config *cfg);

#endif
