/*
 * cmd_migrate.h - the migrate and resolve commands (one database).
 *
 * Owns: `auzdb migrate`/`deploy` (bring one database up to date) and
 * `auzdb resolve --applied|--rolled-back` (edit its ledger as Prisma does).
 * Calls: workflow, ledger, migset, conn, log.
 */
#ifndef AUZDB_CMD_MIGRATE_H
#define AUZDB_CMD_MIGRATE_H

#include "config.h"

int cmd_migrate(const struct config *cfg);
int cmd_resolve(const struct config *cfg);

#endif
