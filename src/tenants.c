/* tenants.c - see tenants.h */
#define _POSIX_C_SOURCE 200809L
#include "tenants.h"

#include "exitcodes.h"
#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tenant_slug_problem(const char *slug, const char *prefix)
{
	size_t n = strlen(slug);

	if (n == 0)
		return "empty slug";
	if (strlen(prefix) + n > 63)
		return "too long: the database name would exceed PostgreSQL's 63 bytes";
	for (const unsigned char *p = (const unsigned char *)slug; *p; p++) {
		if (*p >= 0x80)
			return "non-ASCII character";
		if (*p == '\'' || *p == '"')
			return "contains a quote";
		if (isspace(*p))
			return "contains whitespace";
		if (!(isalnum(*p) || *p == '_' || *p == '-'))
			return "only letters, digits, '_' and '-' are allowed";
	}
	return NULL;
}

uint64_t tenant_hash(const char *slug)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)slug; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * Adds one tenant.  A slug given by the operator (flag, AUZDB_TENANTS,
 * AUZDB_TENANT_QUERY) must be safe; a database that exists in pg_database
 * may have any name while it only ever travels as a libpq keyword value,
 * but is never expanded into a URL template: percent-decoded in the host,
 * '/' makes a socket directory and ',' a host list, so the name would choose
 * the server the template's password goes to.
 */
static void add(struct tenant_list *l, const char *slug, const char *prefix, bool from_catalog,
                bool templated)
{
	struct tenant *t;
	const char *why;

	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i].slug, slug) == 0)
			return; /* duplicates merged */
	l->items = xrealloc(l->items, (l->count + 1) * sizeof *l->items);
	t = &l->items[l->count++];
	t->slug = xstrdup(slug);
	t->database = xasprintf("%s%s", prefix, slug);
	t->invalid = NULL;
	why = tenant_slug_problem(slug, prefix);
	if (why && !from_catalog)
		t->invalid = xstrdup(why);
	else if (why && templated)
		t->invalid = xasprintf("%s; a database name from pg_database goes into "
		                       "AUZDB_TENANT_URL_TEMPLATE only when it is a safe slug",
		                       why);
}

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

/*
 * The operator's query, through the extended protocol (PQexecParams, no
 * parameters): one statement only, so "COMMIT; CREATE ..." cannot end the
 * READ ONLY transaction and write.  db_query's result and errors.
 */
static PGresult *tenant_query(struct dbconn *master, const char *sql, char **err)
{
	PGresult *res = PQexecParams(master->pg, sql, 0, NULL, NULL, NULL, NULL, 0);
	const char *state;

	master->sqlstate[0] = '\0';
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(master->sqlstate, sizeof master->sqlstate, "%s", state ? state : "");
	if (res &&
	    (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_EMPTY_QUERY))
		*err = xasprintf("it must be one query returning the slugs (this ran %s)",
		                 *PQcmdStatus(res) ? PQcmdStatus(res) : "nothing");
	else
		*err = db_result_error(res, master->pg);
	PQclear(res);
	return NULL;
}

int tenants_discover(const struct config *cfg, struct dbconn *master, struct tenant_list *out,
                     char **err)
{
	const char *prefix = cfg->tenant_prefix;
	const bool templated = cfg->tenant_url_template != NULL;
	PGresult *res;

	memset(out, 0, sizeof *out);
	if (cfg->ntenants) {
		out->source = cfg->tenants_from_env ? "AUZDB_TENANTS" : "--tenant";
		for (size_t i = 0; i < cfg->ntenants; i++) {
			char *s = xstrdup(cfg->tenants[i]);
			trim(s);
			if (*s || !cfg->tenants_from_env)
				add(out, s, prefix, false, templated);
			free(s);
		}
		return AZ_EXIT_OK;
	}
	if (cfg->tenant_query) {
		out->source = "AUZDB_TENANT_QUERY";
		/* read-only and one statement, so an operator's query cannot change master */
		if (!db_command(master, "BEGIN READ ONLY", 0, NULL, err))
			return db_error_exit(master, AZ_EXIT_INTERNAL);
		res = tenant_query(master, cfg->tenant_query, err);
		if (!res) {
			/*
			 * A broken query - or one that tries to write (25006 in this
			 * READ ONLY transaction) - is the operator's to fix (2); a
			 * lost server or a missing privilege is not.
			 */
			int rc = str_eq(master->sqlstate, "25006")
			             ? AZ_EXIT_USAGE
			             : db_error_exit(master, AZ_EXIT_USAGE);
			char *e = *err;
			db_rollback(master);
			*err = xasprintf("AUZDB_TENANT_QUERY failed on master: %s", e);
			free(e);
			return rc;
		}
		db_rollback(master);
		if (PQnfields(res) != 1) {
			*err = xasprintf(
			    "AUZDB_TENANT_QUERY must return one column (the slug), got %d",
			    PQnfields(res));
			PQclear(res);
			return AZ_EXIT_USAGE;
		}
		for (int i = 0; i < PQntuples(res); i++)
			if (!PQgetisnull(res, i, 0))
				add(out, PQgetvalue(res, i, 0), prefix, false, templated);
		PQclear(res);
		return AZ_EXIT_OK;
	}
	out->source = "pg_database";
	{
		const char *params[1] = {prefix};
		res = db_query(
		    master,
		    "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT "
		    "datistemplate AND left(datname, length($1)) = $1 AND length(datname) > "
		    "length($1) ORDER BY datname",
		    1, params, PGRES_TUPLES_OK, err);
	}
	if (!res)
		return db_error_exit(master, AZ_EXIT_INTERNAL);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		if (strcmp(name, master->dbname) == 0)
			continue;
		add(out, name + strlen(prefix), prefix, true, templated);
	}
	PQclear(res);
	return AZ_EXIT_OK;
}

void tenants_free(struct tenant_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].slug);
		free(l->items[i].database);
		free(l->items[i].invalid);
	}
	free(l->items);
	memset(l, 0, sizeof *l);
}

void tenants_shard(struct tenant_list *l, long index, long count)
{
	size_t k = 0;
	if (count <= 1)
		return;
	for (size_t i = 0; i < l->count; i++) {
		if (tenant_hash(l->items[i].slug) % (uint64_t)count == (uint64_t)index) {
			l->items[k++] = l->items[i];
		} else {
			free(l->items[i].slug);
			free(l->items[i].database);
			free(l->items[i].invalid);
		}
	}
	l->count = k;
}

static void add_encoded(struct strbuf *sb, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			sb_addc(sb, (char)*p);
		else
			sb_addf(sb, "%%%02X", *p);
	}
}

char *tenant_url(const char *tmpl, const struct tenant *t, char **err)
{
	struct strbuf sb;
	const char *p = tmpl;
	const char *why = tenant_slug_problem(t->slug, "");

	if (why) { /* never a name that could pick the host (see add) */
		*err = xasprintf("tenant slug '%s' is not put into AUZDB_TENANT_URL_TEMPLATE: %s",
		                 t->slug, why);
		return NULL;
	}
	sb_init(&sb);
	while (*p) {
		if (*p == '{') {
			const char *end = strchr(p, '}');
			size_t n = end ? (size_t)(end - p - 1) : 0;
			if (end && n == 4 && strncmp(p + 1, "slug", 4) == 0) {
				add_encoded(&sb, t->slug);
			} else if (end && n == 8 && strncmp(p + 1, "database", 8) == 0) {
				add_encoded(&sb, t->database);
			} else {
				*err = xasprintf(
				    "AUZDB_TENANT_URL_TEMPLATE: unknown placeholder at '%.20s' "
				    "(use {slug} or {database})",
				    p);
				sb_free(&sb);
				return NULL;
			}
			p = end + 1;
			continue;
		}
		sb_addc(&sb, *p++);
	}
	return sb.buf;
}

/* Connects to one tenant: the URL template, or master's URL with dbname replaced. */
int tenant_connect(const struct config *cfg, const struct tenant *t, struct dbconn *db, char **err)
{
	if (cfg->tenant_url_template) {
		char *u = tenant_url(cfg->tenant_url_template, t, err);
		int rc;
		if (!u)
			return AZ_EXIT_USAGE;
		rc = db_connect(cfg, u, NULL, false, db, err);
		free(u);
		return rc;
	}
	return db_connect(cfg, cfg->database_url, t->database, false, db, err);
}
