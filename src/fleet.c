/* fleet.c - see fleet.h */
#define _POSIX_C_SOURCE 200809L
#include "fleet.h"

#include "workflow.h"
#include "exitcodes.h"
#include "log.h"
#include "migset.h"
#include "report.h"
#include "shadow.h"
#include "signals.h"
#include "tenants.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct pool {
	const struct config *cfg;
	const struct migset *set;
	const struct tenant_list *tenants;
	struct db_outcome *outs; /* one per tenant, zeroed */
	enum job job;
	struct backup_set *bs; /* JOB_MIGRATE: the run's backups, or NULL */
	pthread_mutex_t mu;
	size_t next, done, failed;
	bool stop;
	long long start;
	struct shadow_cache *shadow; /* expected schemas of set, built once if needed */
};

/* Sleeps ms in slices, returning early once a stop was requested. */
static void sleep_ms(long ms)
{
	while (ms > 0 && !signals_stop_requested()) {
		long slice = ms > 100 ? 100 : ms;
		struct timespec ts = {0, slice * 1000000L};
		nanosleep(&ts, NULL);
		ms -= slice;
	}
}

/*
 * Settings only a run would trip over late, checked before any database is
 * touched: the tenant URL template's placeholders, and that the report can be
 * written where it was asked for.  AZ_EXIT_USAGE with *err, or 0.
 */
int fleet_preflight(const struct config *cfg, bool check_report, char **err)
{
	if (cfg->tenant_url_template) {
		struct tenant probe = {"probe", "probe", NULL};
		char *u = tenant_url(cfg->tenant_url_template, &probe, err);
		if (!u)
			return AZ_EXIT_USAGE;
		free(u);
	}
	if (check_report && cfg->report_file) {
		const char *path = cfg->report_file, *slash = strrchr(path, '/');
		char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path))
		                  : xstrdup(".");
		struct stat st;
		const char *why = NULL;
		if (!*path || path[strlen(path) - 1] == '/')
			why = "not a file name";
		else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			why = "is a directory";
		else if (stat(dir, &st) != 0)
			why = errno == ENOENT ? "its directory does not exist" : strerror(errno);
		else if (!S_ISDIR(st.st_mode))
			why = "its directory is not a directory";
		else if (access(dir, W_OK | X_OK) != 0)
			why = "its directory is not writable";
		free(dir);
		if (why) {
			*err = xasprintf("report file %s: %s", path, why);
			return AZ_EXIT_USAGE;
		}
	}
	return AZ_EXIT_OK;
}

static void run_tenant(struct pool *pl, size_t i)
{
	const struct tenant *t = &pl->tenants->items[i];
	struct db_outcome *o = &pl->outs[i];
	struct dbconn db;
	char *err = NULL;
	long long t0 = now_ms();
	int rc;

	o->role = "tenant";
	o->slug = xstrdup(t->slug);
	o->database = xstrdup(t->database);
	if (t->invalid) {
		o->exit_code = AZ_EXIT_USAGE;
		o->error = xasprintf("tenant slug '%s' rejected: %s", t->slug, t->invalid);
		log_db(LOG_ERROR, t->database, "%s", o->error);
		return;
	}
	rc = tenant_connect(pl->cfg, t, &db, &err);
	if (rc) {
		o->exit_code = rc;
		o->error = err;
		o->state_after = xstrdup("unreachable");
		log_db(LOG_ERROR, t->database, "%s", err);
		return;
	}
	if (pl->job == JOB_MIGRATE)
		migrate_database_cached(pl->cfg, &db, pl->set, pl->shadow, pl->bs, o);
	else
		status_database(&db, pl->set, o);
	db_close(&db);
	o->duration_ms = now_ms() - t0;
}

static bool is_failure(const struct pool *pl, int code)
{
	if (pl->job == JOB_STATUS)
		return code != AZ_EXIT_OK && code != AZ_EXIT_PENDING;
	return code != AZ_EXIT_OK;
}

static void progress(struct pool *pl)
{
	double secs = (double)(now_ms() - pl->start) / 1000.0;
	fprintf(stderr, "\rtenants %zu/%zu done, %zu failed, %.1f/s ", pl->done, pl->tenants->count,
	        pl->failed, secs > 0 ? (double)pl->done / secs : 0.0);
	if (pl->done == pl->tenants->count)
		fputc('\n', stderr);
	fflush(stderr);
}

static void *worker(void *arg)
{
	struct pool *pl = arg;
	for (;;) {
		size_t i;
		pthread_mutex_lock(&pl->mu);
		if (signals_stop_requested())
			pl->stop = true; /* a signal or the deadline: start no more tenants */
		if (pl->stop || pl->next >= pl->tenants->count) {
			pthread_mutex_unlock(&pl->mu);
			return NULL;
		}
		i = pl->next++;
		pthread_mutex_unlock(&pl->mu);

		run_tenant(pl, i);

		pthread_mutex_lock(&pl->mu);
		pl->done++;
		if (is_failure(pl, pl->outs[i].exit_code)) {
			pl->failed++;
			if (pl->cfg->fail_fast && pl->job == JOB_MIGRATE)
				pl->stop = true;
		}
		if (pl->cfg->progress && pl->job == JOB_MIGRATE)
			progress(pl);
		pthread_mutex_unlock(&pl->mu);
	}
}

/* Runs job over every tenant with at most cfg->concurrency connections. */
void fleet_each(const struct config *cfg, const struct migset *set,
                const struct tenant_list *tenants, enum job job, struct backup_set *bs,
                struct db_outcome *outs)
{
	struct pool pl = {cfg, set, tenants, outs,  job,      bs,  PTHREAD_MUTEX_INITIALIZER,
	                  0,   0,   0,       false, now_ms(), NULL};
	size_t n = (size_t)cfg->concurrency;
	pthread_t *th;
	pthread_attr_t attr;
	size_t started = 0;
	struct shadow_cache shadow;

	shadow_cache_init(&shadow, cfg, set);
	pl.shadow = &shadow;
	if (n > tenants->count)
		n = tenants->count;
	th = xcalloc(n ? n : 1, sizeof *th);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1024 * 1024); /* musl's default is 128 KiB */
	for (size_t i = 0; i < n; i++) {
		if (pthread_create(&th[i], &attr, worker, &pl) != 0) {
			log_warn("could not start worker %zu; continuing with %zu", i + 1, started);
			break;
		}
		started++;
	}
	if (started == 0)
		worker(&pl); /* no threads at all: do the work here */
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_attr_destroy(&attr);
	free(th);
	shadow_cache_free(&shadow);
	/* tenants never scheduled (--fail-fast) */
	for (size_t i = pl.next; i < tenants->count; i++) {
		struct db_outcome *o = &outs[i];
		o->role = "tenant";
		o->slug = xstrdup(tenants->items[i].slug);
		o->database = xstrdup(tenants->items[i].database);
		o->state_after = xstrdup("not attempted");
		if (signals_stop_requested()) {
			o->exit_code = AZ_EXIT_INTERRUPTED;
			o->error = xasprintf("not attempted: stopped by %s", signals_stop_reason());
		} else {
			o->exit_code = AZ_EXIT_TENANTS_FAILED;
			o->error =
			    xstrdup("not attempted: --fail-fast stopped the run after a failure");
		}
	}
}

int fleet_load_sets(const struct config *cfg, struct migset *master, struct migset *tenant,
                    char **err)
{
	int rc = migset_load(cfg, SET_MASTER, master, err);
	if (rc)
		return rc;
	rc = migset_load(cfg, SET_TENANT, tenant, err);
	if (rc)
		migset_free(master);
	return rc;
}

/* Shards other than 0 wait (bounded) until shard 0 has brought master up to date. */
int fleet_wait_for_master(const struct config *cfg, struct dbconn *master, const struct migset *set,
                          char **err)
{
	long long deadline = now_ms() + cfg->wait_timeout_s * 1000LL;
	long delay = 500;
	for (;;) {
		struct plan p;
		char *e = NULL;
		int rc = plan_build(master, set, &p, &e);
		bool ready;
		if (rc) {
			*err = e;
			return rc;
		}
		ready =
		    p.ledger_exists && p.npending == 0 && plan_blocker(&p, true, &e) == AZ_EXIT_OK;
		free(e);
		plan_free(&p);
		if (ready)
			return AZ_EXIT_OK;
		if (signals_stop_requested()) {
			*err = xasprintf("interrupted by %s while waiting for master",
			                 signals_stop_reason());
			return AZ_EXIT_INTERRUPTED;
		}
		if (now_ms() + delay > deadline) {
			*err = xasprintf(
			    "master is not up to date after %lds; shard %ld/%ld waits for shard "
			    "0 to migrate it",
			    cfg->wait_timeout_s, cfg->shard_index, cfg->shard_count);
			return AZ_EXIT_UNREACHABLE;
		}
		log_db(LOG_INFO, master->dbname,
		       "shard %ld/%ld: waiting for master to be up to date", cfg->shard_index,
		       cfg->shard_count);
		sleep_ms(delay);
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
}

int fleet_finish_report(const struct config *cfg, struct report *r)
{
	int rc = report_exit_code(r);
	char *err = NULL;

	r->exit_code = rc;
	if (log_get_format() == LOG_JSON) {
		char *json = report_json(r);
		out_line("%s", json);
		free(json);
	} else if (!cfg->quiet) {
		report_print_table(r);
	}
	if (cfg->report_file && !report_write_file(r, cfg->report_file, &err)) {
		log_error("%s", err);
		free(err);
		if (rc == AZ_EXIT_OK)
			rc = AZ_EXIT_INTERNAL;
	}
	if (cfg->termination_log)
		report_termination(r, cfg->termination_log);
	return rc;
}
