/*
 * fleet.h - master plus every tenant: `auzdb run`, fleet-wide `status`,
 * `tenants` and `tenant create`.
 *
 * Owns: the order of a run (master first; no tenant is touched if master
 * fails), the bounded worker pool (at most --concurrency tenant
 * connections, plus master's), --fail-fast, shards waiting for master,
 * progress on a TTY, and handing every outcome to the report.
 * Calls: conn, migset, apply, tenants, report, log.
 */
#ifndef AUZDB_FLEET_H
#define AUZDB_FLEET_H

#include "config.h"

int fleet_run(const struct config *cfg);
/* status (list_only false) or tenants (list_only true) over the fleet */
int fleet_status(const struct config *cfg, bool list_only);
int fleet_tenant_create(const struct config *cfg);

#endif
