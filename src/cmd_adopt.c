/*
 * cmd_adopt.c - `auzdb adopt` and `auzdb verify`.
 *
 * Flags and variables:
 *   adopt    --database-url, --set, --migrations DIR, --adopt-up-to NAME, --dry-run,
 *            --lock-timeout, AUZDB_SHADOW_DATABASE_URL, backup options
 *   verify   the fleet (as run), or with --set one database; --report FILE,
 *            AUZDB_SHADOW_DATABASE_URL
 */
#define _POSIX_C_SOURCE 200809L
#include "cmd_adopt.h"

#include "adopt.h"
#include "exitcodes.h"
#include "fingerprint.h"
#include "fleet.h"
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "signals.h"
#include "tenants.h"
#include "workflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- auzdb adopt ------------------------------------------------------ */

int cmd_adopt(const struct config *cfg)
{
	struct migset set;
	struct dbconn db;
	struct shadow_cache cache;
	struct db_outcome out = {0};
	size_t recorded = 0;
	char *err = NULL;
	int rc;

	rc = migset_load(cfg, cfg->set, &set, &err);
	if (rc)
		return log_fail(rc, NULL, err);
	if (cfg->adopt_up_to && !migset_find(&set, cfg->adopt_up_to)) {
		err = xasprintf("--adopt-up-to %s: no such migration in %s", cfg->adopt_up_to,
		                set.source);
		migset_free(&set);
		return log_fail(AZ_EXIT_USAGE, NULL, err);
	}
	rc = connect_with_set(cfg, &set, false, &db);
	if (rc)
		return rc;
	shadow_cache_init(&cache, cfg, &set);
	rc = db_lock(&db, cfg->lock_timeout_s, &err);
	if (!rc) {
		rc = adopt_locked(cfg, &db, &set, &cache, cfg->dry_run ? ADOPT_DRY : ADOPT_RECORD,
		                  &recorded, &err);
		db_unlock(&db);
	}
	if (rc) {
		rc = log_fail(rc, db.dbname, err);
	} else if (!cfg->dry_run) {
		/* the rest, the normal way: backup first when something is pending */
		struct backup_set *bs =
		    cfg->backup_mode != BACKUP_NEVER ? backup_set_new(cfg) : NULL;
		warn_if_no_backup(cfg);
		rc = migrate_database_cached(cfg, &db, &set, &cache, bs, &out);
		backup_set_close(bs);
		outcome_free(&out);
	}
	shadow_cache_free(&cache);
	db_close(&db);
	migset_free(&set);
	return rc;
}

/* ---- auzdb verify ----------------------------------------------------- */

struct verified {
	char *database;
	const char *role;
	char *slug;
	size_t applied; /* the ledger's prefix the schema is compared with */
	size_t total;
	char **diff;
	size_t ndiff;
	char *note; /* ledger remarks (holes, unknown rows), or NULL */
	int exit_code;
	char *error;
};

static void verify_one(struct dbconn *db, const struct migset *set, struct shadow_cache *cache,
                       struct verified *v)
{
	const struct fingerprint *exp;
	struct fingerprint live;
	struct ledger l;
	struct strbuf note;
	size_t nexp, k = 0;
	char *err = NULL;
	int rc;

	v->total = set->count;
	rc = ledger_load(db, &l, &err);
	if (rc) {
		v->exit_code = rc;
		v->error = err;
		return;
	}
	sb_init(&note);
	for (size_t i = 0; i < set->count; i++)
		if (ledger_is_applied(&l, set->items[i].name))
			k = i + 1;
	for (size_t i = 0; i < k; i++)
		if (!ledger_is_applied(&l, set->items[i].name))
			sb_addf(&note, "%s%s is not recorded although later ones are",
			        note.len ? "; " : "", set->items[i].name);
	for (size_t i = 0; i < l.count; i++)
		if (ledger_row_failed(&l.rows[i]))
			sb_addf(&note, "%sfailed row: %s", note.len ? "; " : "",
			        l.rows[i].migration_name);
		else if (!l.rows[i].rolled_back_at && !migset_find(set, l.rows[i].migration_name))
			sb_addf(&note, "%s%s is recorded but not in %s", note.len ? "; " : "",
			        l.rows[i].migration_name, set->source);
	if (!l.exists)
		sb_addf(&note, "%sno _prisma_migrations ledger", note.len ? "; " : "");
	ledger_free(&l);
	v->applied = k;
	v->note = note.len ? sb_detach(&note) : NULL;
	sb_free(&note);
	rc = fingerprint_take(db, &live, &err);
	if (!rc)
		rc = shadow_expected(cache, db, k + 1, &exp, &nexp, &err);
	else
		memset(&live, 0, sizeof live);
	if (rc) {
		fingerprint_free(&live);
		v->exit_code = rc;
		v->error = err;
		return;
	}
	v->ndiff = fingerprint_diff_lines(&exp[k], &live, &v->diff);
	fingerprint_free(&live);
	v->exit_code = v->ndiff ? AZ_EXIT_NEEDS_ACTION : AZ_EXIT_OK;
}

static void verified_free(struct verified *v)
{
	free(v->database);
	free(v->slug);
	strv_free(v->diff, v->ndiff);
	free(v->note);
	free(v->error);
}

static char *verify_json(const struct verified *v, size_t n, int code, long long ms)
{
	struct json j;
	json_init(&j);
	json_object(&j, NULL);
	json_string(&j, "command", "verify");
	json_int(&j, "duration_ms", ms);
	json_int(&j, "exit_code", code);
	json_string(&j, "result", az_exit_name(code));
	json_array(&j, "databases");
	for (size_t i = 0; i < n; i++) {
		json_object(&j, NULL);
		json_string(&j, "name", v[i].database);
		json_string(&j, "role", v[i].role);
		json_string(&j, "slug", v[i].slug);
		json_uint(&j, "applied", v[i].applied);
		json_uint(&j, "migrations", v[i].total);
		json_string(&j, "state", v[i].error ? "error" : v[i].ndiff ? "drift" : "identical");
		json_strings(&j, "differences", v[i].diff, v[i].ndiff);
		json_string(&j, "note", v[i].note);
		json_int(&j, "exit_code", v[i].exit_code);
		json_string(&j, "error", v[i].error);
		json_end(&j);
	}
	json_end(&j);
	json_end(&j);
	return json_finish(&j);
}

static void print_verified(const struct verified *v)
{
	if (v->error)
		out_line("%-32s %-7s error: %s", v->database, v->role, v->error);
	else if (!v->ndiff)
		out_line("%-32s %-7s identical to the schema of its %zu applied migration%s",
		         v->database, v->role, v->applied, v->applied == 1 ? "" : "s");
	else
		out_line("%-32s %-7s drift: %zu difference%s from the schema of its %zu applied "
		         "migration%s",
		         v->database, v->role, v->ndiff, v->ndiff == 1 ? "" : "s", v->applied,
		         v->applied == 1 ? "" : "s");
	for (size_t i = 0; i < v->ndiff; i++)
		out_line("    %s", v->diff[i]);
	if (v->note)
		out_line("    note: %s", v->note);
}

/* verify over the tenants, through fleet_each: slot i of vs is tenant i's */
struct verify_job {
	const struct tenant_list *tenants;
	const struct migset *set;
	struct shadow_cache *cache;
	struct verified *vs;
};

static void verify_start(struct verify_job *vj, size_t i)
{
	struct verified *t = &vj->vs[i];
	t->database = xstrdup(vj->tenants->items[i].database);
	t->slug = xstrdup(vj->tenants->items[i].slug);
	t->role = "tenant";
	t->total = vj->set->count;
}

static void verify_tenant(void *arg, size_t i, struct dbconn *db, long long t0)
{
	struct verify_job *vj = arg;
	(void)t0;
	verify_start(vj, i);
	verify_one(db, vj->set, vj->cache, &vj->vs[i]);
}

static void verify_not_run(void *arg, size_t i, int rc, char *err, const char *state)
{
	struct verify_job *vj = arg;
	(void)state;
	verify_start(vj, i);
	vj->vs[i].exit_code = rc;
	vj->vs[i].error = err;
}

static bool verify_failed(void *arg, size_t i)
{
	const struct verify_job *vj = arg;
	return vj->vs[i].exit_code != AZ_EXIT_OK;
}

int cmd_verify(const struct config *cfg)
{
	struct migset mset = {0}, tset = {0};
	struct shadow_cache mcache, tcache;
	struct tenant_list tl = {0};
	struct dbconn master;
	struct verified *v = NULL;
	size_t n = 0;
	long long t0 = now_ms();
	char *err = NULL;
	int rc, code = AZ_EXIT_OK;
	bool drift = false;
	enum migration_set_kind mkind = cfg->set_given ? cfg->set : SET_MASTER;

	rc = migset_load(cfg, mkind, &mset, &err);
	if (!rc && !cfg->set_given)
		rc = migset_load(cfg, SET_TENANT, &tset, &err);
	if (rc) {
		migset_free(&mset);
		return log_fail(rc, NULL, err);
	}
	shadow_cache_init(&mcache, cfg, &mset);
	shadow_cache_init(&tcache, cfg, &tset);
	rc = db_connect(cfg, cfg->database_url, NULL, false, &master, &err);
	if (rc) {
		code = log_fail(rc, NULL, err);
		goto done;
	}
	v = xcalloc(1, sizeof *v);
	v[0].database = xstrdup(master.dbname);
	v[0].role = cfg->set_given && cfg->set == SET_TENANT ? "tenant" : "master";
	verify_one(&master, &mset, &mcache, &v[0]);
	n = 1;
	if (!cfg->set_given) {
		rc = tenants_discover(cfg, &master, &tl, &err);
		if (rc) {
			log_error("%s", err);
			free(err);
			err = NULL;
			code = rc;
		} else {
			tenants_shard(&tl, cfg->shard_index, cfg->shard_count);
		}
	}
	db_close(&master);
	v = xrealloc(v, (1 + tl.count) * sizeof *v);
	memset(v + 1, 0, tl.count * sizeof *v);
	if (tl.count) {
		struct verify_job vj = {&tl, &tset, &tcache, v + 1};
		struct fleet_job fj = {.cfg = cfg,
		                       .tenants = &tl,
		                       .one = verify_tenant,
		                       .not_run = verify_not_run,
		                       .failed = verify_failed,
		                       .arg = &vj};
		fleet_each(&fj);
		n += tl.count;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].exit_code == AZ_EXIT_NEEDS_ACTION)
			drift = true;
		else if (v[i].exit_code && !code)
			code = v[i].exit_code;
		if (log_get_format() != LOG_JSON)
			print_verified(&v[i]);
		for (size_t k = 0; k < v[i].ndiff; k++)
			log_db(LOG_DEBUG, v[i].database, "drift: %s", v[i].diff[k]);
	}
	if (!code && drift)
		code = AZ_EXIT_NEEDS_ACTION;
	{
		char *json = verify_json(v, n, code, now_ms() - t0);
		if (log_get_format() == LOG_JSON)
			out_line("%s", json);
		else if (code == AZ_EXIT_OK)
			out_line(
			    "%zu database%s verified: every schema is what its migrations make", n,
			    n == 1 ? "" : "s");
		if (cfg->report_file &&
		    !write_file_atomic(cfg->report_file, json, strlen(json), 0600, &err)) {
			log_error("%s", err);
			free(err);
			if (!code)
				code = AZ_EXIT_INTERNAL;
		}
		free(json);
	}
done:
	for (size_t i = 0; i < n; i++)
		verified_free(&v[i]);
	free(v);
	tenants_free(&tl);
	shadow_cache_free(&mcache);
	shadow_cache_free(&tcache);
	migset_free(&mset);
	migset_free(&tset);
	return code;
}
