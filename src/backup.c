/* backup.c - see backup.h */
#define _POSIX_C_SOURCE 200809L
#include "backup.h"

#include "backup_catalog.h"
#include "compress.h"
#include "exitcodes.h"
#include "log.h"
#include "signals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef AUZDB_VERSION
#define AUZDB_VERSION "unknown"
#endif

/* ---- the dump -------------------------------------------------------- */

struct dump {
	struct dbconn *db;
	struct gz_writer *w;
	struct dump_info *info;
	long lock_timeout_s;
	char *err;   /* first error not from the writer */
	bool owners; /* --with-owners: owners and privileges too */
	/* progress on a TTY: uncompressed bytes, rate, the table being read */
	bool progress;
	long long p_start, p_last;
	unsigned long long p_bytes;
	const char *p_table;
};

void dump_info_free(struct dump_info *in)
{
	for (size_t i = 0; i < in->ntables; i++)
		free(in->tables[i].name);
	free(in->tables);
	free(in->server_version);
	memset(in, 0, sizeof *in);
}

/* One progress line on stderr (a TTY), at most every 250 ms; final clears it. */
static void progress(struct dump *d, bool final)
{
	long long now;
	double secs;

	if (!d->progress)
		return;
	now = now_ms();
	if (!final && d->p_last && now - d->p_last < 250)
		return;
	if (!d->p_start)
		d->p_start = now;
	d->p_last = now;
	secs = (double)(now - d->p_start) / 1000.0;
	if (final) {
		fputs("\r\033[K", stderr);
	} else {
		fputs("\r\033[Kbacking up ", stderr);
		for (const char *p = d->db->dbname; *p; p++)
			fputc((unsigned char)*p < 0x20 ? '?' : *p, stderr);
		fprintf(stderr, ": %.1f MiB, %.1f MiB/s%s%s", (double)d->p_bytes / 1048576.0,
		        secs > 0.05 ? (double)d->p_bytes / 1048576.0 / secs : 0.0,
		        d->p_table ? ", table " : "", d->p_table ? d->p_table : "");
	}
	fflush(stderr);
}

static bool put(struct dump *d, const char *s)
{
	size_t n = strlen(s);
	d->p_bytes += n;
	return gzw_write(d->w, s, n);
}

static bool dump_fail(struct dump *d, char *err)
{
	if (!d->err)
		d->err = err;
	else
		free(err);
	return false;
}

static PGresult *rows(struct dump *d, const char *sql, const char *what)
{
	char *e = NULL;
	PGresult *res = db_query(d->db, sql, 0, NULL, PGRES_TUPLES_OK, &e);
	if (!res) {
		dump_fail(d, xasprintf("reading %s failed: %s", what, e));
		free(e);
	}
	return res;
}

/* Writes every row's first column as one statement, under a section header. */
static bool section(struct dump *d, const char *title, const char *sql)
{
	PGresult *res = rows(d, sql, title);
	bool ok = res != NULL;

	if (ok && PQntuples(res) > 0) {
		ok = put(d, "\n--\n-- ") && put(d, title) && put(d, "\n--\n\n");
		for (int i = 0; ok && i < PQntuples(res); i++)
			ok = put(d, PQgetvalue(res, i, 0)) && put(d, "\n");
	}
	PQclear(res);
	return ok;
}

static bool functions(struct dump *d, bool late)
{
	PGresult *res = rows(d, catalog_functions, "functions");
	bool ok = res != NULL, titled = false;

	for (int i = 0; ok && i < PQntuples(res); i++) {
		if ((PQgetvalue(res, i, 1)[0] == 't') != late)
			continue;
		if (!titled) {
			titled = true;
			ok = put(d, late ? "\n--\n-- functions using tables\n--\n\n"
			                 : "\n--\n-- functions and procedures\n--\n\n");
		}
		ok = ok && put(d, PQgetvalue(res, i, 0)) && put(d, "\n");
	}
	PQclear(res);
	return ok;
}

/* Asks the server to stop a COPY we no longer want, then drains it. */
static void abandon_copy(PGconn *pg)
{
	PGcancel *c = PQgetCancel(pg);
	char buf[256];
	char *row;
	PGresult *res;

	if (c) {
		(void)PQcancel(c, buf, sizeof buf);
		PQfreeCancel(c);
	}
	while (PQgetCopyData(pg, &row, 0) > 0)
		PQfreemem(row);
	while ((res = PQgetResult(pg)) != NULL)
		PQclear(res);
}

/* "nsp"."rel" quoted by libpq for statements we run; NULL on failure. */
static char *exec_name(PGconn *pg, const char *nsp, const char *rel)
{
	char *qn = PQescapeIdentifier(pg, nsp, strlen(nsp));
	char *qr = PQescapeIdentifier(pg, rel, strlen(rel));
	char *out = qn && qr ? xasprintf("%s.%s", qn, qr) : NULL;
	PQfreemem(qn);
	PQfreemem(qr);
	return out;
}

/*
 * Wide rows.  libpq holds a whole COPY row twice (its input buffer and the
 * copy PQgetCopyData returns), so a 10 MB value would cost 20 MB.  Rows
 * with a value stored out of line above these sizes are left out of the
 * table's COPY and written afterwards as COPY lines of their own, each
 * value fetched in slices: its text form (the type's output function, as
 * COPY uses) escaped as COPY's text format needs (backslash, newline,
 * carriage return, tab).
 */
#define WIDE_STORED (256 * 1024)  /* pg_column_size: the stored, maybe compressed, size */
#define WIDE_RAW    (1024 * 1024) /* octet_length of text, varchar and bytea */
#define WIDE_SLICE  (1024 * 1024) /* characters per fetch */
/* clang-format off */
#define COPY_ESCAPE(x) \
	"pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(" x ",\n" \
	"  E'\\\\', E'\\\\\\\\'), E'\\n', E'\\\\n'), E'\\r', E'\\\\r'), E'\\t', E'\\\\t')"
/*
 * One slice of a value (printf arguments: WIDE_SLICE twice, the quoted
 * column twice, the table): $2 is where it starts, $1 the row's ctid.
 * Answers the slice, whether the value is NULL, and whether it ends there.
 */
#define WIDE_SLICE_SQL \
	"SELECT pg_catalog.substr(e, $2::int, %d), n, pg_catalog.char_length(e) < $2::int + %d\n" \
	"FROM (SELECT " COPY_ESCAPE("pg_catalog.format('%%s', %s)") " AS e,\n" \
	"             pg_catalog.num_nulls(%s) = 1 AS n\n" \
	"      FROM ONLY %s WHERE ctid = $1::pg_catalog.tid) s"
/* clang-format on */

/* Writes the row at ctid of table name as one COPY text line, value by value. */
static bool copy_wide_row(struct dump *d, const char *name, const struct catalog_table *t,
                          PGresult *cols, const char *ctid)
{
	bool ok = true, first = true;

	for (int k = 0; ok && k < t->ncols; k++) {
		int r = t->col0 + k;
		const char *col = PQgetvalue(cols, r, CC_NAME);
		char *q, *sql, pos[32];
		const char *params[2] = {ctid, pos};

		if (PQgetvalue(cols, r, CC_GENERATED)[0] == 's')
			continue;
		q = PQescapeIdentifier(d->db->pg, col, strlen(col));
		if (!q)
			return dump_fail(d, xasprintf("cannot quote a column of %s", t->qname));
		sql = xasprintf(WIDE_SLICE_SQL, WIDE_SLICE, WIDE_SLICE, q, q, name);
		PQfreemem(q);
		ok = first || put(d, "\t");
		first = false;
		for (long p = 1; ok; p += WIDE_SLICE) {
			char *e = NULL;
			PGresult *res;
			snprintf(pos, sizeof pos, "%ld", p);
			res = db_query(d->db, sql, 2, params, PGRES_TUPLES_OK, &e);
			if (!res || PQntuples(res) != 1) {
				ok = dump_fail(d, xasprintf("reading a wide row of %s failed: %s",
				                            t->qname, e ? e : "the row is gone"));
				free(e);
				PQclear(res);
				break;
			}
			if (PQgetvalue(res, 0, 1)[0] == 't') {
				ok = put(d, "\\N");
			} else {
				size_t n = (size_t)PQgetlength(res, 0, 0);
				ok = gzw_write(d->w, PQgetvalue(res, 0, 0), n);
				d->p_bytes += n;
				progress(d, false);
			}
			if (PQgetvalue(res, 0, 1)[0] == 't' || PQgetvalue(res, 0, 2)[0] != 'f') {
				PQclear(res);
				break;
			}
			PQclear(res);
		}
		free(sql);
	}
	return ok && put(d, "\n");
}

/* The column lists of one table's COPY. */
struct copy_cols {
	struct strbuf head; /* for the script, quoted by the server */
	struct strbuf sql;  /* for our COPY, quoted by libpq */
	struct strbuf wide; /* the condition for a wide row, or empty */
	int n;              /* columns copied: generated ones are not */
};

static bool copy_columns(struct dump *d, const struct catalog_table *t, PGresult *cols,
                         struct copy_cols *cc)
{
	PGconn *pg = d->db->pg;

	for (int k = 0; k < t->ncols; k++) {
		int r = t->col0 + k;
		const char *col = PQgetvalue(cols, r, CC_NAME);
		char *q;
		if (PQgetvalue(cols, r, CC_GENERATED)[0] == 's')
			continue; /* generated columns are computed again on restore */
		q = PQescapeIdentifier(pg, col, strlen(col));
		if (!q)
			return dump_fail(d, xasprintf("cannot quote a column of %s: %s", t->qname,
			                              PQerrorMessage(pg)));
		sb_addf(&cc->head, "%s%s", cc->n ? ", " : "", PQgetvalue(cols, r, CC_QNAME));
		sb_addf(&cc->sql, "%s%s", cc->n ? ", " : "", q);
		if (t->toast && str_eq(PQgetvalue(cols, r, CC_TYPLEN), "-1")) {
			sb_addf(&cc->wide, "%spg_catalog.pg_column_size(%s) > %d",
			        cc->wide.len ? " OR " : "", q, WIDE_STORED);
			if (PQgetvalue(cols, r, CC_TEXTLIKE)[0] == 't')
				sb_addf(&cc->wide, " OR pg_catalog.octet_length(%s) > %d", q,
				        WIDE_RAW);
		}
		PQfreemem(q);
		cc->n++;
	}
	return true;
}

/* The ctids of the wide rows of table name in *wrows, or NULL when there are none. */
static bool find_wide_rows(struct dump *d, const struct catalog_table *t, const char *name,
                           const struct copy_cols *cc, PGresult **wrows)
{
	char *e = NULL,
	     *w = xasprintf("SELECT ctid FROM ONLY %s WHERE %s ORDER BY ctid", name, cc->wide.buf);

	*wrows = db_query(d->db, w, 0, NULL, PGRES_TUPLES_OK, &e);
	free(w);
	if (!*wrows) {
		dump_fail(d, xasprintf("looking for wide rows in %s failed: %s", t->qname, e));
		free(e);
		return false;
	}
	if (PQntuples(*wrows) == 0) {
		PQclear(*wrows);
		*wrows = NULL;
	}
	return true;
}

/* Writes "COPY ... FROM stdin;" and starts our COPY ... TO STDOUT (without wide rows). */
static bool copy_begin(struct dump *d, const struct catalog_table *t, const char *name,
                       const struct copy_cols *cc, bool skip_wide)
{
	PGconn *pg = d->db->pg;
	PGresult *res;
	char *h = cc->n ? xasprintf("COPY %s (%s) FROM stdin;\n", t->qname, cc->head.buf)
	                : xasprintf("COPY %s FROM stdin;\n", t->qname);
	char *x = skip_wide ? xasprintf("COPY (SELECT %s FROM ONLY %s WHERE NOT "
	                                "COALESCE(%s, false)) TO STDOUT",
	                                cc->sql.buf, name, cc->wide.buf)
	          : cc->n   ? xasprintf("COPY %s (%s) TO STDOUT", name, cc->sql.buf)
	                    : xasprintf("COPY %s TO STDOUT", name);
	bool ok = put(d, h);

	free(h);
	if (ok) {
		res = PQexec(pg, x);
		if (!res || PQresultStatus(res) != PGRES_COPY_OUT) {
			char *e = db_result_error(res, pg);
			ok = dump_fail(d, xasprintf("COPY %s failed: %s", t->qname, e));
			free(e);
		}
		PQclear(res);
	}
	free(x);
	return ok;
}

/* Streams the COPY in progress into the dump and checks how it ended; counts rows. */
static bool copy_rows(struct dump *d, const struct catalog_table *t, long long *nrows)
{
	PGconn *pg = d->db->pg;
	PGresult *res;
	char *row;
	int n = -1;
	bool ok = true;

	while (ok && (n = PQgetCopyData(pg, &row, 0)) > 0) {
		ok = gzw_write(d->w, row, (size_t)n);
		PQfreemem(row);
		d->p_bytes += (unsigned long long)n;
		if ((++*nrows & 255) == 0)
			progress(d, false);
	}
	if (!ok) {
		if (PQstatus(pg) == CONNECTION_OK)
			abandon_copy(pg);
		return false;
	}
	if (n == -2) {
		char *e = db_result_error(NULL, pg);
		ok = dump_fail(d, xasprintf("COPY %s failed: %s", t->qname, e));
		free(e);
	}
	res = PQgetResult(pg);
	if (ok && (!res || PQresultStatus(res) != PGRES_COMMAND_OK)) {
		char *e = db_result_error(res, pg);
		ok = dump_fail(d, xasprintf("COPY %s failed: %s", t->qname, e));
		free(e);
	}
	PQclear(res);
	while ((res = PQgetResult(pg)) != NULL) /* none expected */
		PQclear(res);
	return ok;
}

/* COPY one table out: "COPY name (cols) FROM stdin;", the rows, "\.". */
static bool copy_table(struct dump *d, const struct catalog_table *t, PGresult *cols)
{
	struct copy_cols cc = {.n = 0};
	PGresult *wrows = NULL;
	PGconn *pg = d->db->pg;
	long long nrows = 0;
	char *name;
	bool ok;

	if (signals_stop_requested())
		return dump_fail(d, xasprintf("interrupted by %s", signals_stop_reason()));
	name = exec_name(pg, t->nsp, t->rel);
	if (!name)
		return dump_fail(d, xasprintf("cannot quote %s: %s", t->qname, PQerrorMessage(pg)));
	sb_init(&cc.head);
	sb_init(&cc.sql);
	sb_init(&cc.wide);
	ok = copy_columns(d, t, cols, &cc);
	if (ok && cc.wide.len)
		ok = find_wide_rows(d, t, name, &cc, &wrows);
	ok = ok && copy_begin(d, t, name, &cc, wrows != NULL);
	d->p_table = t->qname;
	progress(d, false);
	ok = ok && copy_rows(d, t, &nrows);
	for (int i = 0; ok && wrows && i < PQntuples(wrows); i++) {
		ok = copy_wide_row(d, name, t, cols, PQgetvalue(wrows, i, 0));
		nrows++;
	}
	d->p_table = NULL;
	ok = ok && put(d, "\\.\n\n");
	if (ok) {
		struct dump_info *in = d->info;
		in->tables = xrealloc(in->tables, (in->ntables + 1) * sizeof *in->tables);
		in->tables[in->ntables].name = xstrdup(t->qname);
		in->tables[in->ntables++].rows = nrows;
	}
	sb_free(&cc.head);
	sb_free(&cc.sql);
	sb_free(&cc.wide);
	PQclear(wrows);
	free(name);
	return ok;
}

/* LOCK every table we read, so concurrent DDL waits for the dump. */
static bool lock_tables(struct dump *d, const struct catalog_table *tabs, size_t n)
{
	struct strbuf sb;
	char timeout[32], *e = NULL;
	const char *params[1] = {timeout};
	PGresult *res;
	bool ok = true;

	if (!n)
		return true;
	snprintf(timeout, sizeof timeout, "%lds", d->lock_timeout_s);
	res = db_query(d->db, "SELECT pg_catalog.set_config('lock_timeout', $1, true)", 1, params,
	               PGRES_TUPLES_OK, &e);
	if (!res) {
		dump_fail(d, xasprintf("cannot set lock_timeout: %s", e));
		free(e);
		return false;
	}
	PQclear(res);
	sb_init(&sb);
	sb_adds(&sb, "LOCK TABLE ");
	for (size_t i = 0; ok && i < n; i++) {
		char *qn = PQescapeIdentifier(d->db->pg, tabs[i].nsp, strlen(tabs[i].nsp));
		char *qr = PQescapeIdentifier(d->db->pg, tabs[i].rel, strlen(tabs[i].rel));
		if (qn && qr)
			sb_addf(&sb, "%s%s.%s", i ? ", " : "", qn, qr);
		else
			ok = dump_fail(d, xasprintf("cannot quote %s", tabs[i].qname));
		PQfreemem(qn);
		PQfreemem(qr);
	}
	sb_adds(&sb, " IN ACCESS SHARE MODE");
	if (ok && !db_command(d->db, sb.buf, 0, NULL, &e)) {
		ok = dump_fail(d, xasprintf("cannot lock the tables for the backup: %s", e));
		free(e);
	}
	sb_free(&sb);
	return ok;
}

static bool set_values(struct dump *d)
{
	PGresult *list = rows(d, catalog_seq_list, "sequences");
	bool ok = list != NULL;

	if (ok && PQntuples(list) > 0)
		ok = put(d, "\n--\n-- sequence values\n--\n\n");
	for (int i = 0; ok && i < PQntuples(list); i++) {
		const char *nsp = PQgetvalue(list, i, 0), *rel = PQgetvalue(list, i, 1);
		char *qn = PQescapeIdentifier(d->db->pg, nsp, strlen(nsp));
		char *qr = PQescapeIdentifier(d->db->pg, rel, strlen(rel));
		char *sql, *e = NULL, *line;
		PGresult *res;

		if (!qn || !qr) {
			PQfreemem(qn);
			PQfreemem(qr);
			ok = dump_fail(
			    d, xasprintf("cannot quote sequence %s", PQgetvalue(list, i, 2)));
			break;
		}
		sql = xasprintf("SELECT last_value, is_called FROM %s.%s", qn, qr);
		PQfreemem(qn);
		PQfreemem(qr);
		res = db_query(d->db, sql, 0, NULL, PGRES_TUPLES_OK, &e);
		free(sql);
		if (!res || PQntuples(res) != 1) {
			ok = dump_fail(d, xasprintf("reading sequence %s failed: %s",
			                            PQgetvalue(list, i, 2), e ? e : "no row"));
			free(e);
			PQclear(res);
			break;
		}
		line = xasprintf("SELECT pg_catalog.setval(%s, %s, %s);\n", PQgetvalue(list, i, 2),
		                 PQgetvalue(res, 0, 0),
		                 PQgetvalue(res, 0, 1)[0] == 't' ? "true" : "false");
		ok = put(d, line);
		free(line);
		PQclear(res);
	}
	PQclear(list);
	return ok;
}

/* Views and materialized views, each after the views it reads. */
static bool views(struct dump *d, bool refresh_only)
{
	PGresult *vr = rows(d, catalog_views, "views"), *dr = NULL;
	struct catalog_view *v = NULL;
	size_t n = 0;
	bool ok = vr != NULL;

	if (ok)
		dr = rows(d, catalog_view_deps, "view dependencies");
	ok = ok && dr != NULL;
	if (ok)
		v = catalog_view_order(vr, dr, &n);
	if (ok && n)
		ok = put(d, refresh_only ? "\n--\n-- materialized view data\n--\n\n"
		                         : "\n--\n-- views and materialized views\n--\n\n");
	for (size_t i = 0; ok && i < n; i++) {
		char *s = refresh_only ? catalog_refresh_view(&v[i]) : catalog_create_view(&v[i]);
		if (s)
			ok = put(d, s);
		free(s);
	}
	free(v);
	PQclear(vr);
	PQclear(dr);
	return ok;
}

static const char dump_header[] = "SET statement_timeout = 0;\n"
                                  "SET lock_timeout = 0;\n"
                                  "SET idle_in_transaction_session_timeout = 0;\n"
                                  "SET client_encoding = 'UTF8';\n"
                                  "SET standard_conforming_strings = on;\n"
                                  "SELECT pg_catalog.set_config('search_path', '', false);\n"
                                  "SET check_function_bodies = false;\n"
                                  "SET xmloption = content;\n"
                                  "SET client_min_messages = warning;\n"
                                  "SET row_security = off;\n";

/* The dump's session: one snapshot, nothing written, names fully qualified. */
static const char dump_session[] = "SELECT pg_catalog.set_config('search_path', '', true), "
                                   "pg_catalog.set_config('DateStyle', 'ISO', true), "
                                   "pg_catalog.set_config('IntervalStyle', 'postgres', true), "
                                   "pg_catalog.set_config('extra_float_digits', '3', true), "
                                   "pg_catalog.set_config('row_security', 'off', true), "
                                   "pg_catalog.set_config('statement_timeout', '0', true)";

static bool dump_body(struct dump *d)
{
	PGresult *tr = NULL, *cr = NULL;
	struct catalog_table *tabs = NULL;
	size_t nt = 0;
	bool ok;
	char ts[40];
	struct strbuf sb;

	tr = rows(d, catalog_tables, "tables");
	cr = tr ? rows(d, catalog_columns, "columns") : NULL;
	ok = tr && cr;
	if (ok) {
		tabs = catalog_table_list(tr, cr, &nt);
		ok = lock_tables(d, tabs, nt);
	}

	utc_timestamp(ts, sizeof ts, false);
	sb_init(&sb);
	sb_adds(&sb, "--\n-- PostgreSQL database backup written by auzdb " AUZDB_VERSION "\n");
	sb_addf(&sb, "-- database: ");
	for (const char *p = d->db->dbname; *p; p++)
		sb_addc(&sb, (unsigned char)*p < 0x20 ? '?' : *p);
	sb_addf(&sb, "\n-- server version: %s\n-- taken at: %s\n--\n\n",
	        d->info->server_version ? d->info->server_version : "unknown", ts);
	sb_adds(&sb, dump_header);
	ok = ok && put(d, sb.buf);
	sb_free(&sb);

	ok = ok && section(d, "schemas", catalog_schemas);
	ok = ok && section(d, "extensions", catalog_extensions);
	ok = ok && section(d, "types", catalog_types);
	ok = ok && functions(d, false);
	ok = ok && section(d, "sequences", catalog_sequences);
	if (ok && nt)
		ok = put(d, "\n--\n-- tables\n--\n\n");
	for (size_t i = 0; ok && i < nt; i++) {
		char *sql = catalog_create_table(&tabs[i], cr);
		ok = put(d, sql);
		free(sql);
	}
	ok = ok && section(d, "check constraints", catalog_checks);
	ok = ok && section(d, "sequence ownership", catalog_seq_owned);
	ok = ok && functions(d, true);
	ok = ok && views(d, false);

	if (ok && nt)
		ok = put(d, "\n--\n-- data\n--\n\n");
	for (size_t i = 0; ok && i < nt; i++)
		if (tabs[i].kind == 'r')
			ok = copy_table(d, &tabs[i], cr);
	ok = ok && set_values(d);

	ok = ok && section(d, "primary keys, unique and exclusion constraints", catalog_keys);
	ok = ok && section(d, "indexes", catalog_indexes);
	ok = ok && section(d, "partition indexes", catalog_index_attach);
	ok = ok && section(d, "check constraints not yet validated", catalog_checks_not_valid);
	ok = ok && section(d, "foreign keys", catalog_fkeys);
	ok = ok && section(d, "triggers", catalog_triggers);
	ok = ok && section(d, "row level security", catalog_rls);
	ok = ok && section(d, "policies", catalog_policies);
	ok = ok && section(d, "comments", catalog_comments);
	if (d->owners)
		ok = ok && section(d, "owners", catalog_owners) &&
		     section(d, "privileges", catalog_grants);
	ok = ok && views(d, true);
	ok = ok && put(d, "\n--\n-- auzdb backup complete\n--\n");
	free(tabs);
	PQclear(tr);
	PQclear(cr);
	return ok;
}

/*
 * Runs the whole dump in one REPEATABLE READ, READ ONLY transaction on db
 * (which must be idle) into w.  Returns true, or false with d->err set, or
 * false with the error left in the writer.
 */
static bool dump_database(struct dump *d)
{
	char *e = NULL;
	PGresult *res;
	bool ok;
	long long t0 = now_ms();
	const char *sv = PQparameterStatus(d->db->pg, "server_version");

	d->info->server_version = xstrdup(sv ? sv : "unknown");
	utc_timestamp(d->info->started_at, sizeof d->info->started_at, false);
	if (!db_command(d->db, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, &e)) {
		dump_fail(d, xasprintf("cannot start the backup transaction: %s", e));
		free(e);
		return false;
	}
	res = db_query(d->db, dump_session, 0, NULL, PGRES_TUPLES_OK, &e);
	if (!res) {
		dump_fail(d, xasprintf("cannot set up the backup session: %s", e));
		free(e);
		ok = false;
	} else {
		PQclear(res);
		ok = dump_body(d);
	}
	if (ok && !db_command(d->db, "COMMIT", 0, NULL, &e)) {
		ok = dump_fail(d, xasprintf("backup transaction failed: %s", e));
		free(e);
	}
	if (!ok)
		db_rollback(d->db);
	d->info->duration_ms = now_ms() - t0;
	return ok;
}

bool backup_dump(struct dbconn *db, struct gz_writer *w, const struct dump_opts *o,
                 struct dump_info *info, char **err)
{
	struct dump d = {.db = db, .lock_timeout_s = o->lock_timeout_s};
	bool ok;

	d.w = w;
	d.info = info;
	d.owners = o->owners;
	d.progress = o->progress;
	ok = dump_database(&d);
	progress(&d, true);
	*err = d.err;
	return ok;
}

int backup_to_fd(const struct config *cfg, struct dbconn *db, int fd, char **err)
{
	struct dump_opts o = {.lock_timeout_s = cfg->lock_timeout_s,
	                      .owners = cfg->backup_owners,
	                      .progress = cfg->progress};
	struct dump_info info;
	struct gz_writer *w;
	uint64_t bytes = 0;
	char sha[65], *e = NULL, *derr = NULL;
	bool ok;

	memset(&info, 0, sizeof info);
	w = gzw_open(fd, (int)cfg->compress_level, "standard output");
	ok = backup_dump(db, w, &o, &info, &derr);
	if (!gzw_finish(w, !ok, &bytes, sha, &e)) {
		*err = xasprintf("backup of \"%s\" failed: %s", db->dbname, derr ? derr : e);
		free(e);
		free(derr);
		dump_info_free(&info);
		return AZ_EXIT_BACKUP;
	}
	log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, info.duration_ms},
	       "backup written to standard output (%llu bytes, sha256 %s)",
	       (unsigned long long)bytes, sha);
	free(derr);
	dump_info_free(&info);
	return AZ_EXIT_OK;
}
