/*
 * cmd_adopt.h - the adopt and verify commands.
 *
 * Owns: `auzdb adopt` (record the migrations a schema already has, then
 * migrate the rest) and `auzdb verify` (compare every database's schema with
 * what its applied migrations make, with its JSON report).
 * Calls: adopt, workflow, shadow, fingerprint, ledger, tenants, conn, log.
 */
#ifndef AUZDB_CMD_ADOPT_H
#define AUZDB_CMD_ADOPT_H

#include "config.h"

int cmd_adopt(const struct config *cfg);
int cmd_verify(const struct config *cfg);

#endif
