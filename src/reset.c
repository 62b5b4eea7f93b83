/* reset.c - see reset.h */
#define _POSIX_C_SOURCE 200809L
#include "reset.h"

#include "apply.h"
#include "conn.h"
#include "exitcodes.h"
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "restore.h"
#include "signals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALLOW_RESET_VALUE "delete-all-data"

/* ---- the guards -------------------------------------------------------- */

int reset_check_guards(const struct config *cfg, const char *cmd, char **err)
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

/* ---- helpers reset and resync share ------------------------------------ */

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

int reset_empty_schema(struct dbconn *db, char **err)
{
	const char *params[1] = {db->schema};
	PGresult *list = db_query(db, q_schema_recreate, 1, params, PGRES_TUPLES_OK, err);
	char *sql;
	bool ok;

	if (!list)
		return db_error_exit(db, AZ_EXIT_INTERNAL);
	if (PQntuples(list) == 0) { /* the URL's schema does not exist yet */
		PQclear(list);
		sql = xasprintf("CREATE SCHEMA %s", db->qschema);
		ok = db_command(db, sql, 0, NULL, err);
		free(sql);
		return ok ? AZ_EXIT_OK : db_error_exit(db, AZ_EXIT_AUTH);
	}
	sql = xasprintf("DROP SCHEMA %s CASCADE", db->qschema);
	ok = db_command(db, sql, 0, NULL, err);
	free(sql);
	ok = ok && db_run_each(db, list, 0, err);
	PQclear(list);
	if (!ok) {
		char *e = *err;
		*err = xasprintf("cannot drop and recreate schema %s: %s", db->qschema, e);
		free(e);
		return db_error_exit(db, AZ_EXIT_AUTH);
	}
	ok = db_reset_session(db, err);
	return ok ? AZ_EXIT_OK : db_error_exit(db, AZ_EXIT_INTERNAL);
}

/* ---- every migration inside the reset's transaction -------------------- */

int reset_migrate_all(struct dbconn *db, const struct migset *set, bool *enum_conflict, char **err)
{
	int rc = ledger_create(db, err);

	if (rc)
		return db_error_exit(db, rc);
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
			return db_error_exit(db, rc);
		}
		if (!db_reset_session(db, err))
			return db_error_exit(db, AZ_EXIT_INTERNAL);
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, now_ms() - t0},
		       "applied %s", m->name);
	}
	return AZ_EXIT_OK;
}

/* ---- putting the database back ------------------------------------------ */

int reset_put_back(struct dbconn *db, const char *file, int rc, const char **result, char **err)
{
	char *e = NULL;

	log_db(LOG_WARN, db->dbname, "putting the database back as it was from %s", file);
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
