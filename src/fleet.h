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
 * One job over the tenants.  fleet_each calls, from its worker threads (at
 * most cfg->concurrency at once, each tenant once):
 *   one(arg, i, db, t0)  with tenant i connected (fleet_each closes it after);
 *                        t0: now_ms() before its connection was opened;
 *   not_run(arg, i, rc, err, state) when tenant i was not connected: its slug
 *                        was rejected (state NULL), the connection failed
 *                        ("unreachable"), or it was never started because of
 *                        fail_fast or a stop ("not attempted"); err is the
 *                        callee's to keep or free;
 *   failed(arg, i)       after either, under the pool's lock: did i fail?
 *                        (counts for fail_fast and the progress line).
 * Slot i of the caller's array belongs to tenant i only, so the callbacks
 * need no lock of their own.
 */
struct fleet_job {
	const struct config *cfg;
	const struct tenant_list *tenants;
	void (*one)(void *arg, size_t i, struct dbconn *db, long long t0);
	void (*not_run)(void *arg, size_t i, int rc, char *err, const char *state);
	bool (*failed)(void *arg, size_t i);
	void *arg;
	bool fail_fast; /* start no tenant after a failure */
	bool progress;  /* the TTY progress line */
};
void fleet_each(const struct fleet_job *job);
/*
 * fleet_each for migrate or status: fills outs[i] (zeroed by the caller) for
 * tenants->items[i], with the expected schemas of set shared by all.
 */
void fleet_outcomes(const struct config *cfg, const struct migset *set,
                    const struct tenant_list *tenants, enum job job, struct backup_set *bs,
                    struct db_outcome *outs);
/* fleet_preflight and fleet_load_sets, logging a failure: the first step of run and status. */
int fleet_prepare(const struct config *cfg, bool check_report, struct migset *master,
                  struct migset *tenant) AZ_MUSTCHECK;
/* Shards other than 0 wait (bounded) until shard 0 has brought master up to date. */
int fleet_wait_for_master(const struct config *cfg, struct dbconn *master, const struct migset *set,
                          char **err) AZ_MUSTCHECK;
/* Prints the report (table or JSON), writes --report and the termination message; the run's code.
 */
int fleet_finish_report(const struct config *cfg, struct report *r);

#endif
