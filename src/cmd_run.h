/*
 * cmd_run.h - the fleet commands.
 *
 * Owns: `auzdb run` (master first, then every tenant), `auzdb status` (the
 * fleet, or with --set one database), `auzdb tenants` and `auzdb tenant
 * create SLUG`: what each prints and the exit code it derives.
 * Calls: fleet, workflow, tenants, report, migset, conn, log.
 */
#ifndef AUZDB_CMD_RUN_H
#define AUZDB_CMD_RUN_H

#include "config.h"

int cmd_run(const struct config *cfg);
/* status (list_only false) or tenants (list_only true) over the fleet */
int cmd_fleet_status(const struct config *cfg, bool list_only);
/* status --set: one database */
int cmd_status_one(const struct config *cfg);
int cmd_tenant_create(const struct config *cfg);

#endif
