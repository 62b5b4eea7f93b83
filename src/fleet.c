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

enum job { JOB_MIGRATE, JOB_STATUS };

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
static int preflight(const struct config *cfg, bool check_report, char **err)
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
		log_at(LOG_ERROR, &(struct log_ctx){t->database, NULL, -1}, "%s", o->error);
		return;
	}
	rc = tenant_connect(pl->cfg, t, &db, &err);
	if (rc) {
		o->exit_code = rc;
		o->error = err;
		o->state_after = xstrdup("unreachable");
		log_at(LOG_ERROR, &(struct log_ctx){t->database, NULL, -1}, "%s", err);
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
static void run_pool(const struct config *cfg, const struct migset *set,
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

static int load_sets(const struct config *cfg, struct migset *master, struct migset *tenant,
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
static int wait_for_master(const struct config *cfg, struct dbconn *master,
                           const struct migset *set, char **err)
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
		log_at(LOG_INFO, &(struct log_ctx){master->dbname, NULL, -1},
		       "shard %ld/%ld: waiting for master to be up to date", cfg->shard_index,
		       cfg->shard_count);
		sleep_ms(delay);
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
}

static int finish_report(const struct config *cfg, struct report *r)
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

int fleet_run(const struct config *cfg)
{
	struct migset mset, tset;
	struct report r;
	struct dbconn master;
	struct tenant_list tl = {0};
	struct db_outcome *mo;
	struct backup_set *bs = NULL;
	char *err = NULL;
	int rc;

	report_init(&r, "run");
	rc = preflight(cfg, true, &err);
	if (!rc)
		rc = load_sets(cfg, &mset, &tset, &err);
	if (rc) {
		log_error("%s", err);
		free(err);
		report_free(&r);
		return rc;
	}
	warn_if_no_backup(cfg);
	if (cfg->backup_mode != BACKUP_NEVER && !cfg->dry_run)
		bs = backup_set_new(cfg);
	mo = report_add(&r);
	mo->role = "master";
	rc = db_connect(cfg, cfg->database_url, NULL, !cfg->dry_run, &master, &err);
	if (rc) {
		mo->exit_code = rc;
		mo->error = err;
		mo->state_after = xstrdup("unreachable");
		log_error("master: %s", err);
		goto out;
	}
	log_at(LOG_INFO, &(struct log_ctx){master.dbname, NULL, -1}, "connected to master %s",
	       master.where);
	if (cfg->shard_index == 0) {
		rc = migrate_database(cfg, &master, &mset, bs, mo);
	} else {
		mo->database = xstrdup(master.dbname);
		rc = wait_for_master(cfg, &master, &mset, &err);
		mo->state_before = xstrdup(rc ? "behind" : "up to date");
		mo->state_after = xstrdup(mo->state_before);
		if (rc) {
			mo->exit_code = rc;
			mo->error = err;
			log_error("%s", err);
		}
	}
	if (rc) {
		db_close(&master);
		goto out; /* no tenant is touched while master is not up to date */
	}
	if (signals_stop_requested()) {
		/* master is done; the tenants wait for the next run */
		struct db_outcome *to = report_add(&r);
		db_close(&master);
		to->role = "tenant";
		to->database = xstrdup("(tenants)");
		to->state_after = xstrdup("not attempted");
		to->exit_code = AZ_EXIT_INTERRUPTED;
		to->error = xasprintf("no tenant was started: stopped by %s after master",
		                      signals_stop_reason());
		log_warn("%s", to->error);
		goto out;
	}
	rc = tenants_discover(cfg, &master, &tl, &err);
	db_close(&master); /* tenants use at most --concurrency connections */
	if (rc) {
		mo->exit_code = rc;
		mo->error = err;
		log_error("%s", err);
		goto out;
	}
	tenants_shard(&tl, cfg->shard_index, cfg->shard_count);
	log_info("%zu tenant%s from %s%s", tl.count, tl.count == 1 ? "" : "s", tl.source,
	         cfg->shard_count > 1 ? " in this shard" : "");
	if (tl.count) {
		struct db_outcome *outs = xcalloc(tl.count, sizeof *outs);
		run_pool(cfg, &tset, &tl, JOB_MIGRATE, bs, outs);
		for (size_t i = 0; i < tl.count; i++)
			*report_add(&r) = outs[i];
		free(outs);
	}
out:
	backup_set_close(bs);
	rc = finish_report(cfg, &r);
	tenants_free(&tl);
	report_free(&r);
	migset_free(&mset);
	migset_free(&tset);
	return rc;
}

static void print_status_line(const struct db_outcome *o, size_t total)
{
	if (log_get_format() == LOG_JSON)
		return; /* the JSON report carries everything */
	if (o->state_before)
		out_line("%-32s %-7s %-14s applied %zu/%zu  pending %zu  failed %zu  drift %zu",
		         o->database, o->role, o->state_before, o->applied_before, total,
		         o->pending_before, o->nfailed, o->ndrifted);
	else
		out_line("%-32s %-7s %-14s %s", o->database, o->role, "error",
		         o->error ? o->error : "");
	if (o->detail && *o->detail)
		out_line("    %s", o->detail);
}

int fleet_status(const struct config *cfg, bool list_only)
{
	struct migset mset, tset;
	struct report r;
	struct dbconn master;
	struct tenant_list tl = {0};
	struct db_outcome *mo;
	char *err = NULL;
	int rc, worst_err = 0;
	bool any8 = false, any11 = false;

	report_init(&r, list_only ? "tenants" : "status");
	rc = preflight(cfg, false, &err);
	if (!rc)
		rc = load_sets(cfg, &mset, &tset, &err);
	if (rc) {
		log_error("%s", err);
		free(err);
		report_free(&r);
		return rc;
	}
	rc = db_connect(cfg, cfg->database_url, NULL, false, &master, &err);
	if (rc) {
		log_error("master: %s", err);
		free(err);
		goto done;
	}
	mo = report_add(&r);
	mo->role = "master";
	mo->database = xstrdup(master.dbname);
	status_database(&master, &mset, mo);
	rc = tenants_discover(cfg, &master, &tl, &err);
	db_close(&master);
	if (rc) {
		log_error("%s", err);
		free(err);
		goto done;
	}
	tenants_shard(&tl, cfg->shard_index, cfg->shard_count);
	if (tl.count) {
		struct db_outcome *outs = xcalloc(tl.count, sizeof *outs);
		run_pool(cfg, &tset, &tl, JOB_STATUS, NULL, outs);
		for (size_t i = 0; i < tl.count; i++)
			*report_add(&r) = outs[i];
		free(outs);
	}
	for (size_t i = 0; i < r.count; i++) {
		const struct db_outcome *o = &r.dbs[i];
		size_t total = str_eq(o->role, "master") ? mset.count : tset.count;
		if (list_only && i == 0)
			continue;
		if (list_only && log_get_format() != LOG_JSON)
			out_line("%-24s %-32s %s%s%s", o->slug, o->database,
			         o->state_before ? o->state_before : "error", o->error ? ": " : "",
			         o->error ? o->error : "");
		else
			print_status_line(o, total);
		if (o->exit_code == AZ_EXIT_NEEDS_ACTION)
			any8 = true;
		else if (o->exit_code == AZ_EXIT_PENDING)
			any11 = true;
		else if (o->exit_code && !worst_err)
			worst_err = o->exit_code;
	}
	if (log_get_format() == LOG_JSON) {
		char *json = report_json(&r);
		out_line("%s", json);
		free(json);
	} else if (!list_only) {
		out_line("%zu database%s (%zu tenant%s from %s)", r.count, r.count == 1 ? "" : "s",
		         tl.count, tl.count == 1 ? "" : "s", tl.source);
	}
	rc = worst_err ? worst_err
	     : any8    ? AZ_EXIT_NEEDS_ACTION
	     : any11   ? AZ_EXIT_PENDING
	               : AZ_EXIT_OK;
	if (rc == AZ_EXIT_OK && !list_only && log_get_format() != LOG_JSON)
		out_line("Database schema is up to date!");
	if (list_only && rc == AZ_EXIT_PENDING)
		rc = AZ_EXIT_OK; /* listing tenants is not a status check */
done:
	tenants_free(&tl);
	report_free(&r);
	migset_free(&mset);
	migset_free(&tset);
	return rc;
}

int fleet_tenant_create(const struct config *cfg)
{
	struct migset set;
	struct dbconn master, db;
	struct tenant t = {cfg->new_tenant, NULL, NULL};
	struct db_outcome out = {0};
	const char *why = tenant_slug_problem(cfg->new_tenant, cfg->tenant_prefix);
	const char *params[1];
	PGresult *res;
	char *err = NULL, *q, *sql;
	int rc;

	if (why) {
		log_error("tenant create: slug '%s' rejected: %s", cfg->new_tenant, why);
		return AZ_EXIT_USAGE;
	}
	if (preflight(cfg, false, &err)) {
		log_error("%s", err);
		free(err);
		return AZ_EXIT_USAGE;
	}
	t.database = xasprintf("%s%s", cfg->tenant_prefix, cfg->new_tenant);
	rc = migset_load(cfg, SET_TENANT, &set, &err);
	if (rc)
		goto fail;
	rc = db_connect(cfg, cfg->database_url, NULL, false, &master, &err);
	if (rc) {
		migset_free(&set);
		goto fail;
	}
	params[0] = t.database;
	res = db_query(&master, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", 1,
	               params, PGRES_TUPLES_OK, &err);
	rc = res ? AZ_EXIT_OK : AZ_EXIT_INTERNAL;
	if (res && PQntuples(res) == 0) {
		q = PQescapeIdentifier(master.pg, t.database, strlen(t.database));
		if (!q) {
			err = xasprintf("cannot quote \"%s\"", t.database);
			rc = AZ_EXIT_INTERNAL;
		} else {
			sql = xasprintf("CREATE DATABASE %s", q);
			PQfreemem(q);
			if (!db_command(&master, sql, 0, NULL, &err))
				rc = strstr(err, "42P04") ? AZ_EXIT_OK : AZ_EXIT_AUTH;
			else
				log_info("created database \"%s\" for tenant %s", t.database,
				         t.slug);
			free(sql);
		}
	} else if (res) {
		log_info("database \"%s\" exists; bringing it up to date", t.database);
	}
	PQclear(res);
	db_close(&master);
	if (rc) {
		migset_free(&set);
		goto fail;
	}
	free(err);
	err = NULL;
	rc = tenant_connect(cfg, &t, &db, &err);
	if (rc) {
		migset_free(&set);
		goto fail;
	}
	out.role = "tenant";
	warn_if_no_backup(cfg);
	{
		struct backup_set *bs =
		    cfg->backup_mode != BACKUP_NEVER ? backup_set_new(cfg) : NULL;
		rc = migrate_database(cfg, &db, &set, bs, &out);
		backup_set_close(bs);
	}
	outcome_free(&out);
	db_close(&db);
	migset_free(&set);
	free(t.database);
	return rc;
fail:
	log_error("tenant create %s: %s", cfg->new_tenant, err ? err : "failed");
	free(err);
	free(t.database);
	return rc;
}
