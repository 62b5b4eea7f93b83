/* apply.c - see apply.h */
#define _POSIX_C_SOURCE 200809L
#include "apply.h"

#include "exitcodes.h"
#include "log.h"
#include "signals.h"
#include "sqlscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void push(char ***arr, size_t *n, char *s)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof **arr);
	(*arr)[(*n)++] = s;
}

int plan_build(struct dbconn *db, const struct migset *set, struct plan *p, char **err)
{
	struct ledger l;
	int rc;

	memset(p, 0, sizeof *p);
	rc = ledger_load(db, &l, err);
	if (rc)
		return rc;
	p->ledger_exists = l.exists;
	if (!l.exists) {
		rc = ledger_user_tables(db, &p->user_tables, &p->table_sample, err);
		if (rc) {
			ledger_free(&l);
			return rc;
		}
	}
	p->pending = xcalloc(set->count ? set->count : 1, sizeof *p->pending);
	for (size_t i = 0; i < set->count; i++) {
		const struct migration *m = &set->items[i];
		const struct ledger_row *r = ledger_applied_row(&l, m->name);
		if (r) {
			p->applied++;
			if (!migration_checksum_matches(m, r->checksum))
				push(&p->drifted, &p->ndrifted, xstrdup(m->name));
		} else if (!ledger_has_live_row(&l, m->name)) {
			p->pending[p->npending++] = i;
		}
	}
	for (size_t i = 0; i < l.count; i++) {
		const struct ledger_row *r = &l.rows[i];
		if (ledger_row_failed(r))
			push(&p->failed, &p->nfailed,
			     xasprintf("%s (started at %s)", r->migration_name, r->started_at));
		else if (!r->rolled_back_at && !migset_find(set, r->migration_name)) {
			bool dup = false;
			for (size_t k = 0; k < p->nunknown; k++)
				dup |= strcmp(p->unknown[k], r->migration_name) == 0;
			if (!dup)
				push(&p->unknown, &p->nunknown, xstrdup(r->migration_name));
		}
	}
	ledger_free(&l);
	return AZ_EXIT_OK;
}

void plan_free(struct plan *p)
{
	free(p->table_sample);
	free(p->pending);
	strv_free(p->failed, p->nfailed);
	strv_free(p->drifted, p->ndrifted);
	strv_free(p->unknown, p->nunknown);
	memset(p, 0, sizeof *p);
}

static char *join(char **a, size_t n)
{
	struct strbuf sb;
	sb_init(&sb);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_adds(&sb, ", ");
		sb_adds(&sb, a[i]);
	}
	return sb.buf;
}

int plan_blocker(const struct plan *p, bool allow_checksum_mismatch, char **err)
{
	if (!p->ledger_exists && p->user_tables > 0) {
		*err = xasprintf(
		    "the schema holds %ld table%s (%s%s) but no _prisma_migrations ledger "
		    "(Prisma P3005); baseline it with 'auzdb adopt' (or 'auzdb resolve --applied "
		    "NAME' for each migration already in place)",
		    p->user_tables, p->user_tables == 1 ? "" : "s", p->table_sample,
		    p->user_tables > 5 ? ", ..." : "");
		return AZ_EXIT_NEEDS_ACTION;
	}
	if (p->nfailed) {
		char *names = join(p->failed, p->nfailed);
		*err = xasprintf(
		    "failed migration%s in the ledger block new migrations (Prisma P3009): %s; "
		    "repair the database, then 'auzdb resolve --rolled-back NAME' to retry it "
		    "or 'auzdb resolve --applied NAME' if it was completed by hand",
		    p->nfailed == 1 ? "" : "s", names);
		free(names);
		return AZ_EXIT_NEEDS_ACTION;
	}
	if (p->ndrifted && !allow_checksum_mismatch) {
		char *names = join(p->drifted, p->ndrifted);
		*err = xasprintf(
		    "applied migration%s edited since it was applied (checksum mismatch): %s; "
		    "restore the original file%s or pass --allow-checksum-mismatch",
		    p->ndrifted == 1 ? "" : "s", names, p->ndrifted == 1 ? "" : "s");
		free(names);
		return AZ_EXIT_NEEDS_ACTION;
	}
	return AZ_EXIT_OK;
}

char *plan_state(const struct plan *p)
{
	char *dummy = NULL;
	int b = plan_blocker(p, false, &dummy);
	free(dummy);
	if (b)
		return xstrdup("needs action");
	if (!p->ledger_exists && p->npending == 0)
		return xstrdup("not managed");
	if (p->npending)
		return xasprintf("%zu pending", p->npending);
	return xstrdup("up to date");
}

/* ---- applying -------------------------------------------------------- */

/* 1-based line of a 1-based character position in a UTF-8 script. */
static long line_of(const char *script, size_t len, long charpos)
{
	long line = 1, chars = 0;
	for (size_t i = 0; i < len && chars < charpos - 1; i++) {
		unsigned char c = (unsigned char)script[i];
		if ((c & 0xc0) == 0x80)
			continue;
		chars++;
		if (c == '\n')
			line++;
	}
	return line;
}

struct failure {
	char *summary; /* one line for the log */
	char *logs;    /* Prisma-shaped text for the ledger row */
};

static void describe_failure(const struct migration *m, const PGresult *res, const PGconn *pg,
                             struct failure *f)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
	char *oneline = db_result_error(res, pg);
	struct strbuf logs;
	long line = 0;

	if (pos)
		line = line_of(m->script, m->script_len, atol(pos));
	sb_init(&logs);
	sb_addf(
	    &logs,
	    "A migration failed to apply. New migrations cannot be applied before the error is "
	    "recovered from. Read more about how to resolve migration issues in a production "
	    "database: https://pris.ly/d/migrate-resolve\n\nMigration name: %s\n\nDatabase error "
	    "code: %s\n\nDatabase error:\nERROR: %s\n",
	    m->name, state ? state : "none", prim ? prim : PQerrorMessage(pg));
	if (detail)
		sb_addf(&logs, "DETAIL: %s\n", detail);
	if (hint)
		sb_addf(&logs, "HINT: %s\n", hint);
	if (line)
		sb_addf(&logs, "\nPosition: line %ld of migration.sql\n", line);
	sb_adds(&logs, "\nApplied by auzdb; the migration's changes were rolled back.\n");
	f->logs = logs.buf;
	if (line)
		f->summary =
		    xasprintf("migration %s failed at line %ld: %s", m->name, line, oneline);
	else
		f->summary = xasprintf("migration %s failed: %s", m->name, oneline);
	free(oneline);
}

static bool script_ok(const PGresult *res)
{
	ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY;
}

/*
 * A failure that is no fault of the migration, after its transaction rolled
 * back: our own cancel on a stop (exit 10), or lock_timeout behind another
 * session's lock (exit 5).  No ledger row is recorded, so the next run simply
 * retries.  Returns 0 for a genuine failure.
 */
static int retryable_failure(struct dbconn *db, const struct migration *m, const char *state,
                             char **err)
{
	int rc = db_sqlstate_exit(state, AZ_EXIT_MIGRATION);
	char *who;

	if (rc == AZ_EXIT_INTERRUPTED) {
		*err =
		    xasprintf("migration %s interrupted by %s and rolled back; it runs again on "
		              "the next run",
		              m->name, signals_stop_reason() ? signals_stop_reason() : "a signal");
		return rc;
	}
	if (rc != AZ_EXIT_LOCK)
		return 0;
	if (str_eq(state, "40P01")) {
		*err = xasprintf("migration %s was chosen as a deadlock victim (SQLSTATE 40P01); "
		                 "rolled back and not recorded: it is retried on the next run",
		                 m->name);
		return rc;
	}
	who = db_lock_blockers(db, m->script);
	*err = xasprintf("migration %s gave up waiting for a lock (lock_timeout, "
	                 "AUZDB_DDL_LOCK_TIMEOUT) on %s; rolled back and not recorded: it is "
	                 "retried on the next run",
	                 m->name, who ? who : "an object another session holds");
	free(who);
	return rc;
}

/* A failed script (res): its description and SQLSTATE, the result freed, the session idle. */
static void script_failed(struct dbconn *db, const struct migration *m, PGresult *res,
                          struct failure *f, char state[6])
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	describe_failure(m, res, db->pg, f);
	snprintf(state, 6, "%s", s ? s : "");
	PQclear(res);
	db_rollback(db);
}

/*
 * The end of a failed migration, once its row was written (rc: how that
 * went): AZ_EXIT_MIGRATION with the summary as *err and the script's
 * SQLSTATE kept in db->sqlstate for the diagnosis, or the row's failure.
 */
static int failed_with(struct dbconn *db, int rc, struct failure *f, const char *state, char **err)
{
	free(f->logs);
	if (rc) {
		free(f->summary);
		return rc;
	}
	snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state);
	*err = f->summary;
	return AZ_EXIT_MIGRATION;
}

/*
 * Runs one migration.  Returns AZ_EXIT_OK, AZ_EXIT_MIGRATION (the script
 * failed and was rolled back, row recorded), or another code (*err).
 */
static int apply_one(struct dbconn *db, const struct migration *m, char **err)
{
	char id[37], started[40], finished[40], state[6];
	PGresult *res = NULL;
	struct failure f = {NULL, NULL};
	bool has_sql = sql_count_statements(m->script, m->script_len) > 0;
	int rc;

	ledger_new_id(id);
	ledger_now(started);

	if (!m->own_transaction) {
		/* row and script commit together, or not at all */
		if (!db_command(db, "BEGIN", 0, NULL, err))
			return db_error_exit(db, AZ_EXIT_UNREACHABLE);
		rc = ledger_insert_started(db, id, m->checksum, m->name, started, err);
		if (rc) {
			db_rollback(db);
			return rc;
		}
		if (has_sql)
			res = PQexec(db->pg, m->script);
		if (!has_sql || script_ok(res)) {
			PQclear(res);
			res = NULL;
			ledger_now(finished);
			rc = ledger_mark_finished(db, id, finished, err);
			if (rc) {
				db_rollback(db);
				return rc;
			}
			res = PQexec(db->pg, "COMMIT");
			if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
				PQclear(res);
				return AZ_EXIT_OK;
			}
			/* e.g. a deferred constraint failed at commit */
		}
		script_failed(db, m, res, &f, state);
		if (PQstatus(db->pg) != CONNECTION_OK) {
			*err = f.summary;
			free(f.logs);
			return AZ_EXIT_UNREACHABLE;
		}
		rc = retryable_failure(db, m, state, err);
		if (rc) {
			free(f.summary);
			free(f.logs);
			return rc;
		}
		rc = ledger_insert_failed(db, id, m->checksum, m->name, started, f.logs, err);
		return failed_with(db, rc, &f, state, err);
	}

	/* The script manages its own transactions: run it as Prisma does. */
	rc = ledger_insert_started(db, id, m->checksum, m->name, started, err);
	if (rc)
		return rc;
	if (has_sql)
		res = PQexec(db->pg, m->script);
	if (!has_sql || script_ok(res)) {
		bool open_txn = PQtransactionStatus(db->pg) != PQTRANS_IDLE;
		PQclear(res);
		if (open_txn) {
			db_rollback(db);
			*err = xasprintf(
			    "migration %s left a transaction open (missing COMMIT); it was rolled "
			    "back",
			    m->name);
			(void)!ledger_set_logs(db, id, *err, &(char *){NULL});
			return AZ_EXIT_MIGRATION;
		}
		ledger_now(finished);
		return ledger_mark_finished(db, id, finished, err);
	}
	script_failed(db, m, res, &f, state);
	rc = ledger_set_logs(db, id, f.logs, err);
	return failed_with(db, rc, &f, state, err);
}

int apply_migration(struct dbconn *db, const struct migration *m, char **err)
{
	int rc = apply_one(db, m, err);
	if (rc == AZ_EXIT_OK && !db_reset_session(db, err))
		rc = db_error_exit(db, AZ_EXIT_UNREACHABLE);
	return rc;
}

int apply_step_in_txn(struct dbconn *db, const struct migration *m, char state[6], char **err)
{
	char id[37], started[40], finished[40];
	int rc;

	state[0] = '\0';
	ledger_new_id(id);
	ledger_now(started);
	rc = ledger_insert_started(db, id, m->checksum, m->name, started, err);
	if (rc)
		return rc;
	if (sql_count_statements(m->script, m->script_len) > 0) {
		PGresult *res = PQexec(db->pg, m->script);
		if (!script_ok(res)) {
			const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
			char *e = db_error_of(db, res);
			snprintf(state, 6, "%s", st ? st : "");
			*err = xasprintf("migration %s failed: %s", m->name, e);
			free(e);
			PQclear(res);
			return AZ_EXIT_MIGRATION;
		}
		PQclear(res);
	}
	ledger_now(finished);
	return ledger_mark_finished(db, id, finished, err);
}
