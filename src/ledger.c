/* ledger.c - see ledger.h */
#define _POSIX_C_SOURCE 200809L
#include "ledger.h"

#include "exitcodes.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ledger_row_failed(const struct ledger_row *r)
{
	return !r->finished_at && !r->rolled_back_at;
}

const struct ledger_row *ledger_applied_row(const struct ledger *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++) {
		const struct ledger_row *r = &l->rows[i];
		if (!r->rolled_back_at && r->finished_at && strcmp(r->migration_name, name) == 0)
			return r;
	}
	return NULL;
}

bool ledger_is_applied(const struct ledger *l, const char *name)
{
	return ledger_applied_row(l, name) != NULL;
}

bool ledger_has_live_row(const struct ledger *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++)
		if (!l->rows[i].rolled_back_at && strcmp(l->rows[i].migration_name, name) == 0)
			return true;
	return false;
}

static char *table(const struct dbconn *db)
{
	return xasprintf("%s.\"_prisma_migrations\"", db->qschema);
}

static char *opt_value(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

int ledger_load(struct dbconn *db, struct ledger *l, char **err)
{
	const char *params[1];
	PGresult *res;
	char *sql, *t = table(db);

	memset(l, 0, sizeof *l);
	/* a syscache lookup by name: cheaper for a fresh backend than a catalog join */
	params[0] = t;
	res = db_query(db,
	               "SELECT c.relkind FROM pg_catalog.pg_class c "
	               "WHERE c.oid = pg_catalog.to_regclass($1)",
	               1, params, PGRES_TUPLES_OK, err);
	if (!res) {
		free(t);
		return db_error_exit(db, AZ_EXIT_INTERNAL);
	}
	if (PQntuples(res) == 1) {
		char kind = PQgetvalue(res, 0, 0)[0];
		l->exists = kind == 'r' || kind == 'p';
	}
	PQclear(res);
	if (!l->exists) {
		free(t);
		return AZ_EXIT_OK;
	}
	sql = xasprintf(
	    "SELECT id, checksum, migration_name, logs, started_at::text, finished_at::text, "
	    "rolled_back_at::text, applied_steps_count FROM %s ORDER BY started_at ASC, id",
	    t);
	free(t);
	res = db_query(db, sql, 0, NULL, PGRES_TUPLES_OK, err);
	free(sql);
	if (!res)
		return db_error_exit(db, AZ_EXIT_NEEDS_ACTION);
	l->count = (size_t)PQntuples(res);
	l->rows = xcalloc(l->count ? l->count : 1, sizeof *l->rows);
	for (size_t i = 0; i < l->count; i++) {
		struct ledger_row *r = &l->rows[i];
		int k = (int)i;
		r->id = xstrdup(PQgetvalue(res, k, 0));
		r->checksum = xstrdup(PQgetvalue(res, k, 1));
		r->migration_name = xstrdup(PQgetvalue(res, k, 2));
		r->logs = opt_value(res, k, 3);
		r->started_at = xstrdup(PQgetvalue(res, k, 4));
		r->finished_at = opt_value(res, k, 5);
		r->rolled_back_at = opt_value(res, k, 6);
		r->applied_steps_count = atoi(PQgetvalue(res, k, 7));
	}
	PQclear(res);
	return AZ_EXIT_OK;
}

void ledger_free(struct ledger *l)
{
	for (size_t i = 0; i < l->count; i++) {
		struct ledger_row *r = &l->rows[i];
		free(r->id);
		free(r->checksum);
		free(r->migration_name);
		free(r->logs);
		free(r->started_at);
		free(r->finished_at);
		free(r->rolled_back_at);
	}
	free(l->rows);
	memset(l, 0, sizeof *l);
}

int ledger_user_tables(struct dbconn *db, long *n, char **sample, char **err)
{
	const char *params[1] = {db->schema};
	PGresult *res =
	    db_query(db,
	             "SELECT count(*), string_agg(relname, ', ' ORDER BY relname) FILTER "
	             "(WHERE rn <= 5) FROM (SELECT c.relname, row_number() OVER (ORDER BY "
	             "c.relname) AS rn FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns "
	             "ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relkind = 'r') t",
	             1, params, PGRES_TUPLES_OK, err);
	if (!res)
		return AZ_EXIT_INTERNAL;
	*n = atol(PQgetvalue(res, 0, 0));
	*sample = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return AZ_EXIT_OK;
}

int ledger_create(struct dbconn *db, char **err)
{
	char *t = table(db);
	char *sql = xasprintf("CREATE TABLE %s (\n"
	                      "    \"id\"                    VARCHAR(36) PRIMARY KEY NOT NULL,\n"
	                      "    \"checksum\"              VARCHAR(64) NOT NULL,\n"
	                      "    \"finished_at\"           TIMESTAMPTZ,\n"
	                      "    \"migration_name\"        VARCHAR(255) NOT NULL,\n"
	                      "    \"logs\"                  TEXT,\n"
	                      "    \"rolled_back_at\"        TIMESTAMPTZ,\n"
	                      "    \"started_at\"            TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
	                      "    \"applied_steps_count\"   INTEGER NOT NULL DEFAULT 0\n"
	                      ")",
	                      t);
	bool ok = db_command(db, sql, 0, NULL, err);
	free(sql);
	free(t);
	return ok ? AZ_EXIT_OK : db_error_exit(db, AZ_EXIT_AUTH);
}

void ledger_new_id(char out[37])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof b) != 1) {
		fprintf(stderr, "auzdb: internal error: no random bytes for a migration id\n");
		exit(AZ_EXIT_INTERNAL);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

void ledger_now(char out[40])
{
	utc_timestamp(out, 40, true);
}

/* Runs head + <table> + tail with parameters. */
static int write_row(struct dbconn *db, const char *head, const char *tail, int n,
                     const char *const *params, char **err)
{
	char *t = table(db);
	char *sql = xasprintf("%s%s%s", head, t, tail);
	PGresult *res = db_query(db, sql, n, params, PGRES_COMMAND_OK, err);
	int rc = AZ_EXIT_OK;
	free(sql);
	free(t);
	if (!res)
		rc = db_error_exit(db, AZ_EXIT_INTERNAL);
	PQclear(res);
	return rc;
}

int ledger_insert_started(struct dbconn *db, const char *id, const char *checksum, const char *name,
                          const char *started_at, char **err)
{
	const char *p[4] = {id, checksum, started_at, name};
	return write_row(db, "INSERT INTO ",
	                 " (\"id\", \"checksum\", \"started_at\", \"migration_name\") "
	                 "VALUES ($1, $2, $3, $4)",
	                 4, p, err);
}

int ledger_mark_finished(struct dbconn *db, const char *id, const char *finished_at, char **err)
{
	const char *p[2] = {finished_at, id};
	return write_row(db, "UPDATE ",
	                 " SET \"applied_steps_count\" = \"applied_steps_count\" + 1, "
	                 "\"finished_at\" = $1 WHERE \"id\" = $2",
	                 2, p, err);
}

int ledger_insert_failed(struct dbconn *db, const char *id, const char *checksum, const char *name,
                         const char *started_at, const char *logs, char **err)
{
	const char *p[5] = {id, checksum, started_at, name, logs};
	return write_row(db, "INSERT INTO ",
	                 " (\"id\", \"checksum\", \"started_at\", \"migration_name\", \"logs\") "
	                 "VALUES ($1, $2, $3, $4, $5)",
	                 5, p, err);
}

int ledger_set_logs(struct dbconn *db, const char *id, const char *logs, char **err)
{
	const char *p[2] = {logs, id};
	return write_row(db, "UPDATE ", " SET \"logs\" = $1 WHERE \"id\" = $2", 2, p, err);
}

int ledger_roll_back_failed(struct dbconn *db, const char *name, long *n, char **err)
{
	char now[40];
	const char *p[2] = {now, name};
	char *t = table(db), *sql;
	PGresult *res;

	ledger_now(now);
	sql = xasprintf("UPDATE %s SET \"rolled_back_at\" = $1 WHERE \"migration_name\" = $2 AND "
	                "\"finished_at\" IS NULL AND \"rolled_back_at\" IS NULL",
	                t);
	res = db_query(db, sql, 2, p, PGRES_COMMAND_OK, err);
	free(sql);
	free(t);
	if (!res)
		return db_error_exit(db, AZ_EXIT_INTERNAL);
	*n = atol(PQcmdTuples(res));
	PQclear(res);
	return AZ_EXIT_OK;
}

int ledger_insert_resolved(struct dbconn *db, const char *checksum, const char *name, char **err)
{
	char id[37], now[40];
	const char *p[4] = {id, checksum, now, name};

	ledger_new_id(id);
	ledger_now(now);
	return write_row(db, "INSERT INTO ",
	                 " (\"id\", \"checksum\", \"logs\", \"started_at\", \"finished_at\", "
	                 "\"migration_name\") VALUES ($1, $2, '', $3, $3, $4)",
	                 4, p, err);
}
