/* conn.c - see conn.h */
#define _POSIX_C_SOURCE 200809L
#include "conn.h"

#include "exitcodes.h"
#include "log.h"
#include "signals.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* URL query parameters Prisma understands and libpq would reject. */
static const char *const prisma_only_params[] = {
    "schema",    "connection_limit",     "pool_timeout",
    "pgbouncer", "statement_cache_size", "socket_timeout",
    "sslaccept", "sslidentity",          "max_idle_connection_lifetime",
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static char *pct_decode(const char *s, size_t n)
{
	struct strbuf sb;
	sb_init(&sb);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			sb_addc(&sb, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			sb_addc(&sb, s[i]);
		}
	}
	return sb.buf;
}

/*
 * Splits Prisma-only parameters off a postgres:// URL.  Returns the URL
 * libpq gets (caller frees) and the schema in *schema (or NULL).
 */
static char *strip_prisma_params(const char *url, char **schema)
{
	struct strbuf out;
	const char *q;
	bool first = true;

	*schema = NULL;
	if (!(str_startswith(url, "postgresql://") || str_startswith(url, "postgres://")))
		return xstrdup(url);
	q = strchr(url, '?');
	if (!q)
		return xstrdup(url);
	sb_init(&out);
	sb_add(&out, url, (size_t)(q - url));
	q++;
	while (*q) {
		size_t n = strcspn(q, "&");
		size_t klen = strcspn(q, "=&");
		char *key = pct_decode(q, klen);
		bool drop = false;
		for (size_t i = 0; i < sizeof prisma_only_params / sizeof *prisma_only_params; i++)
			if (str_eq(key, prisma_only_params[i]))
				drop = true;
		if (drop && str_eq(key, "schema") && klen < n) {
			free(*schema);
			*schema = pct_decode(q + klen + 1, n - klen - 1);
		}
		if (!drop && n > 0) {
			sb_addc(&out, first ? '?' : '&');
			sb_add(&out, q, n);
			first = false;
		}
		free(key);
		q += n;
		if (*q == '&')
			q++;
	}
	return out.buf;
}

enum conn_failure { CF_RETRY, CF_AUTH, CF_CONFIG, CF_NO_DATABASE, CF_REFUSED };

static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static enum conn_failure classify(const char *msg)
{
	static const char *const auth[] = {
	    "password authentication failed", "authentication failed",
	    "no password supplied",           "pg_hba.conf rejects",
	    "no pg_hba.conf entry",           "permission denied",
	    "not permitted to log in",        "SCRAM authentication",
	    "server requested a cleartext",
	};
	static const char *const config[] = {
	    "invalid sslmode",
	    "invalid connection option",
	    "root certificate file",
	    "certificate verify failed",
	    "invalid integer value",
	    "invalid port number",
	    "could not read root certificate",
	    "invalid value for parameter",
	    /* the server refusing a URL's options=: waiting will not fix it */
	    "invalid command-line argument for server process",
	    "unrecognized configuration parameter",
	    "cannot be changed without restarting the server",
	};
	if (contains(msg, "database \"") && contains(msg, "\" does not exist"))
		return CF_NO_DATABASE;
	if (contains(msg, "role \"") && contains(msg, "\" does not exist"))
		return CF_AUTH;
	if (contains(msg, "is not currently accepting connections"))
		return CF_REFUSED; /* datallowconn = false: waiting will not help */
	for (size_t i = 0; i < sizeof auth / sizeof *auth; i++)
		if (contains(msg, auth[i]))
			return CF_AUTH;
	for (size_t i = 0; i < sizeof config / sizeof *config; i++)
		if (contains(msg, config[i]))
			return CF_CONFIG;
	return CF_RETRY;
}

/* libpq messages end with a newline and may span lines: make them one line. */
static char *one_line(const char *msg)
{
	char *s = xstrdup(msg ? msg : "");
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
			s[i] = ' ';
	while (n && s[n - 1] == ' ')
		s[--n] = '\0';
	return s;
}

/* Sleeps ms, in slices, returning early once a stop was requested. */
static void sleep_ms(long ms)
{
	while (ms > 0 && !signals_stop_requested()) {
		long slice = ms > 100 ? 100 : ms;
		struct timespec ts = {0, slice * 1000000L};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		ms -= slice;
	}
}

static char *stopped_msg(const char *what)
{
	return xasprintf("interrupted by %s while %s",
	                 signals_stop_reason() ? signals_stop_reason() : "a signal", what);
}

static PGconn *open_once(const struct config *cfg, const char *url, const char *dbname)
{
	const char *kw[8], *val[8];
	char timeout[24];
	int n = 0;

	snprintf(timeout, sizeof timeout, "%ld", cfg->connect_timeout_s);
	kw[n] = "connect_timeout"; /* a default the URL may override */
	val[n++] = timeout;
	if (url) {
		kw[n] = "dbname";
		val[n++] = url;
	}
	if (dbname) {
		kw[n] = "dbname"; /* a later keyword overrides the expanded URL */
		val[n++] = dbname;
	}
	kw[n] = "fallback_application_name";
	val[n++] = "auzdb";
	kw[n] = "client_encoding";
	val[n++] = "UTF8";
	kw[n] = NULL;
	val[n] = NULL;
	/*
	 * libpq expands only the first dbname as a URL/conninfo.  Without a URL
	 * that would be the override (a tenant database name from pg_database):
	 * never let a name like "x host=elsewhere" be parsed as parameters.
	 */
	return PQconnectdbParams(kw, val, url ? 1 : 0);
}

/*
 * One round trip on a fresh connection: point search_path at the schema (a
 * fresh session has nothing to RESET) and, if it may be created, see whether
 * it exists.  A fleet's no-op
 * run is mostly connection setup, so every round trip here counts per tenant.
 */
static int setup_session(struct dbconn *db, bool create_schema, char **err)
{
	const char *params[2] = {db->qschema, db->schema};
	PGresult *res;
	bool exists;

	/* the schema's existence matters only when it may be created */
	res = db_query(db,
	               create_schema ? "SELECT pg_catalog.set_config('search_path', $1, false), "
	                               "EXISTS (SELECT 1 FROM pg_catalog.pg_namespace "
	                               "WHERE nspname = $2)"
	                             : "SELECT pg_catalog.set_config('search_path', $1, false)",
	               create_schema ? 2 : 1, params, PGRES_TUPLES_OK, err);
	if (!res)
		return db_error_exit(db, AZ_EXIT_INTERNAL);
	exists = !create_schema || PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (!exists) {
		char *sql = xasprintf("CREATE SCHEMA IF NOT EXISTS %s", db->qschema);
		bool ok = db_command(db, sql, 0, NULL, err);
		free(sql);
		if (!ok)
			return db_error_exit(db, AZ_EXIT_AUTH);
		log_db(LOG_INFO, db->dbname, "created schema %s", db->qschema);
	}
	return AZ_EXIT_OK;
}

static int create_database(const struct config *cfg, const char *url, const char *dbname,
                           char **err)
{
	struct dbconn admin;
	bool created;
	int rc;

	rc = db_connect(cfg, url, "postgres", false, &admin, err);
	if (rc)
		return rc;
	/* a concurrent runner may have created it: that is fine */
	rc = db_create_database(&admin, dbname, "", true, &created, err);
	if (!rc && created)
		log_info("created database \"%s\" on %s", dbname, admin.where);
	db_close(&admin);
	return rc;
}

/* Checks a URL before any attempt: its libpq form (Prisma's parameters taken out) and schema. */
static int parse_url(const struct config *cfg, const char *url, char **libpq_url, char **schema,
                     char **err)
{
	char *perr = NULL;
	PQconninfoOption *opts;

	*libpq_url = strip_prisma_params(url, schema);
	opts = PQconninfoParse(*libpq_url, &perr);
	if (!opts) {
		char *m = one_line(perr ? perr : "out of memory");
		*err = xasprintf("malformed database URL in %s: %s",
		                 cfg->url_source ? cfg->url_source : "the configuration", m);
		free(m);
		PQfreemem(perr);
		free(*libpq_url);
		free(*schema);
		*libpq_url = *schema = NULL;
		return AZ_EXIT_USAGE;
	}
	PQconninfoFree(opts);
	return AZ_EXIT_OK;
}

/* The name of the database to create when it is missing (*dbn: what the caller frees). */
static const char *missing_db_name(const char *dbname_override, const char *libpq_url, char **dbn)
{
	PQconninfoOption *o;

	*dbn = NULL;
	if (dbname_override)
		return dbname_override;
	if (libpq_url && (o = PQconninfoParse(libpq_url, NULL)) != NULL) {
		for (PQconninfoOption *p = o; p->keyword; p++)
			if (str_eq(p->keyword, "dbname") && p->val)
				*dbn = xstrdup(p->val);
		PQconninfoFree(o);
		if (*dbn)
			return *dbn;
	}
	return getenv("PGDATABASE");
}

/* A connection that just opened: watched for stops, named for logs, its session set up. */
static int session_ready(struct dbconn *db, bool may_create, char **err)
{
	char *q;

	signals_watch(db->pg); /* a stop cancels whatever this connection runs */
	db->dbname = xstrdup(PQdb(db->pg));
	db->where = xasprintf("%s@%s:%s/%s", PQuser(db->pg),
	                      PQhost(db->pg) && *PQhost(db->pg) ? PQhost(db->pg) : "localhost",
	                      PQport(db->pg), PQdb(db->pg));
	q = PQescapeIdentifier(db->pg, db->schema, strlen(db->schema));
	if (!q) {
		*err = xasprintf("cannot quote schema name: %s", PQerrorMessage(db->pg));
		return AZ_EXIT_USAGE;
	}
	db->qschema = xstrdup(q);
	PQfreemem(q);
	return setup_session(db, may_create, err);
}

int db_connect(const struct config *cfg, const char *url, const char *dbname_override,
               bool create_missing, struct dbconn *db, char **err)
{
	char *libpq_url = NULL, *schema = NULL;
	long long deadline = now_ms() + cfg->wait_timeout_s * 1000LL;
	long delay = 250;
	int attempt = 0, rc;
	const bool may_create = create_missing;

	memset(db, 0, sizeof *db);
	*err = NULL;
	if (url) {
		rc = parse_url(cfg, url, &libpq_url, &schema, err);
		if (rc)
			return rc;
	}
	db->schema = schema ? schema : xstrdup("public");

	for (;;) {
		enum conn_failure cf;
		char *m;

		attempt++;
		db->pg = open_once(cfg, libpq_url, dbname_override);
		if (!db->pg) {
			*err = xstrdup("out of memory creating a connection");
			rc = AZ_EXIT_INTERNAL;
			break;
		}
		if (PQstatus(db->pg) == CONNECTION_OK) {
			rc = AZ_EXIT_OK;
			break;
		}
		m = one_line(PQerrorMessage(db->pg));
		cf = classify(m);
		PQfinish(db->pg);
		db->pg = NULL;
		if (cf == CF_NO_DATABASE && create_missing) {
			char *dbn = NULL;
			const char *name = missing_db_name(dbname_override, libpq_url, &dbn);
			if (name) {
				free(m);
				*err = config_database_name_problem(name);
				rc = *err ? AZ_EXIT_USAGE : create_database(cfg, url, name, err);
				free(dbn);
				if (rc)
					break;
				create_missing = false;
				continue;
			}
			free(dbn);
		}
		if (cf != CF_RETRY) {
			if (cf == CF_CONFIG)
				*err = xasprintf(
				    "invalid connection settings in %s: %s",
				    cfg->url_source ? cfg->url_source : "PG* variables", m);
			else
				*err = xasprintf("cannot connect: %s", m);
			free(m);
			rc = cf == CF_AUTH      ? AZ_EXIT_AUTH
			     : cf == CF_REFUSED ? AZ_EXIT_UNREACHABLE
			                        : AZ_EXIT_USAGE;
			break;
		}
		if (signals_stop_requested()) {
			*err = stopped_msg("waiting for the database");
			free(m);
			rc = AZ_EXIT_INTERRUPTED;
			break;
		}
		if (now_ms() + delay > deadline) {
			*err = xasprintf("database unreachable after %d attempt%s in %lds: %s",
			                 attempt, attempt == 1 ? "" : "s", cfg->wait_timeout_s, m);
			free(m);
			rc = AZ_EXIT_UNREACHABLE;
			break;
		}
		log_info("waiting for the database (attempt %d): %s", attempt, m);
		free(m);
		sleep_ms(delay);
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
	free(libpq_url);
	if (rc) {
		db_close(db);
		return rc;
	}
	rc = session_ready(db, may_create, err);
	if (rc)
		db_close(db);
	return rc;
}

void db_close(struct dbconn *db)
{
	if (db->pg) {
		if (db->lock_holds > 0) {
			db->lock_holds = 1; /* the last hold: the server lock goes */
			db_unlock(db);
		}
		signals_unwatch(db->pg);
		PQfinish(db->pg);
	}
	free(db->dbname);
	free(db->where);
	free(db->schema);
	free(db->qschema);
	memset(db, 0, sizeof *db);
}

char *db_result_error(const PGresult *res, const PGconn *pg)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *sev = res ? PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED) : NULL;
	char *m, *out;

	if (!prim) {
		m = one_line(pg ? PQerrorMessage(pg) : "unknown error");
		if (!*m) {
			free(m);
			m = xstrdup("unknown error");
		}
		out = xasprintf("%s%s%s%s", m, state ? " (SQLSTATE " : "", state ? state : "",
		                state ? ")" : "");
		free(m);
		return out;
	}
	m = one_line(prim);
	out = xasprintf("%s: %s (SQLSTATE %s)", sev ? sev : "ERROR", m, state ? state : "none");
	free(m);
	return out;
}

int db_sqlstate_exit(const char *sqlstate, int fallback)
{
	if (!sqlstate || !*sqlstate)
		return fallback;
	if (str_startswith(sqlstate, "28") || str_eq(sqlstate, "42501") ||
	    str_eq(sqlstate, "25006"))
		return AZ_EXIT_AUTH;
	if (str_startswith(sqlstate, "08") || str_startswith(sqlstate, "57P") ||
	    str_eq(sqlstate, "53300"))
		return AZ_EXIT_UNREACHABLE;
	if (str_eq(sqlstate, "55P03") || str_eq(sqlstate, "40P01"))
		return AZ_EXIT_LOCK;
	if (str_eq(sqlstate, "57014") && signals_stop_requested()) /* our own PQcancel */
		return AZ_EXIT_INTERRUPTED;
	return fallback;
}

int db_error_exit(const struct dbconn *db, int fallback)
{
	if (signals_stop_requested()) /* our own cancel, or the connection it cut */
		return AZ_EXIT_INTERRUPTED;
	if (!db->pg || PQstatus(db->pg) != CONNECTION_OK)
		return AZ_EXIT_UNREACHABLE;
	return db_sqlstate_exit(db->sqlstate, fallback);
}

char *db_error_of(struct dbconn *db, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
	return db_result_error(res, db->pg);
}

bool db_run_each(struct dbconn *db, const PGresult *list, int col, char **err)
{
	for (int i = 0; list && i < PQntuples(list); i++)
		if (!PQgetisnull(list, i, col) &&
		    !db_command(db, PQgetvalue(list, i, col), 0, NULL, err))
			return false;
	return true;
}

void db_rollback(struct dbconn *db)
{
	if (db->pg && PQstatus(db->pg) == CONNECTION_OK &&
	    PQtransactionStatus(db->pg) != PQTRANS_IDLE)
		PQclear(PQexec(db->pg, "ROLLBACK"));
}

int db_create_database(struct dbconn *admin, const char *name, const char *extra, bool exists_ok,
                       bool *created, char **err)
{
	char *q = PQescapeIdentifier(admin->pg, name, strlen(name)), *sql;
	bool ok;

	*created = false;
	if (!q) {
		*err = xasprintf("cannot quote database name: %s", PQerrorMessage(admin->pg));
		return AZ_EXIT_INTERNAL;
	}
	sql = xasprintf("CREATE DATABASE %s%s%s", q, *extra ? " " : "", extra);
	PQfreemem(q);
	ok = db_command(admin, sql, 0, NULL, err);
	free(sql);
	if (ok) {
		*created = true;
		return AZ_EXIT_OK;
	}
	if (exists_ok && str_eq(admin->sqlstate, "42P04")) { /* duplicate_database */
		free(*err);
		*err = NULL;
		return AZ_EXIT_OK;
	}
	return db_error_exit(admin, AZ_EXIT_AUTH);
}

PGresult *db_query(struct dbconn *db, const char *sql, int nparams, const char *const *params,
                   ExecStatusType expect, char **err)
{
	PGresult *res;

	db->sqlstate[0] = '\0';
	if (nparams > 0)
		res = PQexecParams(db->pg, sql, nparams, NULL, params, NULL, NULL, 0);
	else
		res = PQexec(db->pg, sql);
	if (!res || PQresultStatus(res) != expect) {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
		*err = db_result_error(res, db->pg);
		log_debug("query failed: %s -- query was: %s", *err, sql);
		PQclear(res);
		return NULL;
	}
	return res;
}

bool db_command(struct dbconn *db, const char *sql, int nparams, const char *const *params,
                char **err)
{
	PGresult *res = db_query(db, sql, nparams, params, PGRES_COMMAND_OK, err);
	PQclear(res);
	return res != NULL;
}

bool db_reset_session(struct dbconn *db, char **err)
{
	const char *params[1] = {db->qschema};
	PGresult *res;

	if (!db_command(db, "RESET ALL", 0, NULL, err))
		return false;
	res = db_query(db, "SELECT pg_catalog.set_config('search_path', $1, false)", 1, params,
	               PGRES_TUPLES_OK, err);
	PQclear(res);
	return res != NULL;
}

int db_lock(struct dbconn *db, long timeout_s, char **err)
{
	long long start = now_ms(), deadline = start + timeout_s * 1000LL;
	long delay = 100;
	bool announced = false;
	char key[16];
	const char *params[1] = {key};

	snprintf(key, sizeof key, "%d", AZ_LOCK_KEY);
	for (;;) {
		PGresult *res;
		bool got;

		if (signals_stop_requested()) {
			*err = stopped_msg("waiting for the migration lock");
			return AZ_EXIT_INTERRUPTED;
		}
		if (db->lock_holds > 0) { /* ours already: one more hold, no second server lock */
			db->lock_holds++;
			return AZ_EXIT_OK;
		}
		res = db_query(db, "SELECT pg_catalog.pg_try_advisory_lock($1::bigint)", 1, params,
		               PGRES_TUPLES_OK, err);
		if (!res)
			return db_error_exit(db, AZ_EXIT_UNREACHABLE);
		got = PQgetvalue(res, 0, 0)[0] == 't';
		PQclear(res);
		if (got) {
			db->lock_holds = 1;
			if (announced)
				log_at(LOG_INFO,
				       &(struct log_ctx){db->dbname, NULL, now_ms() - start},
				       "migration lock acquired");
			return AZ_EXIT_OK;
		}
		if (now_ms() >= deadline) {
			char *holder = NULL;
			res = db_query(
			    db,
			    "SELECT l.pid, coalesce(a.application_name, '') FROM "
			    "pg_catalog.pg_locks l "
			    "LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
			    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 "
			    "AND l.objid = $1::bigint AND l.objsubid = 1 AND l.database = "
			    "(SELECT oid FROM pg_catalog.pg_database WHERE datname = "
			    "pg_catalog.current_database()) LIMIT 1",
			    1, params, PGRES_TUPLES_OK, err);
			if (res && PQntuples(res) == 1)
				holder = xasprintf(" (held by pid %s, application \"%s\")",
				                   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
			PQclear(res);
			free(*err);
			*err = xasprintf(
			    "migration lock %d on database \"%s\" not acquired within %lds%s",
			    AZ_LOCK_KEY, db->dbname, timeout_s, holder ? holder : "");
			free(holder);
			return AZ_EXIT_LOCK;
		}
		if (!announced) {
			log_db(LOG_INFO, db->dbname,
			       "waiting for migration lock %d held by another session (up to %lds)",
			       AZ_LOCK_KEY, timeout_s);
			announced = true;
		}
		sleep_ms(delay);
		delay = delay * 2 > 1000 ? 1000 : delay * 2;
	}
}

void db_unlock(struct dbconn *db)
{
	char key[16];
	const char *params[1] = {key};
	char *err = NULL;
	PGresult *res;

	if (db->lock_holds <= 0 || !db->pg)
		return;
	if (--db->lock_holds > 0) /* an outer hold still needs it */
		return;
	snprintf(key, sizeof key, "%d", AZ_LOCK_KEY);
	res = db_query(db, "SELECT pg_catalog.pg_advisory_unlock($1::bigint)", 1, params,
	               PGRES_TUPLES_OK, &err);
	if (!res) {
		log_debug("unlock failed (the lock ends with the session): %s", err);
		free(err);
	}
	PQclear(res);
}

bool db_set_migration_timeouts(struct dbconn *db, const struct config *cfg, char **err)
{
	static const char *const names[2] = {"statement_timeout", "lock_timeout"};
	long ms[2] = {cfg->statement_timeout_ms, cfg->ddl_lock_timeout_ms};

	for (int i = 0; i < 2; i++) {
		char val[32];
		const char *params[2] = {names[i], val};
		PGresult *res;

		if (ms[i] <= 0)
			continue;
		snprintf(val, sizeof val, "%ldms", ms[i]);
		res = db_query(db, "SELECT pg_catalog.set_config($1, $2, false)", 2, params,
		               PGRES_TUPLES_OK, err);
		if (!res)
			return false;
		PQclear(res);
	}
	return true;
}

char *db_lock_blockers(struct dbconn *db, const char *script)
{
	const char *params[1] = {db->schema};
	struct strbuf sb;
	char *err = NULL;
	PGresult *res;
	int shown = 0;

	res = db_query(db,
	               "SELECT DISTINCT c.relname, l.pid, coalesce(a.application_name, '') "
	               "FROM pg_catalog.pg_locks l "
	               "JOIN pg_catalog.pg_class c ON c.oid = l.relation "
	               "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	               "LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
	               "WHERE l.granted AND l.pid <> pg_catalog.pg_backend_pid() "
	               "AND l.locktype = 'relation' AND n.nspname = $1 "
	               "AND l.database = (SELECT oid FROM pg_catalog.pg_database "
	               "WHERE datname = pg_catalog.current_database()) "
	               "ORDER BY 1, 2",
	               1, params, PGRES_TUPLES_OK, &err);
	if (!res) {
		free(err);
		return NULL;
	}
	sb_init(&sb);
	for (int i = 0; i < PQntuples(res) && shown < 3; i++) {
		const char *rel = PQgetvalue(res, i, 0);
		if (!strstr(script, rel))
			continue; /* locked, but not by anything this migration touches */
		sb_addf(&sb, "%stable \"%s\" (held by pid %s, application \"%s\")",
		        shown ? ", " : "", rel, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
		shown++;
	}
	PQclear(res);
	if (!shown) {
		sb_free(&sb);
		return NULL;
	}
	return sb.buf; /* the caller frees it */
}

static void notice_to_debug(void *arg, const char *msg)
{
	(void)arg;
	log_debug("server: %.*s", (int)strcspn(msg, "\n"), msg);
}

void db_quiet_notices(struct dbconn *db)
{
	PQsetNoticeProcessor(db->pg, notice_to_debug, NULL);
}
