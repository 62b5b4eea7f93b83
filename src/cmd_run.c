/*
 * cmd_run.c - the fleet commands: `auzdb run`, `status`, `tenants`, `tenant create`.
 *
 * Flags and variables:
 *   run            master URL (MASTER_DATABASE_URL/DATABASE_URL/--database-url), tenant
 *                  discovery (AUZDB_TENANTS, AUZDB_TENANT_QUERY, AUZDB_TENANT_PREFIX,
 *                  AUZDB_TENANT_URL_TEMPLATE), --concurrency, --fail-fast, --shard I/N,
 *                  --report FILE, AUZDB_TERMINATION_LOG, --dry-run, backup options
 *   status         as run (read-only); with --set, one database (--database-url)
 *   tenants        tenant discovery only
 *   tenant create  SLUG: creates and migrates one tenant database
 */
#define _POSIX_C_SOURCE 200809L
#include "cmd_run.h"

#include "exitcodes.h"
#include "fleet.h"
#include "json.h"
#include "log.h"
#include "migset.h"
#include "report.h"
#include "signals.h"
#include "tenants.h"
#include "workflow.h"

#include <stdlib.h>
#include <string.h>

static void print_list(const char *dbname, const char *what, char **names, size_t n)
{
	struct strbuf sb;
	if (!n)
		return;
	sb_init(&sb);
	for (size_t i = 0; i < n; i++)
		sb_addf(&sb, "%s%s", i ? ", " : "", names[i]);
	out_line("  %s %s: %s", dbname, what, sb.buf);
	sb_free(&sb);
}

int cmd_status_one(const struct config *cfg)
{
	struct migset set;
	struct dbconn db;
	struct plan p;
	char *err = NULL, *state;
	char **pending;
	int rc;

	rc = migset_load(cfg, cfg->set, &set, &err);
	if (rc)
		return log_fail(rc, NULL, err);
	rc = connect_with_set(cfg, &set, false, &db);
	if (rc)
		return rc;
	rc = plan_build(&db, &set, &p, &err);
	if (rc) {
		rc = log_fail(rc, db.dbname, err);
		db_close(&db);
		migset_free(&set);
		return rc;
	}
	state = plan_state(&p);
	pending = xcalloc(p.npending ? p.npending : 1, sizeof *pending);
	for (size_t i = 0; i < p.npending; i++)
		pending[i] = set.items[p.pending[i]].name;

	rc = plan_blocker(&p, false, &err);
	if (rc == AZ_EXIT_OK && p.npending)
		rc = AZ_EXIT_PENDING;

	if (log_get_format() == LOG_JSON) {
		struct json j;
		char *doc;
		json_init(&j);
		json_object(&j, NULL);
		json_string(&j, "database", db.dbname);
		json_string(&j, "set", set_kind_name(set.kind));
		json_string(&j, "state", state);
		json_bool(&j, "ledger", p.ledger_exists);
		json_uint(&j, "applied", p.applied);
		json_uint(&j, "pending_count", p.npending);
		json_strings(&j, "pending", pending, p.npending);
		json_strings(&j, "failed", p.failed, p.nfailed);
		json_strings(&j, "checksum_drift", p.drifted, p.ndrifted);
		json_strings(&j, "not_found_locally", p.unknown, p.nunknown);
		json_int(&j, "exit_code", rc);
		json_end(&j);
		doc = json_finish(&j);
		out_line("%s", doc);
		free(doc);
	} else {
		out_line("%-24s %-7s %-14s applied %zu/%zu  pending %zu  failed %zu  drift %zu",
		         db.dbname, set_kind_name(set.kind), state, p.applied, set.count,
		         p.npending, p.nfailed, p.ndrifted);
		print_list(db.dbname, "pending", pending, p.npending);
		print_list(db.dbname, "failed", p.failed, p.nfailed);
		print_list(db.dbname, "checksum drift", p.drifted, p.ndrifted);
		print_list(db.dbname, "not found locally", p.unknown, p.nunknown);
		if (rc == AZ_EXIT_OK)
			out_line("Database schema is up to date!");
	}
	if (err) {
		log_db(LOG_WARN, db.dbname, "%s", err);
		free(err);
	}
	free(pending);
	free(state);
	plan_free(&p);
	db_close(&db);
	migset_free(&set);
	return rc;
}

int cmd_run(const struct config *cfg)
{
	struct migset mset, tset;
	struct report r;
	struct dbconn master;
	struct tenant_list tl = {0};
	struct db_outcome *mo;
	struct backup_set *bs = NULL;
	char *err = NULL;
	int rc;

	rc = fleet_prepare(cfg, true, &mset, &tset);
	if (rc)
		return rc;
	report_init(&r, "run");
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
	log_db(LOG_INFO, master.dbname, "connected to master %s", master.where);
	if (cfg->shard_index == 0) {
		rc = migrate_database(cfg, &master, &mset, bs, mo);
	} else {
		mo->database = xstrdup(master.dbname);
		rc = fleet_wait_for_master(cfg, &master, &mset, &err);
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
		fleet_outcomes(cfg, &tset, &tl, JOB_MIGRATE, bs, outs);
		for (size_t i = 0; i < tl.count; i++)
			*report_add(&r) = outs[i];
		free(outs);
	}
out:
	backup_set_close(bs);
	rc = fleet_finish_report(cfg, &r);
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

int cmd_fleet_status(const struct config *cfg, bool list_only)
{
	struct migset mset, tset;
	struct report r;
	struct dbconn master;
	struct tenant_list tl = {0};
	struct db_outcome *mo;
	char *err = NULL;
	int rc, worst_err = 0;
	bool any8 = false, any11 = false;

	rc = fleet_prepare(cfg, false, &mset, &tset);
	if (rc)
		return rc;
	report_init(&r, list_only ? "tenants" : "status");
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
		fleet_outcomes(cfg, &tset, &tl, JOB_STATUS, NULL, outs);
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

int cmd_tenant_create(const struct config *cfg)
{
	struct migset set;
	struct dbconn master, db;
	struct tenant t = {cfg->new_tenant, NULL, NULL};
	struct db_outcome out = {0};
	const char *why = tenant_slug_problem(cfg->new_tenant, cfg->tenant_prefix);
	const char *params[1];
	PGresult *res;
	char *err = NULL;
	int rc;

	if (why) {
		log_error("tenant create: slug '%s' rejected: %s", cfg->new_tenant, why);
		return AZ_EXIT_USAGE;
	}
	if (fleet_preflight(cfg, false, &err)) {
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
	rc = res ? AZ_EXIT_OK : db_error_exit(&master, AZ_EXIT_INTERNAL);
	if (res && PQntuples(res) == 0) {
		bool created;
		rc = db_create_database(&master, t.database, "", true, &created, &err);
		if (!rc && created)
			log_info("created database \"%s\" for tenant %s", t.database, t.slug);
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
