/*
 * cmd_reset.c - see cmd_reset.h.  The shape of a PostgreSQL client program:
 * reset_run (options, guards, connect, report) -> reset_database (lock,
 * backup, pick the way) -> reset_in_one_txn or reset_stepwise.
 *
 * What `auzdb reset` and `auzdb resync` take (config.c parses them; a flag
 * overrides its variable):
 *   --force and AUZDB_ALLOW_RESET=delete-all-data
 *                         both required (cfg->force, cfg->allow_reset), else
 *                         exit 2 before any connection
 *   --database-url URL (--database URL), MASTER_DATABASE_URL, DATABASE_URL
 *                         (or their *_FILE): the database; its ?schema= is
 *                         the schema emptied (default public)
 *   --set master|tenant   the URL's database's migration set (default master)
 *   --tenant SLUG         instead, that one tenant (AUZDB_TENANT_DB_PREFIX +
 *                         SLUG, through AUZDB_TENANT_URL_TEMPLATE when set)
 *                         with the tenant set; one at a time, and --set, if
 *                         given, must be tenant.  AUZDB_TENANTS is ignored.
 *   --migrations DIR, --master-migrations DIR, --tenant-migrations DIR
 *                         (AUZDB_MIGRATIONS_DIR, AUZDB_MASTER_MIGRATIONS_DIR,
 *                         AUZDB_TENANT_MIGRATIONS_DIR): the set, loaded and
 *                         checked before any connection
 *   --lock-timeout SEC    AUZDB_LOCK_TIMEOUT: the migration lock, and the
 *                         backup's table locks
 *   --wait-timeout SEC    AUZDB_WAIT_TIMEOUT, AUZDB_CONNECT_TIMEOUT: connecting
 *   AUZDB_STATEMENT_TIMEOUT, AUZDB_DDL_LOCK_TIMEOUT
 *                         per migration, when they run one transaction each
 *   --backup-dir DIR, --compress-level 0-9, --with-owners
 *                         (AUZDB_BACKUP_DIR, AUZDB_BACKUP_COMPRESSION,
 *                         AUZDB_BACKUP_OWNERS), AUZDB_BACKUP_KEEP: the backup
 *                         that always comes first (AUZDB_BACKUP=never and
 *                         --skip-backup are refused by config.c)
 *   --report FILE         the JSON report, written 0600 through a temp file
 *   --log-format json     AUZDB_LOG_FORMAT: the report is also the last line
 *                         on standard output
 *   -v / -q               as everywhere
 */
#define _POSIX_C_SOURCE 200809L
#include "cmd_reset.h"

#include "apply.h"
#include "backup.h"
#include "conn.h"
#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "migset.h"
#include "reset.h"
#include "resync.h"
#include "signals.h"
#include "tenants.h"
#include "workflow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One reset or resync: what its steps share, and what the report says. */
struct run {
	const struct config *cfg;
	bool resync;
	const char *cmd; /* "reset" or "resync" */
	enum migration_set_kind kind;
	struct migset set;
	struct dbconn db;
	char *file; /* the backup taken first */
	char *err;
	const char *result; /* "unchanged", "done", "rolled back", ... */
	bool transactional; /* drop, migrations and reload in one transaction */
	size_t applied;
	struct strbuf data; /* resync's fields of the report */
	long long t0;
};

static bool begin(struct dbconn *db, char **err)
{
	return db_command(db, "BEGIN", 0, NULL, err);
}

/* Connects to the URL's database, or to the one tenant of --tenant. */
static int connect_target(const struct config *cfg, const char *cmd, struct dbconn *db,
                          enum migration_set_kind *kind, char **err)
{
	struct tenant t = {NULL, NULL, NULL};
	const char *why;
	int rc;

	*kind = cfg->set;
	if (!cfg->ntenants || cfg->tenants_from_env)
		return db_connect(cfg, cfg->database_url, NULL, false, db, err);
	if (cfg->ntenants != 1) {
		*err = xasprintf("%s: one --tenant at a time", cmd);
		return AZ_EXIT_USAGE;
	}
	if (cfg->set_given && cfg->set != SET_TENANT) {
		*err = xasprintf("%s: --tenant uses the tenant set; drop --set master", cmd);
		return AZ_EXIT_USAGE;
	}
	why = tenant_slug_problem(cfg->tenants[0], cfg->tenant_prefix);
	if (why) {
		*err = xasprintf("%s: tenant slug '%s' rejected: %s", cmd, cfg->tenants[0], why);
		return AZ_EXIT_USAGE;
	}
	*kind = SET_TENANT;
	t.slug = cfg->tenants[0];
	t.database = xasprintf("%s%s", cfg->tenant_prefix, t.slug);
	rc = tenant_connect(cfg, &t, db, err);
	free(t.database);
	return rc;
}

/* The migration set, then the connection: what reset_run checks before anything changes. */
static int open_target(struct run *run)
{
	const struct config *cfg = run->cfg;
	int rc;

	/* the set is checked before any database is touched */
	run->kind = cfg->ntenants && !cfg->tenants_from_env ? SET_TENANT : cfg->set;
	rc = migset_load(cfg, run->kind, &run->set, &run->err);
	if (!rc)
		rc = connect_target(cfg, run->cmd, &run->db, &run->kind, &run->err);
	if (rc)
		return rc;
	db_quiet_notices(&run->db);
	for (size_t i = 0; i < run->set.count; i++)
		if (run->set.items[i].own_transaction)
			run->transactional = false;
	return AZ_EXIT_OK;
}

/*
 * Drop, migrations and (resync) reload as ONE transaction: a failure rolls
 * all of it back.  After an enum conflict (55P04) clears run->transactional
 * and returns AZ_EXIT_OK, for reset_stepwise to do it again.
 */
static int reset_in_one_txn(struct run *run)
{
	struct dbconn *db = &run->db;
	bool enum_conflict = false;
	int rc = AZ_EXIT_OK;

	if (!begin(db, &run->err))
		rc = db_error_exit(db, AZ_EXIT_UNREACHABLE);
	if (!rc)
		rc = reset_empty_schema(db, &run->err);
	if (!rc)
		rc = reset_migrate_all(db, &run->set, &enum_conflict, &run->err);
	if (!rc && run->resync)
		rc = resync_reload(db, run->file, &run->data, &run->err);
	if (!rc && !db_command(db, "COMMIT", 0, NULL, &run->err))
		rc = db_error_exit(db, AZ_EXIT_MIGRATION);
	db_rollback(db);
	if (!rc) {
		run->applied = run->set.count;
		run->result = "done";
	} else if (enum_conflict && !signals_stop_requested()) {
		log_db(LOG_INFO, db->dbname,
		       "%s; rolled back, running the migrations one transaction each", run->err);
		free(run->err);
		run->err = NULL;
		sb_reset(&run->data);
		run->transactional = false;
		rc = AZ_EXIT_OK;
	} else {
		char *m =
		    xasprintf("%s; %s rolled back, the database is as it was", run->err, run->cmd);
		run->result = "rolled back";
		free(run->err);
		run->err = m;
	}
	return rc;
}

/*
 * The drop committed first, the migrations as `migrate` runs them, the
 * reload in one transaction; after a failure past the drop the backup is
 * played back.
 */
static int reset_stepwise(struct run *run)
{
	struct dbconn *db = &run->db;
	struct db_outcome out;
	bool dropped;
	int rc = AZ_EXIT_OK;

	memset(&out, 0, sizeof out);
	if (!begin(db, &run->err))
		rc = db_error_exit(db, AZ_EXIT_UNREACHABLE);
	if (!rc)
		rc = reset_empty_schema(db, &run->err);
	if (!rc && !db_command(db, "COMMIT", 0, NULL, &run->err))
		rc = db_error_exit(db, AZ_EXIT_INTERNAL);
	db_rollback(db);
	dropped = rc == AZ_EXIT_OK;
	if (!rc && signals_stop_requested()) {
		rc = AZ_EXIT_INTERRUPTED;
		run->err = xstrdup("interrupted by a stop signal");
	}
	if (!rc) {
		/* migrate_database takes and releases a nested hold: ours stays */
		rc = migrate_database(run->cfg, db, &run->set, NULL, &out);
		run->applied = out.ndone;
		if (rc)
			run->err = xstrdup(out.error ? out.error : az_exit_name(rc));
	}
	outcome_free(&out);
	if (!rc && run->resync) {
		if (!begin(db, &run->err))
			rc = db_error_exit(db, AZ_EXIT_UNREACHABLE);
		if (!rc)
			rc = resync_reload(db, run->file, &run->data, &run->err);
		if (!rc && !db_command(db, "COMMIT", 0, NULL, &run->err))
			rc = db_error_exit(db, AZ_EXIT_MIGRATION);
		db_rollback(db);
	}
	if (!rc)
		run->result = "done";
	else if (dropped && PQstatus(db->pg) == CONNECTION_OK)
		rc = reset_put_back(db, run->file, rc, &run->result, &run->err);
	else if (dropped)
		run->result = "connection lost";
	else
		run->result = "rolled back";
	return rc;
}

/* Under the migration lock: the backup, then the reset one way or the other. */
static int reset_database(struct run *run)
{
	struct backup_set *bs;
	int rc = db_lock(&run->db, run->cfg->lock_timeout_s, &run->err);

	if (!rc) {
		bs = backup_set_new(run->cfg);
		rc = backup_database(bs, &run->db, &run->file, &run->err);
		backup_set_close(bs);
		if (rc) {
			char *m = xasprintf("%s; nothing was dropped", run->err);
			free(run->err);
			run->err = m;
		}
	}
	if (rc)
		return rc;
	log_db(LOG_INFO, run->db.dbname, "%s of schema %s in %s with %zu %s migrations; backup: %s",
	       run->cmd, run->db.qschema, run->db.where, run->set.count, set_kind_name(run->kind),
	       run->file);
	if (run->transactional)
		rc = reset_in_one_txn(run);
	if (!rc && !run->transactional)
		rc = reset_stepwise(run);
	return rc;
}

/* The last log line, and the report (--report FILE; standard output in JSON mode). */
static void report(const struct run *run, int rc)
{
	const struct dbconn *db = &run->db;
	struct strbuf json;

	if (rc)
		log_db(LOG_ERROR, db->dbname, "%s failed: %s", run->cmd,
		       run->err ? run->err : az_exit_name(rc));
	else
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, now_ms() - run->t0},
		       "%s done: schema %s emptied, %zu migration%s applied%s; backup: %s",
		       run->cmd, db->qschema, run->applied, run->applied == 1 ? "" : "s",
		       run->resync ? ", rows reloaded" : "", run->file);

	sb_init(&json);
	sb_addf(&json, "{\"command\":\"%s\",", run->cmd);
	json_sb_string(&json, "database", db->dbname);
	sb_adds(&json, ",");
	json_sb_string(&json, "schema", db->schema);
	sb_addf(&json, ",\"set\":\"%s\",", set_kind_name(run->kind));
	json_sb_string(&json, "backup_file", run->file);
	sb_addf(&json, ",\"transactional\":%s,\"migrations_applied\":%zu,",
	        run->transactional ? "true" : "false", run->applied);
	json_sb_string(&json, "result", run->result);
	sb_addf(&json, ",\"exit_code\":%d,\"exit_name\":\"%s\"", rc, az_exit_name(rc));
	if (rc) {
		sb_adds(&json, ",");
		json_sb_string(&json, "error", run->err);
	}
	sb_adds(&json, run->data.buf);
	sb_addf(&json, ",\"duration_ms\":%lld}", now_ms() - run->t0);
	if (run->cfg->report_file) {
		char *e = NULL, *doc = xasprintf("%s\n", json.buf);
		if (!write_file_atomic(run->cfg->report_file, doc, strlen(doc), 0600, &e)) {
			log_warn("%s", e);
			free(e);
		}
		free(doc);
	}
	if (log_get_format() == LOG_JSON)
		out_line("%s", json.buf);
	sb_free(&json);
}

static void run_free(struct run *run)
{
	free(run->err);
	free(run->file);
	sb_free(&run->data);
	db_close(&run->db);
	migset_free(&run->set);
}

int reset_run(const struct config *cfg)
{
	struct run run;
	int rc;

	memset(&run, 0, sizeof run);
	run.cfg = cfg;
	run.resync = cfg->cmd == CMD_RESYNC;
	run.cmd = run.resync ? "resync" : "reset";
	run.result = "unchanged";
	run.transactional = true;
	run.t0 = now_ms();
	rc = reset_check_guards(cfg, run.cmd, &run.err);
	if (rc) {
		log_error("%s", run.err);
		free(run.err);
		return rc;
	}
	sb_init(&run.data);
	rc = open_target(&run);
	if (rc) {
		log_error("%s", run.err);
		run_free(&run);
		return rc;
	}
	rc = reset_database(&run);
	report(&run, rc);
	run_free(&run);
	return rc;
}
