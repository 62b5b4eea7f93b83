/*
 * fleet.h - running one job over many tenant databases.
 *
 * Owns: the bounded worker pool (at most --concurrency tenant connections,
 * 1 MiB thread stacks because musl's default is 128 KiB) with --fail-fast
 * and the TTY progress line; the checks a fleet command makes before it
 * touches a database (preflight); loading both migration sets; shards
 * waiting for master; and finishing the run's report (table or JSON,
 * --report file, termination message).
 * Calls: workflow (migrate/status of one database), tenants, report,
 * shadow, migset, conn, signals, log.
 */
#ifndef AUZDB_FLEET_H
#define AUZDB_FLEET_H

#include "config.h"
#include "migset.h"
#include "report.h"
#include "tenants.h"

struct backup_set;
struct dbconn;

enum job { JOB_MIGRATE, JOB_STATUS };

/*
 * Settings only a run would trip over late, checked before any database is
 * touched: the tenant URL template's placeholders, and (check_report) that
 * the report can be written where it was asked for.  AZ_EXIT_USAGE with
 * *err, or 0.
 */
int fleet_preflight(const struct config *cfg, bool check_report, char **err) AZ_MUSTCHECK;
/* Loads the master and the tenant set; on failure neither is left loaded. */
int fleet_load_sets(const struct config *cfg, struct migset *master, struct migset *tenant,
                    char **err) AZ_MUSTCHECK;
/*
 * Runs job (migrate or status) over every tenant with at most
 * cfg->concurrency connections, filling outs[i] (zeroed by the caller) for
 * tenants->items[i]; tenants never started (--fail-fast, a stop) get an
 * outcome that says so.
 */
void fleet_each(const struct config *cfg, const struct migset *set,
                const struct tenant_list *tenants, enum job job, struct backup_set *bs,
                struct db_outcome *outs);
/* Shards other than 0 wait (bounded) until shard 0 has brought master up to date. */
int fleet_wait_for_master(const struct config *cfg, struct dbconn *master, const struct migset *set,
                          char **err) AZ_MUSTCHECK;
/* Prints the report (table or JSON), writes --report and the termination message; the run's code.
 */
int fleet_finish_report(const struct config *cfg, struct report *r);

#endif
