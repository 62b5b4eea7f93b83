/* resync_keys.c - see resync_int.h: foreign keys, triggers and sequences around resync's load */
#define _POSIX_C_SOURCE 200809L
#include "resync_int.h"

#include "exitcodes.h"
#include "json.h"
#include "log.h"
#include "reset.h"
#include "sqlscan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the reload's shared state: its first error, savepoints, rejected rows ---- */

void resync_fatal(struct reload *r, int rc, char *err)
{
	if (!r->rc) {
		r->rc = rc;
		r->err = err;
	} else {
		free(err);
	}
}

void resync_report_reject(struct reload *r, const char *table, long line, const char *key,
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
		log_db(LOG_ERROR, r->db->dbname, "table %s: row rejected%s%s%s: %s", table,
		       where.len ? " (" : "", where.buf, where.len ? ")" : "", why);
	sb_free(&where);
	sb_adds(j, r->nrejected_json++ ? ",{" : "{");
	json_sb_string(j, "table", table);
	if (line > 0)
		sb_addf(j, ",\"backup_line\":%ld", line);
	if (key && *key) {
		sb_adds(j, ",");
		json_sb_string(j, "key", key);
	}
	sb_adds(j, ",");
	json_sb_string(j, "error", why);
	sb_adds(j, "}");
}

bool resync_savepoint(struct reload *r, const char *verb)
{
	char *e = NULL;
	char *sql = xasprintf("%s auzdb_resync", verb);
	bool ok = db_command(r->db, sql, 0, NULL, &e);
	free(sql);
	if (!ok)
		resync_fatal(r, db_error_exit(r->db, AZ_EXIT_INTERNAL), e);
	return ok;
}

/* Back to the savepoint after a failure, and drop it. */
void resync_savepoint_undo(struct reload *r)
{
	if (resync_savepoint(r, "ROLLBACK TO SAVEPOINT"))
		(void)resync_savepoint(r, "RELEASE SAVEPOINT");
}

/* ---- around the load: keys, triggers, sequences ---- */

/*
 * Remembers a "SELECT pg_catalog.setval('name', N, true|false);" of the
 * backup (how auzdb and pg_dump write sequence values).
 */
void resync_note_setval(struct reload *r, const char *sql)
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

	if (!resync_savepoint(r, "SAVEPOINT"))
		return;
	if (db_command(r->db, PQgetvalue(fks, i, 4), 0, NULL, &e)) {
		(void)resync_savepoint(r, "RELEASE SAVEPOINT");
		return;
	}
	resync_savepoint_undo(r);
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
		resync_report_reject(r, table, 0, NULL, why);
		free(why);
	}
	for (int k = 0; rows && k < PQntuples(rows) && k < MAX_REJECTS; k++) {
		char *why =
		    xasprintf("violates foreign key %s: the row it refers to is not there", name);
		resync_report_reject(r, table, 0, PQgetvalue(rows, k, 0), why);
		free(why);
	}
	if (rows && PQntuples(rows) > MAX_REJECTS)
		log_db(LOG_ERROR, r->db->dbname,
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

		if (!resync_savepoint(r, "SAVEPOINT"))
			break;
		res = db_query(r->db,
		               "SELECT pg_catalog.setval(c.oid, $2::bigint, $3::boolean) FROM "
		               "pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
		               "c.relnamespace WHERE c.oid = pg_catalog.to_regclass($1::text) AND "
		               "c.relkind = 'S' AND n.nspname = $4::text",
		               4, params, PGRES_TUPLES_OK, &e);
		if (res) {
			if (PQntuples(res) == 0)
				log_db(LOG_WARN, r->db->dbname,
				       "sequence %s not carried over: it is not in the new schema "
				       "(its value was %s)",
				       r->seq_name[i], r->seq_value[i]);
			PQclear(res);
			(void)resync_savepoint(r, "RELEASE SAVEPOINT");
			continue;
		}
		resync_savepoint_undo(r);
		log_db(LOG_WARN, r->db->dbname,
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
		resync_fatal(r, db_error_exit(r->db, AZ_EXIT_INTERNAL), e);
		return;
	}
	for (int i = 0; i < PQntuples(list) && !r->rc; i++) {
		PGresult *res;
		if (!resync_savepoint(r, "SAVEPOINT"))
			break;
		res = db_query(r->db, PQgetvalue(list, i, 0), 0, NULL, PGRES_TUPLES_OK, &e);
		if (res) {
			PQclear(res);
			(void)resync_savepoint(r, "RELEASE SAVEPOINT");
			continue;
		}
		resync_savepoint_undo(r);
		{
			char *why = xasprintf("sequence %s cannot follow the reloaded rows: %s",
			                      PQgetvalue(list, i, 1), e);
			r->table_rejects = 0;
			resync_report_reject(r, PQgetvalue(list, i, 1), 0, NULL, why);
			free(why);
		}
		free(e);
		e = NULL;
	}
	PQclear(list);
}

int resync_keys_off(struct reload *r, char **err)
{
	char limit[16];
	const char *params[2] = {r->db->schema, limit};

	snprintf(limit, sizeof limit, "%d", MAX_REJECTS + 1);
	r->fks = db_query(r->db, q_fkeys, 2, params, PGRES_TUPLES_OK, err);
	r->trg = r->fks ? db_query(r->db, q_triggers, 1, params, PGRES_TUPLES_OK, err) : NULL;
	if (!r->trg || !db_run_each(r->db, r->fks, 3, err) || !db_run_each(r->db, r->trg, 0, err))
		return db_error_exit(r->db, AZ_EXIT_INTERNAL);
	return AZ_EXIT_OK;
}

void resync_keys_on(struct reload *r, char **err)
{
	if (!r->rc && !r->failed)
		for (int i = 0; i < PQntuples(r->fks) && !r->rc; i++)
			restore_fkey(r, r->fks, i);
	if (!r->rc && !r->failed && !db_run_each(r->db, r->trg, 1, err))
		resync_fatal(r, db_error_exit(r->db, AZ_EXIT_INTERNAL), xstrdup(*err));
	if (!r->rc && !r->failed)
		fix_sequences(r);
}
