/* reset.c - see reset.h */
#define _POSIX_C_SOURCE 200809L
#include "reset.h"

#include "apply.h"
#include "backup.h"
#include "conn.h"
#include "exitcodes.h"
#include "ledger.h"
#include "log.h"
#include "migset.h"
#include "restore.h"
#include "resync.h"
#include "signals.h"
#include "tenants.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALLOW_RESET_VALUE "delete-all-data"

/* ---- the guards -------------------------------------------------------- */

static int check_guards(const struct config *cfg, const char *cmd, char **err)
{
	const char *v = cfg->allow_reset;
	bool env_ok = v && str_eq(v, ALLOW_RESET_VALUE);

	if (cfg->force && env_ok)
		return AZ_EXIT_OK;
	if (v && !env_ok)
		*err = xasprintf("%s refused: AUZDB_ALLOW_RESET is '%s'; it must be exactly '%s'%s",
		                 cmd, v, ALLOW_RESET_VALUE,
		                 cfg->force ? "" : ", and --force is missing");
	else if (!cfg->force && !env_ok)
		*err =
		    xasprintf("%s refused: --force and AUZDB_ALLOW_RESET=%s are both missing (%s "
		              "deletes every object and row of the database's schema)",
		              cmd, ALLOW_RESET_VALUE, cmd);
	else if (!cfg->force)
		*err = xasprintf("%s refused: --force is missing (AUZDB_ALLOW_RESET is set)", cmd);
	else
		*err = xasprintf("%s refused: AUZDB_ALLOW_RESET=%s is missing (--force was given)",
		                 cmd, ALLOW_RESET_VALUE);
	return AZ_EXIT_USAGE;
}

/* ---- small helpers ----------------------------------------------------- */

static void notice_to_debug(void *arg, const char *msg)
{
	(void)arg;
	log_debug("server: %.*s", (int)strcspn(msg, "\n"), msg);
}

static void rollback(struct dbconn *db)
{
	if (db->pg && PQstatus(db->pg) == CONNECTION_OK &&
	    PQtransactionStatus(db->pg) != PQTRANS_IDLE) {
		PGresult *r = PQexec(db->pg, "ROLLBACK");
		PQclear(r);
	}
}

int reset_stmt_exit(struct dbconn *db, const char *err, int fallback)
{
	const char *s = err ? strstr(err, "(SQLSTATE ") : NULL;
	char state[6] = "";

	if (signals_stop_requested())
		return AZ_EXIT_INTERRUPTED;
	if (PQstatus(db->pg) != CONNECTION_OK)
		return AZ_EXIT_UNREACHABLE;
	if (s && strlen(s) >= 15) {
		memcpy(state, s + 10, 5);
		state[5] = '\0';
	}
	return db_sqlstate_exit(*state ? state : NULL, fallback);
}

bool reset_run_each(struct dbconn *db, PGresult *list, int col, char **err)
{
	for (int i = 0; list && i < PQntuples(list); i++)
		if (!PQgetisnull(list, i, col) &&
		    !db_command(db, PQgetvalue(list, i, col), 0, NULL, err))
			return false;
	return true;
}

void reset_json_str(struct strbuf *sb, const char *key, const char *v)
{
	sb_addf(sb, "\"%s\":\"", key);
	sb_add_json(sb, v ? v : "");
	sb_adds(sb, "\"");
}

/* ---- emptying the schema ------------------------------------------------ */

/* What recreates the schema as it is now: owner, privileges, default privileges, comment. */
static const char q_schema_recreate[] =
    "SELECT s FROM ("
    " SELECT 1 AS o, format('CREATE SCHEMA %I AUTHORIZATION %I', n.nspname, "
    "  pg_catalog.pg_get_userbyid(n.nspowner)) AS s FROM pg_catalog.pg_namespace n "
    "  WHERE n.nspname = $1"
    " UNION ALL SELECT 2, format('GRANT %s ON SCHEMA %I TO %s%s', a.privilege_type, n.nspname, "
    "  CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE "
    "  quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, "
    "  CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) "
    "  FROM pg_catalog.pg_namespace n CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a "
    "  WHERE n.nspname = $1 AND a.grantee <> n.nspowner"
    " UNION ALL SELECT 3, format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT %s "
    "ON %s TO %s%s', pg_catalog.pg_get_userbyid(d.defaclrole), n.nspname, a.privilege_type, "
    "  CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN "
    "  'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END, "
    "  CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE "
    "  quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, "
    "  CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) "
    "  FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_namespace n ON n.oid = "
    "  d.defaclnamespace CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) a "
    "  WHERE n.nspname = $1"
    " UNION ALL SELECT 4, format('COMMENT ON SCHEMA %I IS %L', n.nspname, d.description) "
    "  FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_description d ON d.objoid = n.oid "
    "  AND d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass WHERE n.nspname = $1"
    ") x ORDER BY o";

/*
 * Inside the caller's transaction: drops the schema with everything in it
 * (tables, the ledger, types, sequences, functions, views, extensions
 * installed into it) and creates it again as it was.  Other schemas and
 * their extensions stay; objects elsewhere that depend on this schema's
 * objects go with them (CASCADE), as with `prisma migrate reset`.
 */
static int empty_schema(struct dbconn *db, char **err)
{
	const char *params[1] = {db->schema};
	PGresult *list = db_query(db, q_schema_recreate, 1, params, PGRES_TUPLES_OK, err);
	char *sql;
	bool ok;

	if (!list)
		return reset_stmt_exit(db, *err, AZ_EXIT_INTERNAL);
	if (PQntuples(list) == 0) { /* the URL's schema does not exist yet */
		PQclear(list);
		sql = xasprintf("CREATE SCHEMA %s", db->qschema);
		ok = db_command(db, sql, 0, NULL, err);
		free(sql);
		return ok ? AZ_EXIT_OK : reset_stmt_exit(db, *err, AZ_EXIT_AUTH);
	}
	sql = xasprintf("DROP SCHEMA %s CASCADE", db->qschema);
	ok = db_command(db, sql, 0, NULL, err);
	free(sql);
	ok = ok && reset_run_each(db, list, 0, err);
	PQclear(list);
	if (!ok) {
		char *e = *err;
		*err = xasprintf("cannot drop and recreate schema %s: %s", db->qschema, e);
		free(e);
		return reset_stmt_exit(db, *err, AZ_EXIT_AUTH);
	}
	ok = db_reset_session(db, err);
	return ok ? AZ_EXIT_OK : reset_stmt_exit(db, *err, AZ_EXIT_INTERNAL);
}

/* ---- migrations inside the reset's transaction ------------------------ */

/*
 * Applies every migration of set inside the open transaction, each with its
 * Prisma-shaped ledger row (apply's step).  *enum_conflict is set when a
 * migration used an enum value an earlier one added (SQLSTATE 55P04): only
 * separate transactions can do that.
 */
static int migrate_all_in_txn(struct dbconn *db, const struct migset *set, bool *enum_conflict,
                              char **err)
{
	int rc = ledger_create(db, err);

	if (rc)
		return reset_stmt_exit(db, *err, rc);
	for (size_t i = 0; i < set->count; i++) {
		const struct migration *m = &set->items[i];
		char state[6];
		long long t0 = now_ms();

		if (signals_stop_requested()) {
			*err = xstrdup("interrupted by a stop signal");
			return AZ_EXIT_INTERRUPTED;
		}
		rc = apply_step_in_txn(db, m, state, err);
		if (rc) {
			*enum_conflict = str_eq(state, "55P04");
			return reset_stmt_exit(db, *err, rc);
		}
		if (!db_reset_session(db, err))
			return reset_stmt_exit(db, *err, AZ_EXIT_INTERNAL);
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, now_ms() - t0},
		       "applied %s", m->name);
	}
	return AZ_EXIT_OK;
}

/* ---- the command -------------------------------------------------------- */

static bool write_report(const char *path, const char *json, char **err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t len = strlen(json), off = 0;
	bool ok = fd >= 0;

	while (ok && off < len) {
		ssize_t n = write(fd, json + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0;
		off += ok ? (size_t)n : 0;
	}
	ok = ok && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	ok = ok && rename(tmp, path) == 0;
	if (!ok) {
		*err = xasprintf("cannot write the report %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ok;
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

/* After a failure past the drop: plays the backup back.  Returns the final code. */
static int put_back(struct dbconn *db, const char *file, int rc, const char **result, char **err)
{
	char *e = NULL;

	log_at(LOG_WARN, &(struct log_ctx){db->dbname, NULL, -1},
	       "putting the database back as it was from %s", file);
	if (restore_into(db, file, true, &e) == AZ_EXIT_OK) {
		char *m = xasprintf("%s; the database was restored from the backup %s", *err, file);
		free(*err);
		*err = m;
		*result = "restored from backup";
		return rc;
	}
	{
		char *m =
		    xasprintf("%s; restoring the backup failed too (%s): restore it by hand with "
		              "'auzdb restore %s --clean'",
		              *err, e, file);
		free(*err);
		*err = m;
	}
	free(e);
	*result = "restore failed";
	return AZ_EXIT_NEEDS_ACTION;
}

static bool begin(struct dbconn *db, char **err)
{
	return db_command(db, "BEGIN", 0, NULL, err);
}

int reset_run(const struct config *cfg)
{
	const bool resync = cfg->cmd == CMD_RESYNC;
	const char *cmd = resync ? "resync" : "reset";
	enum migration_set_kind kind;
	struct migset set;
	struct dbconn db;
	struct backup_set *bs;
	struct strbuf json, data;
	char *err = NULL, *file = NULL;
	const char *result = "unchanged";
	bool transactional = true, enum_conflict = false;
	long long t0 = now_ms();
	size_t applied = 0;
	int rc;

	rc = check_guards(cfg, cmd, &err);
	if (rc) {
		log_error("%s", err);
		free(err);
		return rc;
	}
	memset(&db, 0, sizeof db);
	memset(&set, 0, sizeof set);
	sb_init(&json);
	sb_init(&data);
	/* the set is checked before any database is touched */
	kind = cfg->ntenants && !cfg->tenants_from_env ? SET_TENANT : cfg->set;
	rc = migset_load(cfg, kind, &set, &err);
	if (!rc)
		rc = connect_target(cfg, cmd, &db, &kind, &err);
	if (rc) {
		log_error("%s", err);
		free(err);
		migset_free(&set);
		sb_free(&json);
		sb_free(&data);
		return rc;
	}
	PQsetNoticeProcessor(db.pg, notice_to_debug, NULL);
	for (size_t i = 0; i < set.count; i++)
		if (set.items[i].own_transaction)
			transactional = false;

	rc = db_lock(&db, cfg->lock_timeout_s, &err);
	if (!rc) {
		bs = backup_set_new(cfg);
		rc = backup_database(bs, &db, &file, &err);
		backup_set_close(bs);
		if (rc) {
			char *m = xasprintf("%s; nothing was dropped", err);
			free(err);
			err = m;
		}
	}
	if (!rc) {
		log_at(LOG_INFO, &(struct log_ctx){db.dbname, NULL, -1},
		       "%s of schema %s in %s with %zu %s migrations; backup: %s", cmd, db.qschema,
		       db.where, set.count, set_kind_name(kind), file);
		/* one transaction: drop, migrations, reload; any failure rolls all of it back */
		if (transactional) {
			if (!begin(&db, &err))
				rc = reset_stmt_exit(&db, err, AZ_EXIT_UNREACHABLE);
			if (!rc)
				rc = empty_schema(&db, &err);
			if (!rc)
				rc = migrate_all_in_txn(&db, &set, &enum_conflict, &err);
			if (!rc && resync)
				rc = resync_reload(&db, file, &data, &err);
			if (!rc && !db_command(&db, "COMMIT", 0, NULL, &err))
				rc = reset_stmt_exit(&db, err, AZ_EXIT_MIGRATION);
			rollback(&db);
			if (!rc) {
				applied = set.count;
				result = "done";
			} else if (enum_conflict && !signals_stop_requested()) {
				log_at(
				    LOG_INFO, &(struct log_ctx){db.dbname, NULL, -1},
				    "%s; rolled back, running the migrations one transaction each",
				    err);
				free(err);
				err = NULL;
				sb_reset(&data);
				transactional = false;
				rc = AZ_EXIT_OK;
			} else {
				result = "rolled back";
				{
					char *m = xasprintf(
					    "%s; %s rolled back, the database is as it was", err,
					    cmd);
					free(err);
					err = m;
				}
			}
		}
		if (!rc && !transactional) {
			struct db_outcome out;
			bool dropped = false;

			memset(&out, 0, sizeof out);
			if (!begin(&db, &err))
				rc = reset_stmt_exit(&db, err, AZ_EXIT_UNREACHABLE);
			if (!rc)
				rc = empty_schema(&db, &err);
			if (!rc && !db_command(&db, "COMMIT", 0, NULL, &err))
				rc = reset_stmt_exit(&db, err, AZ_EXIT_INTERNAL);
			rollback(&db);
			dropped = rc == AZ_EXIT_OK;
			if (!rc && signals_stop_requested()) {
				rc = AZ_EXIT_INTERRUPTED;
				err = xstrdup("interrupted by a stop signal");
			}
			if (!rc) {
				rc = migrate_database(cfg, &db, &set, NULL,
				                      &out); /* our hold stays */
				applied = out.ndone;
				if (rc)
					err = xstrdup(out.error ? out.error : az_exit_name(rc));
			}
			outcome_free(&out);
			if (!rc && resync) {
				if (!begin(&db, &err))
					rc = reset_stmt_exit(&db, err, AZ_EXIT_UNREACHABLE);
				if (!rc)
					rc = resync_reload(&db, file, &data, &err);
				if (!rc && !db_command(&db, "COMMIT", 0, NULL, &err))
					rc = reset_stmt_exit(&db, err, AZ_EXIT_MIGRATION);
				rollback(&db);
			}
			if (!rc)
				result = "done";
			else if (dropped && PQstatus(db.pg) == CONNECTION_OK)
				rc = put_back(&db, file, rc, &result, &err);
			else if (dropped)
				result = "connection lost";
			else
				result = "rolled back";
		}
	}
	if (rc)
		log_at(LOG_ERROR, &(struct log_ctx){db.dbname, NULL, -1}, "%s failed: %s", cmd,
		       err ? err : az_exit_name(rc));
	else
		log_at(LOG_INFO, &(struct log_ctx){db.dbname, NULL, now_ms() - t0},
		       "%s done: schema %s emptied, %zu migration%s applied%s; backup: %s", cmd,
		       db.qschema, applied, applied == 1 ? "" : "s",
		       resync ? ", rows reloaded" : "", file);

	sb_addf(&json, "{\"command\":\"%s\",", cmd);
	reset_json_str(&json, "database", db.dbname);
	sb_adds(&json, ",");
	reset_json_str(&json, "schema", db.schema);
	sb_addf(&json, ",\"set\":\"%s\",", set_kind_name(kind));
	reset_json_str(&json, "backup_file", file);
	sb_addf(&json, ",\"transactional\":%s,\"migrations_applied\":%zu,",
	        transactional ? "true" : "false", applied);
	reset_json_str(&json, "result", result);
	sb_addf(&json, ",\"exit_code\":%d,\"exit_name\":\"%s\"", rc, az_exit_name(rc));
	if (rc) {
		sb_adds(&json, ",");
		reset_json_str(&json, "error", err);
	}
	sb_adds(&json, data.buf);
	sb_addf(&json, ",\"duration_ms\":%lld}", now_ms() - t0);
	if (cfg->report_file) {
		char *e = NULL;
		if (!write_report(cfg->report_file, json.buf, &e)) {
			log_warn("%s", e);
			free(e);
		}
	}
	if (log_get_format() == LOG_JSON)
		out_line("%s", json.buf);

	free(err);
	free(file);
	sb_free(&json);
	sb_free(&data);
	db_close(&db);
	migset_free(&set);
	return rc;
}
