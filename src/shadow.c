/* shadow.c - see shadow.h */
#define _POSIX_C_SOURCE 200809L
#include "shadow.h"

#include "apply.h"
#include "exitcodes.h"
#include "ledger.h"
#include "log.h"
#include "signals.h"

#include <stdlib.h>
#include <string.h>

void shadow_cache_init(struct shadow_cache *c, const struct config *cfg, const struct migset *set)
{
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
	c->cfg = cfg;
	c->set = set;
}

void shadow_cache_free(struct shadow_cache *c)
{
	for (size_t i = 0; i < c->nfps; i++)
		fingerprint_free(&c->fps[i]);
	free(c->fps);
	free(c->err);
	free(c->shadow_where);
	pthread_mutex_destroy(&c->mu);
	memset(c, 0, sizeof *c);
}

#define SHADOW_MARK "auzdb shadow database: emptied before and after each use"

/*
 * Drops and re-creates the schema of an operator-provided shadow database,
 * marked with a comment.  A schema that holds objects is only wiped when it
 * carries that mark: a live database given by mistake is refused.
 */
static int wipe(struct dbconn *sh, char **err)
{
	const char *params[1] = {sh->schema};
	PGresult *res = db_query(
	    sh,
	    "SELECT (SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid), "
	    "coalesce(pg_catalog.obj_description(n.oid, 'pg_namespace'), '') "
	    "FROM pg_catalog.pg_namespace n WHERE n.nspname = $1",
	    1, params, PGRES_TUPLES_OK, err);
	char *sql;
	bool ok;

	if (!res)
		return AZ_EXIT_INTERNAL;
	if (PQntuples(res) == 1 && atol(PQgetvalue(res, 0, 0)) > 0 &&
	    !str_eq(PQgetvalue(res, 0, 1), SHADOW_MARK)) {
		*err = xasprintf("AUZDB_SHADOW_DATABASE_URL: schema %s of %s holds %s relations "
		                 "and was not made by auzdb; give auzdb an empty database",
		                 sh->qschema, sh->where, PQgetvalue(res, 0, 0));
		PQclear(res);
		return AZ_EXIT_USAGE;
	}
	PQclear(res);
	sql = xasprintf("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; COMMENT ON SCHEMA %s "
	                "IS '" SHADOW_MARK "'",
	                sh->qschema, sh->qschema, sh->qschema);
	ok = db_command(sh, sql, 0, NULL, err);
	free(sql);
	if (!ok)
		return db_error_exit(sh, AZ_EXIT_AUTH);
	return db_reset_session(sh, err) ? AZ_EXIT_OK : db_error_exit(sh, AZ_EXIT_INTERNAL);
}

/* Creates the throwaway database; *qname gets its quoted name. */
static int create_shadow(struct dbconn *admin, char *name, size_t len, char **qname, char **err)
{
	char id[37];
	size_t k = 0;
	bool created;
	int rc;

	ledger_new_id(id);
	k = (size_t)snprintf(name, len, "auzdb_shadow_");
	for (const char *p = id; *p && k + 1 < len && k < 29; p++)
		if (*p != '-')
			name[k++] = *p;
	name[k] = '\0';
	*qname = PQescapeIdentifier(admin->pg, name, strlen(name));
	if (!*qname) {
		*err = xasprintf("cannot quote \"%s\": %s", name, PQerrorMessage(admin->pg));
		return AZ_EXIT_INTERNAL;
	}
	rc = db_create_database(admin, name, "TEMPLATE template0", false, &created, err);
	if (rc) {
		char *e = *err;
		*err = xasprintf("cannot create the shadow database (it needs CREATEDB, or set "
		                 "AUZDB_SHADOW_DATABASE_URL): %s",
		                 e);
		free(e);
		PQfreemem(*qname);
		*qname = NULL;
		return rc;
	}
	return AZ_EXIT_OK;
}

static void drop_shadow(struct dbconn *admin, const char *name, char *qname)
{
	char *sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", qname);
	char *err = NULL;

	if (!db_command(admin, sql, 0, NULL, &err)) {
		log_warn("could not drop the shadow database \"%s\": %s", name, err);
		free(err);
	} else {
		log_debug("dropped the shadow database \"%s\"", name);
	}
	free(sql);
	PQfreemem(qname);
}

static void add_fp(struct shadow_cache *c, struct fingerprint *fp)
{
	c->fps = xrealloc(c->fps, (c->nfps + 1) * sizeof *c->fps);
	c->fps[c->nfps++] = *fp;
}

/* Applies the set to the shadow database, one fingerprint per step. */
static int fill(struct shadow_cache *c, struct dbconn *sh, char **err)
{
	struct fingerprint fp;
	long long t0 = now_ms();
	int rc = ledger_create(sh, err);

	if (!rc)
		rc = fingerprint_take(sh, &fp, err);
	if (rc)
		return rc;
	add_fp(c, &fp);
	for (size_t i = 0; i < c->set->count; i++) {
		const struct migration *m = &c->set->items[i];
		char *e = NULL;
		if (signals_stop_requested()) {
			*err = xstrdup("stopped by a signal while building the shadow database");
			return AZ_EXIT_INTERRUPTED;
		}
		signals_watch(sh->pg);
		rc = apply_migration(sh, m, &e);
		signals_unwatch(sh->pg);
		if (rc) {
			if (signals_stop_requested()) {
				free(e);
				*err = xstrdup(
				    "stopped by a signal while building the shadow database");
				return AZ_EXIT_INTERRUPTED;
			}
			*err = xasprintf("on an empty shadow database, %s", e ? e : "failed");
			free(e);
			return rc;
		}
		rc = fingerprint_take(sh, &fp, err);
		if (rc)
			return rc;
		add_fp(c, &fp);
	}
	log_debug("expected schemas of %zu %s migrations computed in %lld ms", c->set->count,
	          set_kind_name(c->set->kind), now_ms() - t0);
	return AZ_EXIT_OK;
}

static int build(struct shadow_cache *c, char **err)
{
	const struct config *cfg = c->cfg;
	struct dbconn admin, sh;
	char name[64] = "", *qname = NULL;
	int rc;

	memset(&admin, 0, sizeof admin);
	memset(&sh, 0, sizeof sh);
	if (signals_stop_requested()) {
		*err = xstrdup("stopped by a signal before building the shadow database");
		return AZ_EXIT_INTERRUPTED;
	}
	if (cfg->shadow_database_url) {
		rc = db_connect(cfg, cfg->shadow_database_url, NULL, false, &sh, err);
		if (rc) {
			char *e = *err;
			*err = xasprintf("AUZDB_SHADOW_DATABASE_URL: %s", e);
			free(e);
			return rc;
		}
		c->shadow_where = xstrdup(sh.where);
		log_info("building the expected schemas in %s (AUZDB_SHADOW_DATABASE_URL)",
		         sh.where);
		rc = wipe(&sh, err);
		if (!rc) {
			char *e2 = NULL;
			rc = fill(c, &sh, err);
			db_rollback(&sh);
			if (wipe(&sh, &e2)) /* leave it empty for the next run */
				log_warn("could not empty the shadow database: %s", e2);
			free(e2);
		}
		db_close(&sh);
		return rc;
	}
	rc = db_connect(cfg, cfg->database_url, NULL, false, &admin, err);
	if (rc)
		return rc;
	rc = create_shadow(&admin, name, sizeof name, &qname, err);
	if (rc) {
		db_close(&admin);
		return rc;
	}
	log_info("building the expected schemas in the shadow database \"%s\" (%zu %s "
	         "migrations)",
	         name, c->set->count, set_kind_name(c->set->kind));
	rc = db_connect(cfg, cfg->database_url, name, true, &sh, err);
	if (!rc) {
		rc = fill(c, &sh, err);
		db_close(&sh);
	}
	drop_shadow(&admin, name, qname); /* on every path */
	db_close(&admin);
	return rc;
}

int shadow_expected(struct shadow_cache *c, const struct dbconn *live, size_t need,
                    const struct fingerprint **fps, size_t *n, char **err)
{
	int rc;

	pthread_mutex_lock(&c->mu);
	if (!c->built && !(live && c->cfg->shadow_database_url &&
	                   str_eq(c->cfg->shadow_database_url, c->cfg->database_url))) {
		c->rc = build(c, &c->err);
		c->built = true;
	}
	if (live && ((c->shadow_where && str_eq(live->where, c->shadow_where)) ||
	             (c->cfg->shadow_database_url &&
	              str_eq(c->cfg->shadow_database_url, c->cfg->database_url)))) {
		pthread_mutex_unlock(&c->mu);
		*err = xasprintf("AUZDB_SHADOW_DATABASE_URL names the database being checked "
		                 "(%s); it must be a separate, empty database",
		                 live->where);
		return AZ_EXIT_USAGE;
	}
	*fps = c->fps;
	*n = c->nfps;
	if (c->nfps >= need) {
		rc = AZ_EXIT_OK;
	} else {
		rc = c->rc ? c->rc : AZ_EXIT_INTERNAL;
		*err = xstrdup(c->err ? c->err : "the shadow database stopped short");
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}
