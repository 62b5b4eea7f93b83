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
	const struct fleet_job *job;
	pthread_mutex_t mu;
	size_t next, done, failed;
	bool stop;
	long long start;
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

/* Connects tenant i and hands it to the job, or tells the job why it could not. */
static void run_tenant(struct pool *pl, size_t i)
{
	const struct fleet_job *job = pl->job;
	const struct tenant *t = &job->tenants->items[i];
	struct dbconn db;
	char *err = NULL;
	long long t0 = now_ms();
	int rc;

	if (t->invalid) {
		err = xasprintf("tenant slug '%s' rejected: %s", t->slug, t->invalid);
		log_db(LOG_ERROR, t->database, "%s", err);
		job->not_run(job->arg, i, AZ_EXIT_USAGE, err, NULL);
		return;
	}
	rc = tenant_connect(job->cfg, t, &db, &err);
	if (rc) {
		log_db(LOG_ERROR, t->database, "%s", err);
		job->not_run(job->arg, i, rc, err, "unreachable");
		return;
	}
	job->one(job->arg, i, &db, t0);
	db_close(&db);
}

static void progress(struct pool *pl)
{
	size_t total = pl->job->tenants->count;
	double secs = (double)(now_ms() - pl->start) / 1000.0;
	fprintf(stderr, "\rtenants %zu/%zu done, %zu failed, %.1f/s ", pl->done, total, pl->failed,
	        secs > 0 ? (double)pl->done / secs : 0.0);
	if (pl->done == total)
		fputc('\n', stderr);
	fflush(stderr);
}

static void *worker(void *arg)
{
	struct pool *pl = arg;
	const struct fleet_job *job = pl->job;
	for (;;) {
		size_t i;
		pthread_mutex_lock(&pl->mu);
		if (signals_stop_requested())
			pl->stop = true; /* a signal or the deadline: start no more tenants */
		if (pl->stop || pl->next >= job->tenants->count) {
			pthread_mutex_unlock(&pl->mu);
			return NULL;
		}
		i = pl->next++;
		pthread_mutex_unlock(&pl->mu);

		run_tenant(pl, i);

		pthread_mutex_lock(&pl->mu);
		pl->done++;
		if (job->failed(job->arg, i)) {
			pl->failed++;
			if (job->fail_fast)
				pl->stop = true;
		}
		if (job->progress)
			progress(pl);
		pthread_mutex_unlock(&pl->mu);
	}
}

void fleet_each(const struct fleet_job *job)
{
	struct pool pl = {job, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, false, now_ms()};
	size_t n = (size_t)job->cfg->concurrency, count = job->tenants->count;
	pthread_t *th;
	pthread_attr_t attr;
	size_t started = 0;

	if (n > count)
		n = count;
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
	/* tenants never started (--fail-fast, a stop) */
	for (size_t i = pl.next; i < count; i++) {
		if (signals_stop_requested())
			job->not_run(
			    job->arg, i, AZ_EXIT_INTERRUPTED,
			    xasprintf("not attempted: stopped by %s", signals_stop_reason()),
			    "not attempted");
		else
			job->not_run(job->arg, i, AZ_EXIT_TENANTS_FAILED,
			             xstrdup("not attempted: --fail-fast stopped the run after a "
			                     "failure"),
			             "not attempted");
	}
}

/* ---- migrate or status over the tenants, into db_outcomes ------------------ */

struct outcomes {
	const struct config *cfg;
	const struct migset *set;
	const struct tenant_list *tenants;
	struct db_outcome *outs;
	enum job job;
	struct backup_set *bs;
	struct shadow_cache *shadow;
};

static void outcome_start(struct outcomes *oc, size_t i)
{
	struct db_outcome *o = &oc->outs[i];
	o->role = "tenant";
	o->slug = xstrdup(oc->tenants->items[i].slug);
	o->database = xstrdup(oc->tenants->items[i].database);
}

static void outcome_one(void *arg, size_t i, struct dbconn *db, long long t0)
{
	struct outcomes *oc = arg;
	struct db_outcome *o = &oc->outs[i];

	outcome_start(oc, i);
	if (oc->job == JOB_MIGRATE)
		migrate_database_cached(oc->cfg, db, oc->set, oc->shadow, oc->bs, o);
	else
		status_database(db, oc->set, o);
	o->duration_ms = now_ms() - t0;
}

static void outcome_not_run(void *arg, size_t i, int rc, char *err, const char *state)
{
	struct outcomes *oc = arg;
	struct db_outcome *o = &oc->outs[i];

	outcome_start(oc, i);
	o->exit_code = rc;
	o->error = err;
	if (state)
		o->state_after = xstrdup(state);
}

static bool outcome_failed(void *arg, size_t i)
{
	const struct outcomes *oc = arg;
	int code = oc->outs[i].exit_code;
	if (oc->job == JOB_STATUS)
		return code != AZ_EXIT_OK && code != AZ_EXIT_PENDING;
	return code != AZ_EXIT_OK;
}

void fleet_outcomes(const struct config *cfg, const struct migset *set,
                    const struct tenant_list *tenants, enum job job, struct backup_set *bs,
                    struct db_outcome *outs)
{
	struct shadow_cache shadow;
	struct outcomes oc = {cfg, set, tenants, outs, job, bs, &shadow};
	struct fleet_job fj = {
	    .cfg = cfg,
	    .tenants = tenants,
	    .one = outcome_one,
	    .not_run = outcome_not_run,
	    .failed = outcome_failed,
	    .arg = &oc,
	    .fail_fast = cfg->fail_fast && job == JOB_MIGRATE,
	    .progress = cfg->progress && job == JOB_MIGRATE,
	};

	shadow_cache_init(&shadow, cfg, set);
	fleet_each(&fj);
	shadow_cache_free(&shadow);
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

int fleet_prepare(const struct config *cfg, bool check_report, struct migset *master,
                  struct migset *tenant)
{
	char *err = NULL;
	int rc = fleet_preflight(cfg, check_report, &err);
	if (!rc)
		rc = fleet_load_sets(cfg, master, tenant, &err);
	if (rc) {
		log_error("%s", err);
		free(err);
	}
	return rc;
}
