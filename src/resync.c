/* resync.c - see resync.h */
#define _POSIX_C_SOURCE 200809L
#include "resync.h"

#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "pgtext.h"
#include "reset.h"
#include "restore.h"
#include "resync_int.h"
#include "signals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIAG_CHUNK 1000 /* rows per COPY while looking for rejected rows */

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
		return db_error_exit(r->db, AZ_EXIT_INTERNAL);
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
		log_db(LOG_WARN, r->db->dbname,
		       "column %s.%s not carried over: %s (%lld row%s in the backup %s)", table,
		       column, why, rows, rows == 1 ? "" : "s", r->backup);
	else
		log_db(LOG_WARN, r->db->dbname,
		       "table %s not carried over: %s (%lld row%s in the backup %s)", table, why,
		       rows, rows == 1 ? " stays" : "s stay", r->backup);
	sb_adds(j, r->nlost++ ? ",{" : "{");
	json_sb_string(j, "table", table);
	if (column) {
		sb_adds(j, ",");
		json_sb_string(j, "column", column);
	}
	sb_addf(j, ",\"rows\":%lld,", rows);
	json_sb_string(j, "reason", why);
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

	if (!resync_savepoint(r, "SAVEPOINT"))
		return true;
	res = PQexec(pg, r->copy_sql);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		*why = row_error(res, pg);
		PQclear(res);
		resync_savepoint_undo(r);
		return false;
	}
	PQclear(res);
	for (size_t i = from; ok && i < from + n; i++) {
		size_t end = i + 1 < r->nchunk ? r->offs[i + 1] : r->chunk.len;
		ok = PQputCopyData(pg, r->chunk.buf + r->offs[i], (int)(end - r->offs[i])) == 1;
	}
	*why = end_copy(r, ok ? NULL : "sending failed");
	if (!*why)
		return resync_savepoint(r, "RELEASE SAVEPOINT") || true;
	resync_savepoint_undo(r);
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
		resync_report_reject(r, r->cur->name, r->lnos[from], r->keys[from], why);
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
			resync_fatal(r, AZ_EXIT_UNREACHABLE, db_result_error(NULL, r->db->pg));
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
			resync_fatal(r, AZ_EXIT_INTERNAL,
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
			resync_note_setval(r, sql);
		return false;
	}
	r->data_line = token_line;
	if (!r->rc && signals_stop_requested())
		resync_fatal(r, AZ_EXIT_INTERRUPTED, xstrdup("interrupted by a stop signal"));
	if (r->rc)
		return true;
	if (k < 0) {
		if (!r->second_pass)
			log_db(
			    LOG_WARN, r->db->dbname,
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
	if (!resync_savepoint(r, "SAVEPOINT"))
		return true;
	{
		PGresult *res = PQexec(r->db->pg, r->copy_sql);
		if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
			char *why = row_error(res, r->db->pg);
			PQclear(res);
			resync_savepoint_undo(r);
			r->table_rejects = 0;
			resync_report_reject(r, t->name, 0, NULL, why);
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
			resync_fatal(r, AZ_EXIT_UNREACHABLE, db_result_error(NULL, r->db->pg));
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
	json_sb_string(j, "table", t->name);
	sb_addf(j, ",\"rows\":%lld,\"new_columns\":[", t->rows);
	for (size_t k = 0; k < t->ncols; k++) {
		if (t->cols[k].in_backup || t->cols[k].generated)
			continue;
		sb_adds(j, nnew++ ? ",\"" : "\"");
		sb_add_json(j, t->cols[k].name);
		sb_adds(j, "\"");
		log_db(LOG_INFO, r->db->dbname,
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
			log_db(LOG_ERROR, r->db->dbname,
			       "table %s: %lld more row%s not checked after %d rejected rows",
			       t->name, r->unchecked, r->unchecked == 1 ? "" : "s", MAX_REJECTS);
		else if (r->table_rejects > LOG_REJECTS)
			log_db(LOG_ERROR, r->db->dbname,
			       "table %s: %ld rows rejected in all (the report lists them)",
			       t->name, r->table_rejects);
		return;
	}
	/* B_LOAD */
	{
		char *why = end_copy(r, NULL);
		r->copy_open = false;
		if (why) {
			log_db(LOG_WARN, r->db->dbname,
			       "table %s: the backup's rows do not all fit the new table (%s); "
			       "looking for every rejected row",
			       t->name, why);
			free(why);
			resync_savepoint_undo(r);
			t->failed = true;
			r->failed = true;
		} else if (resync_savepoint(r, "RELEASE SAVEPOINT")) {
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

int resync_reload(struct dbconn *db, const char *path, struct strbuf *json, char **err)
{
	struct reload r;
	struct restore_sink sink = {on_statement, on_copy_data, on_copy_end, NULL};
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
	if (!rc)
		rc = resync_keys_off(&r, err);
	if (!rc) {
		log_db(LOG_INFO, db->dbname,
		       "reloading the rows of %s into %zu tables (foreign keys checked after the "
		       "load, triggers off during it)",
		       path, r.ntabs);
		rc = restore_scan_file(path, &sink);
		if (rc && !r.rc)
			resync_fatal(&r, rc, xasprintf("reading the backup %s failed", path));
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
					resync_fatal(
					    &r, rc,
					    xasprintf("reading the backup %s failed", path));
				free_block(&r);
			}
		}
		resync_keys_on(&r, err);
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
		log_db(LOG_INFO, db->dbname,
		       "reloaded %lld row%s into %zu table%s; %zu table%s or column%s not carried "
		       "over",
		       r.rows_loaded, r.rows_loaded == 1 ? "" : "s", r.ntables_json,
		       r.ntables_json == 1 ? "" : "s", r.nlost, r.nlost == 1 ? "" : "s",
		       r.nlost == 1 ? "" : "s");
	PQclear(r.fks);
	PQclear(r.trg);
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
