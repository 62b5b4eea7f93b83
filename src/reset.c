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
#include "pgtext.h"
#include "restore.h"
#include "signals.h"
#include "sqlscan.h"
#include "tenants.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALLOW_RESET_VALUE "delete-all-data"
#define DIAG_CHUNK        1000 /* rows per COPY while looking for rejected rows */
#define MAX_REJECTS       100  /* rejected rows named per table (the rest are counted) */
#define LOG_REJECTS       20   /* of those, logged one per line per table */

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

/* The exit code for a failed statement: a signal, the connection, permissions, else fallback. */
static int stmt_exit(struct dbconn *db, const char *err, int fallback)
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

/* Runs each row's first column of a result as a statement. */
static bool run_each(struct dbconn *db, PGresult *list, int col, char **err)
{
	for (int i = 0; list && i < PQntuples(list); i++)
		if (!PQgetisnull(list, i, col) &&
		    !db_command(db, PQgetvalue(list, i, col), 0, NULL, err))
			return false;
	return true;
}

static void json_str(struct strbuf *sb, const char *key, const char *v)
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
		return stmt_exit(db, *err, AZ_EXIT_INTERNAL);
	if (PQntuples(list) == 0) { /* the URL's schema does not exist yet */
		PQclear(list);
		sql = xasprintf("CREATE SCHEMA %s", db->qschema);
		ok = db_command(db, sql, 0, NULL, err);
		free(sql);
		return ok ? AZ_EXIT_OK : stmt_exit(db, *err, AZ_EXIT_AUTH);
	}
	sql = xasprintf("DROP SCHEMA %s CASCADE", db->qschema);
	ok = db_command(db, sql, 0, NULL, err);
	free(sql);
	ok = ok && run_each(db, list, 0, err);
	PQclear(list);
	if (!ok) {
		char *e = *err;
		*err = xasprintf("cannot drop and recreate schema %s: %s", db->qschema, e);
		free(e);
		return stmt_exit(db, *err, AZ_EXIT_AUTH);
	}
	ok = db_reset_session(db, err);
	return ok ? AZ_EXIT_OK : stmt_exit(db, *err, AZ_EXIT_INTERNAL);
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
		return stmt_exit(db, *err, rc);
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
			return stmt_exit(db, *err, rc);
		}
		if (!db_reset_session(db, err))
			return stmt_exit(db, *err, AZ_EXIT_INTERNAL);
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, now_ms() - t0},
		       "applied %s", m->name);
	}
	return AZ_EXIT_OK;
}

/* ---- resync: reloading the backup's rows ------------------------------- */

struct tcol {
	char *name;
	bool required;  /* NOT NULL, no default, not identity, not generated */
	bool generated; /* computed: never loaded */
	bool in_backup; /* set per COPY block */
};

struct ttable {
	char *name;
	char *qname; /* "schema"."table" */
	struct tcol *cols;
	size_t ncols;
	char **pk; /* primary key columns */
	size_t npk;
	bool loaded, failed;
	long long rows;
};

enum block_mode { B_SKIP, B_LOAD, B_DIAG };

struct reload {
	struct dbconn *db;
	const char *backup;
	struct ttable *tabs;
	size_t ntabs;
	bool second_pass;

	/* the COPY block being read */
	enum block_mode mode;
	struct ttable *cur;
	struct pgtext_copy hdr; /* the backup's names of the table and its columns */
	char *lost_why;         /* table not carried over: why */
	int *keep;              /* per backup field: carried over? */
	int *pkf;               /* backup field of each primary key column, or -1 */
	bool project;           /* some fields are dropped */
	char *copy_sql;         /* COPY target (kept columns) FROM STDIN */
	long data_line;         /* the COPY statement's line; row k is at data_line + k */
	long long nrow;         /* rows seen in this block */
	bool copy_open;         /* first pass: a server COPY is running */
	struct strbuf partial, line;
	/* second pass: buffered rows */
	struct strbuf chunk;
	size_t *offs;
	long *lnos;
	char **keys;
	size_t nchunk;
	long table_rejects;
	long long unchecked;

	/* the report */
	/* the backup's sequence values: SELECT pg_catalog.setval('name', value, called); */
	char **seq_name, **seq_value;
	bool *seq_called;
	size_t nseq;

	struct strbuf jtables, jlost, jrejected;
	size_t ntables_json, nlost, nrejected_json;
	long long rows_loaded, rows_rejected;
	bool failed;
	int rc; /* a fatal error (connection, signal): stop everything */
	char *err;
};

static void fatal(struct reload *r, int rc, char *err)
{
	if (!r->rc) {
		r->rc = rc;
		r->err = err;
	} else {
		free(err);
	}
}

static const char q_target_columns[] =
    "SELECT c.relname, format('%I.%I', n.nspname, c.relname), a.attname, "
    "  a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '', "
    "  a.attgenerated <> '', "
    "  EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary "
    "   AND a.attnum = ANY (i.indkey)) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
    "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname <> '_prisma_migrations' "
    "  AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum";

static int load_target(struct reload *r, char **err)
{
	const char *params[1] = {r->db->schema};
	PGresult *res = db_query(r->db, q_target_columns, 1, params, PGRES_TUPLES_OK, err);

	if (!res)
		return stmt_exit(r->db, *err, AZ_EXIT_INTERNAL);
	for (int i = 0; i < PQntuples(res); i++) {
		struct ttable *t = r->ntabs ? &r->tabs[r->ntabs - 1] : NULL;
		struct tcol *c;
		if (!t || strcmp(t->name, PQgetvalue(res, i, 0)) != 0) {
			r->tabs = xrealloc(r->tabs, (r->ntabs + 1) * sizeof *r->tabs);
			t = &r->tabs[r->ntabs++];
			memset(t, 0, sizeof *t);
			t->name = xstrdup(PQgetvalue(res, i, 0));
			t->qname = xstrdup(PQgetvalue(res, i, 1));
		}
		t->cols = xrealloc(t->cols, (t->ncols + 1) * sizeof *t->cols);
		c = &t->cols[t->ncols++];
		c->name = xstrdup(PQgetvalue(res, i, 2));
		c->required = PQgetvalue(res, i, 3)[0] == 't';
		c->generated = PQgetvalue(res, i, 4)[0] == 't';
		c->in_backup = false;
		if (PQgetvalue(res, i, 5)[0] == 't') {
			t->pk = xrealloc(t->pk, (t->npk + 1) * sizeof *t->pk);
			t->pk[t->npk++] = xstrdup(c->name);
		}
	}
	PQclear(res);
	return AZ_EXIT_OK;
}

static void free_target(struct reload *r)
{
	for (size_t i = 0; i < r->ntabs; i++) {
		struct ttable *t = &r->tabs[i];
		for (size_t k = 0; k < t->ncols; k++)
			free(t->cols[k].name);
		for (size_t k = 0; k < t->npk; k++)
			free(t->pk[k]);
		free(t->cols);
		free(t->pk);
		free(t->name);
		free(t->qname);
	}
	free(r->tabs);
}

static void free_block(struct reload *r)
{
	pgtext_copy_free(&r->hdr);
	free(r->keep);
	free(r->pkf);
	free(r->lost_why);
	free(r->copy_sql);
	r->keep = r->pkf = NULL;
	r->lost_why = r->copy_sql = NULL;
	r->cur = NULL;
	r->mode = B_SKIP;
	r->copy_open = false;
	r->project = false;
	r->nrow = 0;
	sb_reset(&r->partial);
}

/* -- the report -- */

static void report_lost(struct reload *r, const char *table, const char *column, long long rows,
                        const char *why)
{
	struct strbuf *j = &r->jlost;
	if (column)
		log_at(LOG_WARN, &(struct log_ctx){r->db->dbname, NULL, -1},
		       "column %s.%s not carried over: %s (%lld row%s in the backup %s)", table,
		       column, why, rows, rows == 1 ? "" : "s", r->backup);
	else
		log_at(LOG_WARN, &(struct log_ctx){r->db->dbname, NULL, -1},
		       "table %s not carried over: %s (%lld row%s in the backup %s)", table, why,
		       rows, rows == 1 ? " stays" : "s stay", r->backup);
	sb_adds(j, r->nlost++ ? ",{" : "{");
	json_str(j, "table", table);
	if (column) {
		sb_adds(j, ",");
		json_str(j, "column", column);
	}
	sb_addf(j, ",\"rows\":%lld,", rows);
	json_str(j, "reason", why);
	sb_adds(j, "}");
}

static void report_reject(struct reload *r, const char *table, long line, const char *key,
                          const char *why)
{
	struct strbuf *j = &r->jrejected, where;

	r->failed = true;
	r->rows_rejected++;
	sb_init(&where);
	if (line > 0)
		sb_addf(&where, "backup line %ld", line);
	if (key && *key)
		sb_addf(&where, "%s%s", where.len ? ", " : "", key);
	if (r->table_rejects++ < LOG_REJECTS)
		log_at(LOG_ERROR, &(struct log_ctx){r->db->dbname, NULL, -1},
		       "table %s: row rejected%s%s%s: %s", table, where.len ? " (" : "", where.buf,
		       where.len ? ")" : "", why);
	sb_free(&where);
	sb_adds(j, r->nrejected_json++ ? ",{" : "{");
	json_str(j, "table", table);
	if (line > 0)
		sb_addf(j, ",\"backup_line\":%ld", line);
	if (key && *key) {
		sb_adds(j, ",");
		json_str(j, "key", key);
	}
	sb_adds(j, ",");
	json_str(j, "error", why);
	sb_adds(j, "}");
}

/* "message (detail)" of a failed result, on one line. */
static char *row_error(const PGresult *res, PGconn *pg)
{
	const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *det = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char *s = prim ? (det ? xasprintf("%s (%s)", prim, det) : xstrdup(prim))
	               : db_result_error(res, pg);
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return s;
}

/* Ends a COPY IN and returns its result's error, or NULL when it succeeded. */
static char *end_copy(struct reload *r, const char *abort_msg)
{
	PGconn *pg = r->db->pg;
	PGresult *res;
	char *why = NULL;

	if (PQputCopyEnd(pg, abort_msg) != 1)
		return db_result_error(NULL, pg);
	res = PQgetResult(pg);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		why = row_error(res, pg);
	PQclear(res);
	while ((res = PQgetResult(pg)) != NULL)
		PQclear(res);
	return why;
}

static bool savepoint(struct reload *r, const char *verb)
{
	char *e = NULL;
	char *sql = xasprintf("%s auzdb_resync", verb);
	bool ok = db_command(r->db, sql, 0, NULL, &e);
	free(sql);
	if (!ok)
		fatal(r, stmt_exit(r->db, e, AZ_EXIT_INTERNAL), e);
	return ok;
}

/* Back to the savepoint after a failure, and drop it. */
static void savepoint_undo(struct reload *r)
{
	if (savepoint(r, "ROLLBACK TO SAVEPOINT"))
		(void)savepoint(r, "RELEASE SAVEPOINT");
}

/* "id=42" (the row's primary key as the backup writes it), or NULL. */
static char *row_key(const struct reload *r, const char *line, size_t len)
{
	struct strbuf sb;
	if (!r->cur || !r->cur->npk)
		return NULL;
	sb_init(&sb);
	for (size_t k = 0; k < r->cur->npk; k++) {
		size_t off, n;
		if (r->pkf[k] < 0 || !pgtext_field(line, len, r->pkf[k], &off, &n)) {
			sb_free(&sb);
			return NULL;
		}
		sb_addf(&sb, "%s%s=", k ? ", " : "", r->cur->pk[k]);
		sb_add(&sb, line + off, n > 200 ? 200 : n);
	}
	return sb.buf; /* ours now: sb is not used again */
}

/* -- second pass: find the rejected rows by halving failed batches -- */

static bool copy_rows(struct reload *r, size_t from, size_t n, char **why)
{
	PGconn *pg = r->db->pg;
	PGresult *res;
	bool ok = true;

	if (!savepoint(r, "SAVEPOINT"))
		return true;
	res = PQexec(pg, r->copy_sql);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		*why = row_error(res, pg);
		PQclear(res);
		savepoint_undo(r);
		return false;
	}
	PQclear(res);
	for (size_t i = from; ok && i < from + n; i++) {
		size_t end = i + 1 < r->nchunk ? r->offs[i + 1] : r->chunk.len;
		ok = PQputCopyData(pg, r->chunk.buf + r->offs[i], (int)(end - r->offs[i])) == 1;
	}
	*why = end_copy(r, ok ? NULL : "sending failed");
	if (!*why)
		return savepoint(r, "RELEASE SAVEPOINT") || true;
	savepoint_undo(r);
	return false;
}

static void try_rows(struct reload *r, size_t from, size_t n)
{
	char *why = NULL;

	if (r->rc || !n)
		return;
	if (r->table_rejects >= MAX_REJECTS || signals_stop_requested()) {
		r->unchecked += (long long)n;
		return;
	}
	if (copy_rows(r, from, n, &why)) {
		free(why);
		return;
	}
	if (n == 1)
		report_reject(r, r->cur->name, r->lnos[from], r->keys[from], why);
	free(why);
	if (n > 1) {
		try_rows(r, from, n / 2);
		try_rows(r, from + n / 2, n - n / 2);
	}
}

static void flush_chunk(struct reload *r)
{
	try_rows(r, 0, r->nchunk);
	for (size_t i = 0; i < r->nchunk; i++)
		free(r->keys[i]);
	r->nchunk = 0;
	sb_reset(&r->chunk);
}

/* One whole row of the current block (without its '\n'). */
static void handle_row(struct reload *r, const char *line, size_t len)
{
	r->nrow++;
	if (r->mode == B_LOAD) {
		sb_reset(&r->line);
		pgtext_project(line, len, r->keep, r->hdr.ncols, &r->line);
		if (PQputCopyData(r->db->pg, r->line.buf, (int)r->line.len) != 1)
			fatal(r, AZ_EXIT_UNREACHABLE, db_result_error(NULL, r->db->pg));
		return;
	}
	/* B_DIAG */
	r->offs[r->nchunk] = r->chunk.len;
	r->lnos[r->nchunk] = r->data_line + (long)r->nrow;
	r->keys[r->nchunk] = row_key(r, line, len);
	pgtext_project(line, len, r->keep, r->hdr.ncols, &r->chunk);
	if (++r->nchunk == DIAG_CHUNK)
		flush_chunk(r);
}

/* -- the restore_scan sink -- */

static struct ttable *find_table(struct reload *r, const char *name)
{
	for (size_t i = 0; i < r->ntabs; i++)
		if (str_eq(r->tabs[i].name, name))
			return &r->tabs[i];
	return NULL;
}

/* Decides what happens to the block's rows: which columns go where. */
static void plan_block(struct reload *r, struct ttable *t)
{
	struct strbuf sql;
	int nkept = 0;

	r->keep = xcalloc((size_t)(r->hdr.ncols ? r->hdr.ncols : 1), sizeof *r->keep);
	r->pkf = xcalloc(t->npk ? t->npk : 1, sizeof *r->pkf);
	for (size_t k = 0; k < t->ncols; k++)
		t->cols[k].in_backup = false;
	for (int i = 0; i < r->hdr.ncols; i++) {
		for (size_t k = 0; k < t->ncols; k++) {
			if (!str_eq(t->cols[k].name, r->hdr.cols[i]))
				continue;
			t->cols[k].in_backup = true;
			if (!t->cols[k].generated) {
				r->keep[i] = 1;
				nkept++;
			}
		}
		if (!r->keep[i])
			r->project = true;
	}
	for (size_t k = 0; k < t->npk; k++) {
		r->pkf[k] = -1;
		for (int i = 0; i < r->hdr.ncols; i++)
			if (str_eq(r->hdr.cols[i], t->pk[k]))
				r->pkf[k] = i;
	}
	for (size_t k = 0; k < t->ncols && !r->lost_why; k++)
		if (t->cols[k].required && !t->cols[k].in_backup)
			r->lost_why = xasprintf("its new column %s is NOT NULL without a default",
			                        t->cols[k].name);
	if (!r->lost_why && nkept == 0)
		r->lost_why = xstrdup("it has no column in common with the new table");
	if (r->lost_why)
		return;
	sb_init(&sql);
	sb_addf(&sql, "COPY %s (", t->qname);
	nkept = 0;
	for (int i = 0; i < r->hdr.ncols; i++) {
		char *q;
		if (!r->keep[i])
			continue;
		q = PQescapeIdentifier(r->db->pg, r->hdr.cols[i], strlen(r->hdr.cols[i]));
		if (!q) {
			sb_free(&sql);
			fatal(r, AZ_EXIT_INTERNAL,
			      xasprintf("cannot quote column %s", r->hdr.cols[i]));
			return;
		}
		sb_addf(&sql, "%s%s", nkept++ ? ", " : "", q);
		PQfreemem(q);
	}
	sb_adds(&sql, ") FROM STDIN");
	r->copy_sql = sql.buf;
	r->cur = t;
}

/*
 * Remembers a "SELECT pg_catalog.setval('name', N, true|false);" of the
 * backup (how auzdb and pg_dump write sequence values).
 */
static void parse_setval(struct reload *r, const char *sql)
{
	const char *p = sql_skip_blank(sql), *v;
	struct strbuf name;
	bool called;

	if (!pgtext_keyword(&p, "select"))
		return;
	p = sql_skip_blank(p);
	if (strncmp(p, "pg_catalog.setval('", 19) != 0)
		return;
	sb_init(&name);
	for (p += 19; *p; p++) {
		if (*p == '\'') {
			if (p[1] != '\'')
				break;
			p++;
		}
		sb_addc(&name, *p);
	}
	if (*p++ != '\'' || *p++ != ',') {
		sb_free(&name);
		return;
	}
	p = sql_skip_blank(p);
	v = p;
	if (*p == '-')
		p++;
	while (isdigit((unsigned char)*p))
		p++;
	if (p == v || *p != ',') {
		sb_free(&name);
		return;
	}
	{
		char *value = xstrndup(v, (size_t)(p - v));
		p++;
		if (pgtext_keyword(&p, "true"))
			called = true;
		else if (pgtext_keyword(&p, "false"))
			called = false;
		else {
			free(value);
			sb_free(&name);
			return;
		}
		r->seq_name = xrealloc(r->seq_name, (r->nseq + 1) * sizeof *r->seq_name);
		r->seq_value = xrealloc(r->seq_value, (r->nseq + 1) * sizeof *r->seq_value);
		r->seq_called = xrealloc(r->seq_called, (r->nseq + 1) * sizeof *r->seq_called);
		r->seq_name[r->nseq] = name.buf; /* ours now */
		r->seq_value[r->nseq] = value;
		r->seq_called[r->nseq++] = called;
	}
}

static bool on_statement(void *arg, const char *sql, long first_line, long token_line)
{
	struct reload *r = arg;
	struct ttable *t;
	int k;

	(void)first_line;
	free_block(r);
	k = pgtext_parse_copy(sql, &r->hdr);
	if (k == 0) {
		if (!r->second_pass)
			parse_setval(r, sql);
		return false;
	}
	r->data_line = token_line;
	if (!r->rc && signals_stop_requested())
		fatal(r, AZ_EXIT_INTERRUPTED, xstrdup("interrupted by a stop signal"));
	if (r->rc)
		return true;
	if (k < 0) {
		if (!r->second_pass)
			log_at(
			    LOG_WARN, &(struct log_ctx){r->db->dbname, NULL, -1},
			    "the COPY statement at line %ld of %s is not understood; its rows are "
			    "not carried over",
			    token_line, r->backup);
		return true;
	}
	if ((r->hdr.schema && !str_eq(r->hdr.schema, r->db->schema)) ||
	    str_eq(r->hdr.table, "_prisma_migrations"))
		return true; /* other schemas were not reset; the new ledger stands */
	t = find_table(r, r->hdr.table);
	if (!t) {
		r->lost_why = xstrdup("it is not in the new schema");
		return true;
	}
	if (r->second_pass && !t->failed)
		return true;
	plan_block(r, t);
	if (r->rc || r->lost_why)
		return true;
	if (r->second_pass) {
		r->mode = B_DIAG;
		r->table_rejects = 0;
		r->unchecked = 0;
		return true;
	}
	if (!savepoint(r, "SAVEPOINT"))
		return true;
	{
		PGresult *res = PQexec(r->db->pg, r->copy_sql);
		if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
			char *why = row_error(res, r->db->pg);
			PQclear(res);
			savepoint_undo(r);
			r->table_rejects = 0;
			report_reject(r, t->name, 0, NULL, why);
			free(why);
			return true;
		}
		PQclear(res);
	}
	r->copy_open = true;
	r->mode = B_LOAD;
	return true;
}

static void on_copy_data(void *arg, const char *data, size_t n)
{
	struct reload *r = arg;
	const char *p = data, *end = data + n;

	if (r->rc || r->mode == B_SKIP)
		return;
	if (r->mode == B_LOAD && !r->project) {
		if (PQputCopyData(r->db->pg, data, (int)n) != 1)
			fatal(r, AZ_EXIT_UNREACHABLE, db_result_error(NULL, r->db->pg));
		return;
	}
	while (p < end && !r->rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			sb_add(&r->partial, p, (size_t)(end - p));
			break;
		}
		sb_add(&r->partial, p, (size_t)(nl - p));
		handle_row(r, r->partial.buf, r->partial.len);
		sb_reset(&r->partial);
		p = nl + 1;
	}
}

static void table_json(struct reload *r, const struct ttable *t)
{
	struct strbuf *j = &r->jtables;
	size_t nnew = 0;

	sb_adds(j, r->ntables_json++ ? ",{" : "{");
	json_str(j, "table", t->name);
	sb_addf(j, ",\"rows\":%lld,\"new_columns\":[", t->rows);
	for (size_t k = 0; k < t->ncols; k++) {
		if (t->cols[k].in_backup || t->cols[k].generated)
			continue;
		sb_adds(j, nnew++ ? ",\"" : "\"");
		sb_add_json(j, t->cols[k].name);
		sb_adds(j, "\"");
		log_at(LOG_INFO, &(struct log_ctx){r->db->dbname, NULL, -1},
		       "column %s.%s is new: its rows get the column's default", t->name,
		       t->cols[k].name);
	}
	sb_adds(j, "]}");
}

static void on_copy_end(void *arg, long long rows)
{
	struct reload *r = arg;
	struct ttable *t = r->cur;

	if (r->rc) {
		if (r->copy_open) {
			free(end_copy(r, "resync stopped"));
			r->copy_open = false;
		}
		return;
	}
	if (r->mode == B_SKIP) {
		if (!r->second_pass && r->lost_why && r->hdr.table)
			report_lost(r, r->hdr.table, NULL, rows, r->lost_why);
		return;
	}
	if (r->partial.len) { /* a last row without its newline */
		handle_row(r, r->partial.buf, r->partial.len);
		sb_reset(&r->partial);
	}
	if (r->mode == B_DIAG) {
		flush_chunk(r);
		if (r->unchecked)
			log_at(LOG_ERROR, &(struct log_ctx){r->db->dbname, NULL, -1},
			       "table %s: %lld more row%s not checked after %d rejected rows",
			       t->name, r->unchecked, r->unchecked == 1 ? "" : "s", MAX_REJECTS);
		else if (r->table_rejects > LOG_REJECTS)
			log_at(LOG_ERROR, &(struct log_ctx){r->db->dbname, NULL, -1},
			       "table %s: %ld rows rejected in all (the report lists them)",
			       t->name, r->table_rejects);
		return;
	}
	/* B_LOAD */
	{
		char *why = end_copy(r, NULL);
		r->copy_open = false;
		if (why) {
			log_at(LOG_WARN, &(struct log_ctx){r->db->dbname, NULL, -1},
			       "table %s: the backup's rows do not all fit the new table (%s); "
			       "looking for every rejected row",
			       t->name, why);
			free(why);
			savepoint_undo(r);
			t->failed = true;
			r->failed = true;
		} else if (savepoint(r, "RELEASE SAVEPOINT")) {
			t->loaded = true;
			t->rows = rows;
			r->rows_loaded += rows;
			table_json(r, t);
		}
	}
	for (int i = 0; i < r->hdr.ncols; i++) {
		bool generated = false;
		for (size_t k = 0; k < t->ncols; k++)
			generated |=
			    str_eq(t->cols[k].name, r->hdr.cols[i]) && t->cols[k].generated;
		if (!r->keep[i] && !generated)
			report_lost(r, t->name, r->hdr.cols[i], rows, "it is not in the new table");
	}
}

/* -- foreign keys, triggers and sequences around the load -- */

/*
 * The foreign keys of the schema: how to drop and add each back, and the
 * query that lists the rows breaking it (built while the key still exists).
 */
static const char q_fkeys[] =
    "SELECT co.oid, c.relname, co.conname, "
    "  format('ALTER TABLE %I.%I DROP CONSTRAINT %I', n.nspname, c.relname, co.conname), "
    "  format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', n.nspname, c.relname, co.conname, "
    "  pg_catalog.pg_get_constraintdef(co.oid)), "
    "  (SELECT format('SELECT concat_ws('', '', %s) FROM %I.%I c WHERE %s AND NOT EXISTS "
    "   (SELECT 1 FROM %I.%I p WHERE %s) LIMIT %s', "
    "   string_agg(format('%L || ''='' || c.%I::text', ca.attname, ca.attname), ', ' "
    "    ORDER BY k.i), n.nspname, c.relname, "
    "   string_agg(format('c.%I IS NOT NULL', ca.attname), ' AND ' ORDER BY k.i), "
    "   pn.nspname, pc.relname, "
    "   string_agg(format('p.%I = c.%I', pa.attname, ca.attname), ' AND ' ORDER BY k.i), "
    "   $2::text) "
    "   FROM unnest(co.conkey, co.confkey) WITH ORDINALITY AS k(a, b, i) "
    "   JOIN pg_catalog.pg_attribute ca ON ca.attrelid = co.conrelid AND ca.attnum = k.a "
    "   JOIN pg_catalog.pg_attribute pa ON pa.attrelid = co.confrelid AND pa.attnum = k.b "
    "   JOIN pg_catalog.pg_class pc ON pc.oid = co.confrelid "
    "   JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace "
    "   GROUP BY pn.nspname, pc.relname) "
    "FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE co.contype = 'f' AND n.nspname = $1 AND co.conparentid = 0 ORDER BY co.oid";

static const char q_triggers[] =
    "SELECT format('ALTER TABLE %I.%I DISABLE TRIGGER %I', n.nspname, c.relname, t.tgname), "
    "  format('ALTER TABLE %I.%I ENABLE %sTRIGGER %I', n.nspname, c.relname, "
    "  CASE t.tgenabled WHEN 'A' THEN 'ALWAYS ' WHEN 'R' THEN 'REPLICA ' ELSE '' END, "
    "  t.tgname) "
    "FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND n.nspname = $1 "
    "ORDER BY c.oid, t.tgname";

static const char q_sequences[] =
    "SELECT format('SELECT pg_catalog.setval(%L, x.m) FROM (SELECT max(%I) AS m FROM %I.%I) x, "
    "%I.%I s WHERE x.m > s.last_value OR (NOT s.is_called AND x.m >= s.last_value)', "
    "format('%I.%I', sn.nspname, s.relname), a.attname, tn.nspname, t.relname, sn.nspname, "
    "s.relname), format('%I.%I', sn.nspname, s.relname) "
    "FROM pg_catalog.pg_depend d "
    "JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
    "JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace "
    "JOIN pg_catalog.pg_class t ON t.oid = d.refobjid "
    "JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
    "WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
    "  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
    "  AND d.deptype IN ('a', 'i') AND tn.nspname = $1 ORDER BY 2";

/* Adds a dropped foreign key back; when rows break it, reports each (up to MAX_REJECTS). */
static void restore_fkey(struct reload *r, PGresult *fks, int i)
{
	const char *table = PQgetvalue(fks, i, 1), *name = PQgetvalue(fks, i, 2);
	char *e = NULL;
	PGresult *rows;

	if (!savepoint(r, "SAVEPOINT"))
		return;
	if (db_command(r->db, PQgetvalue(fks, i, 4), 0, NULL, &e)) {
		(void)savepoint(r, "RELEASE SAVEPOINT");
		return;
	}
	savepoint_undo(r);
	free(e);
	e = NULL;
	if (r->rc)
		return;
	r->table_rejects = 0;
	rows = PQgetisnull(fks, i, 5)
	           ? NULL
	           : db_query(r->db, PQgetvalue(fks, i, 5), 0, NULL, PGRES_TUPLES_OK, &e);
	if (!rows || PQntuples(rows) == 0) {
		char *why = xasprintf("foreign key %s cannot be added back: %s", name,
		                      e ? e : "no offending row found");
		report_reject(r, table, 0, NULL, why);
		free(why);
	}
	for (int k = 0; rows && k < PQntuples(rows) && k < MAX_REJECTS; k++) {
		char *why =
		    xasprintf("violates foreign key %s: the row it refers to is not there", name);
		report_reject(r, table, 0, PQgetvalue(rows, k, 0), why);
		free(why);
	}
	if (rows && PQntuples(rows) > MAX_REJECTS)
		log_at(LOG_ERROR, &(struct log_ctx){r->db->dbname, NULL, -1},
		       "table %s: more rows break foreign key %s than the %d listed", table, name,
		       MAX_REJECTS);
	free(e);
	PQclear(rows);
}

/* The backup's value of each sequence that the new schema still has. */
static void carry_sequence_values(struct reload *r)
{
	for (size_t i = 0; i < r->nseq && !r->rc; i++) {
		const char *params[4] = {r->seq_name[i], r->seq_value[i],
		                         r->seq_called[i] ? "true" : "false", r->db->schema};
		char *e = NULL;
		PGresult *res;

		if (!savepoint(r, "SAVEPOINT"))
			break;
		res = db_query(r->db,
		               "SELECT pg_catalog.setval(c.oid, $2::bigint, $3::boolean) FROM "
		               "pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
		               "c.relnamespace WHERE c.oid = pg_catalog.to_regclass($1::text) AND "
		               "c.relkind = 'S' AND n.nspname = $4::text",
		               4, params, PGRES_TUPLES_OK, &e);
		if (res) {
			if (PQntuples(res) == 0)
				log_at(LOG_WARN, &(struct log_ctx){r->db->dbname, NULL, -1},
				       "sequence %s not carried over: it is not in the new schema "
				       "(its value was %s)",
				       r->seq_name[i], r->seq_value[i]);
			PQclear(res);
			(void)savepoint(r, "RELEASE SAVEPOINT");
			continue;
		}
		savepoint_undo(r);
		log_at(LOG_WARN, &(struct log_ctx){r->db->dbname, NULL, -1},
		       "sequence %s: the backup's value %s cannot be set: %s", r->seq_name[i],
		       r->seq_value[i], e);
		free(e);
	}
}

static void fix_sequences(struct reload *r)
{
	const char *params[1] = {r->db->schema};
	char *e = NULL;
	PGresult *list;

	carry_sequence_values(r);
	if (r->rc)
		return;
	list = db_query(r->db, q_sequences, 1, params, PGRES_TUPLES_OK, &e);

	if (!list) {
		fatal(r, stmt_exit(r->db, e, AZ_EXIT_INTERNAL), e);
		return;
	}
	for (int i = 0; i < PQntuples(list) && !r->rc; i++) {
		PGresult *res;
		if (!savepoint(r, "SAVEPOINT"))
			break;
		res = db_query(r->db, PQgetvalue(list, i, 0), 0, NULL, PGRES_TUPLES_OK, &e);
		if (res) {
			PQclear(res);
			(void)savepoint(r, "RELEASE SAVEPOINT");
			continue;
		}
		savepoint_undo(r);
		{
			char *why = xasprintf("sequence %s cannot follow the reloaded rows: %s",
			                      PQgetvalue(list, i, 1), e);
			r->table_rejects = 0;
			report_reject(r, PQgetvalue(list, i, 1), 0, NULL, why);
			free(why);
		}
		free(e);
		e = NULL;
	}
	PQclear(list);
}

/*
 * Inside the open transaction, after the migrations: loads the rows of the
 * backup at path into the tables of the same names, the columns both have.
 * Appends the report's fields to json.  Returns AZ_EXIT_OK, AZ_EXIT_MIGRATION
 * when rows were rejected (the caller rolls back), or another code.
 */
static int reload_data(struct dbconn *db, const char *path, struct strbuf *json, char **err)
{
	struct reload r;
	struct restore_sink sink = {on_statement, on_copy_data, on_copy_end, NULL};
	char limit[16];
	const char *params[2] = {db->schema, limit};
	PGresult *fks = NULL, *trg = NULL;
	int rc;

	memset(&r, 0, sizeof r);
	r.db = db;
	r.backup = path;
	sink.arg = &r;
	sb_init(&r.partial);
	sb_init(&r.line);
	sb_init(&r.chunk);
	sb_init(&r.jtables);
	sb_init(&r.jlost);
	sb_init(&r.jrejected);
	r.offs = xcalloc(DIAG_CHUNK, sizeof *r.offs);
	r.lnos = xcalloc(DIAG_CHUNK, sizeof *r.lnos);
	r.keys = xcalloc(DIAG_CHUNK, sizeof *r.keys);

	rc = load_target(&r, err);
	if (!rc) {
		snprintf(limit, sizeof limit, "%d", MAX_REJECTS + 1);
		fks = db_query(db, q_fkeys, 2, params, PGRES_TUPLES_OK, err);
		trg = fks ? db_query(db, q_triggers, 1, params, PGRES_TUPLES_OK, err) : NULL;
		if (!trg || !run_each(db, fks, 3, err) || !run_each(db, trg, 0, err))
			rc = stmt_exit(db, *err, AZ_EXIT_INTERNAL);
	}
	if (!rc) {
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, -1},
		       "reloading the rows of %s into %zu tables (foreign keys checked after the "
		       "load, triggers off during it)",
		       path, r.ntabs);
		rc = restore_scan_file(path, &sink);
		if (rc && !r.rc)
			fatal(&r, rc, xasprintf("reading the backup %s failed", path));
		if (r.copy_open) {
			free(end_copy(&r, "resync stopped"));
			r.copy_open = false;
		}
		free_block(&r);
		if (!r.rc && r.failed) {
			bool any = false;
			for (size_t i = 0; i < r.ntabs; i++)
				any |= r.tabs[i].failed;
			if (any) {
				r.second_pass = true;
				rc = restore_scan_file(path, &sink);
				if (rc && !r.rc)
					fatal(&r, rc,
					      xasprintf("reading the backup %s failed", path));
				free_block(&r);
			}
		}
		if (!r.rc && !r.failed)
			for (int i = 0; i < PQntuples(fks) && !r.rc; i++)
				restore_fkey(&r, fks, i);
		if (!r.rc && !r.failed && !run_each(db, trg, 1, err))
			fatal(&r, stmt_exit(db, *err, AZ_EXIT_INTERNAL), xstrdup(*err));
		if (!r.rc && !r.failed)
			fix_sequences(&r);
		rc = r.rc ? r.rc : r.failed ? AZ_EXIT_MIGRATION : AZ_EXIT_OK;
		if (r.rc) {
			free(*err);
			*err = r.err;
			r.err = NULL;
		} else if (r.failed) {
			*err =
			    xasprintf("%lld row%s of the backup %s not fit the new schema (the log "
			              "and the report name %s)",
			              r.rows_rejected, r.rows_rejected == 1 ? "" : "s",
			              r.rows_rejected == 1 ? "does" : "do",
			              r.rows_rejected == 1 ? "it" : "them");
		}
	}
	sb_addf(json, ",\"rows_loaded\":%lld,\"rows_rejected\":%lld,\"tables\":[%s]", r.rows_loaded,
	        r.rows_rejected, r.jtables.buf);
	sb_addf(json, ",\"not_carried_over\":[%s],\"rejected_rows\":[%s]", r.jlost.buf,
	        r.jrejected.buf);
	if (!rc)
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, -1},
		       "reloaded %lld row%s into %zu table%s; %zu table%s or column%s not carried "
		       "over",
		       r.rows_loaded, r.rows_loaded == 1 ? "" : "s", r.ntables_json,
		       r.ntables_json == 1 ? "" : "s", r.nlost, r.nlost == 1 ? "" : "s",
		       r.nlost == 1 ? "" : "s");
	PQclear(fks);
	PQclear(trg);
	free_block(&r);
	for (size_t i = 0; i < r.nchunk; i++)
		free(r.keys[i]);
	free(r.offs);
	free(r.lnos);
	free(r.keys);
	free(r.err);
	sb_free(&r.partial);
	sb_free(&r.line);
	sb_free(&r.chunk);
	sb_free(&r.jtables);
	sb_free(&r.jlost);
	sb_free(&r.jrejected);
	for (size_t i = 0; i < r.nseq; i++) {
		free(r.seq_name[i]);
		free(r.seq_value[i]);
	}
	free(r.seq_name);
	free(r.seq_value);
	free(r.seq_called);
	free_target(&r);
	return rc;
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
				rc = stmt_exit(&db, err, AZ_EXIT_UNREACHABLE);
			if (!rc)
				rc = empty_schema(&db, &err);
			if (!rc)
				rc = migrate_all_in_txn(&db, &set, &enum_conflict, &err);
			if (!rc && resync)
				rc = reload_data(&db, file, &data, &err);
			if (!rc && !db_command(&db, "COMMIT", 0, NULL, &err))
				rc = stmt_exit(&db, err, AZ_EXIT_MIGRATION);
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
				rc = stmt_exit(&db, err, AZ_EXIT_UNREACHABLE);
			if (!rc)
				rc = empty_schema(&db, &err);
			if (!rc && !db_command(&db, "COMMIT", 0, NULL, &err))
				rc = stmt_exit(&db, err, AZ_EXIT_INTERNAL);
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
					rc = stmt_exit(&db, err, AZ_EXIT_UNREACHABLE);
				if (!rc)
					rc = reload_data(&db, file, &data, &err);
				if (!rc && !db_command(&db, "COMMIT", 0, NULL, &err))
					rc = stmt_exit(&db, err, AZ_EXIT_MIGRATION);
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
	json_str(&json, "database", db.dbname);
	sb_adds(&json, ",");
	json_str(&json, "schema", db.schema);
	sb_addf(&json, ",\"set\":\"%s\",", set_kind_name(kind));
	json_str(&json, "backup_file", file);
	sb_addf(&json, ",\"transactional\":%s,\"migrations_applied\":%zu,",
	        transactional ? "true" : "false", applied);
	json_str(&json, "result", result);
	sb_addf(&json, ",\"exit_code\":%d,\"exit_name\":\"%s\"", rc, az_exit_name(rc));
	if (rc) {
		sb_adds(&json, ",");
		json_str(&json, "error", err);
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
