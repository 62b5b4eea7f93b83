/* apply.c - see apply.h */
#define _POSIX_C_SOURCE 200809L
#include "apply.h"

#include "adopt.h"
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

static void free_list(char **a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(a[i]);
	free(a);
}

void plan_free(struct plan *p)
{
	free(p->table_sample);
	free(p->pending);
	free_list(p->failed, p->nfailed);
	free_list(p->drifted, p->ndrifted);
	free_list(p->unknown, p->nunknown);
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

/* Leaves the session idle whatever the script did to it. */
static void settle(struct dbconn *db)
{
	if (PQtransactionStatus(db->pg) != PQTRANS_IDLE) {
		PGresult *r = PQexec(db->pg, "ROLLBACK");
		PQclear(r);
	}
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
	who = db_lock_blockers(db, m->script);
	*err = xasprintf("migration %s gave up waiting for a lock (lock_timeout, "
	                 "AUZDB_DDL_LOCK_TIMEOUT) on %s; rolled back and not recorded: it is "
	                 "retried on the next run",
	                 m->name, who ? who : "an object another session holds");
	free(who);
	return rc;
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
			return AZ_EXIT_UNREACHABLE;
		rc = ledger_insert_started(db, id, m->checksum, m->name, started, err);
		if (rc) {
			settle(db);
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
				settle(db);
				return rc;
			}
			res = PQexec(db->pg, "COMMIT");
			if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
				PQclear(res);
				return AZ_EXIT_OK;
			}
			/* e.g. a deferred constraint failed at commit */
		}
		describe_failure(m, res, db->pg, &f);
		snprintf(state, sizeof state, "%s",
		         res && PQresultErrorField(res, PG_DIAG_SQLSTATE)
		             ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
		             : "");
		PQclear(res);
		settle(db);
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
		free(f.logs);
		if (rc) {
			free(f.summary);
			return rc;
		}
		*err = f.summary;
		return AZ_EXIT_MIGRATION;
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
			settle(db);
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
	describe_failure(m, res, db->pg, &f);
	PQclear(res);
	settle(db);
	rc = ledger_set_logs(db, id, f.logs, err);
	free(f.logs);
	if (rc) {
		free(f.summary);
		return rc;
	}
	*err = f.summary;
	return AZ_EXIT_MIGRATION;
}

int apply_migration(struct dbconn *db, const struct migration *m, char **err)
{
	int rc = apply_one(db, m, err);
	if (rc == AZ_EXIT_OK && !db_reset_session(db, err))
		rc = AZ_EXIT_UNREACHABLE;
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
			char *e = db_result_error(res, db->pg);
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

void outcome_free(struct db_outcome *o)
{
	for (size_t i = 0; i < o->ndone; i++)
		free(o->done[i].name);
	free(o->done);
	free(o->database);
	free(o->slug);
	free(o->state_after);
	free(o->detail);
	free(o->error);
	free(o->state_before);
	free(o->backup_file);
	memset(o, 0, sizeof *o);
}

static int fail_outcome(struct db_outcome *out, int rc, char *err)
{
	out->exit_code = rc;
	if (!out->state_after)
		out->state_after = xstrdup(rc == AZ_EXIT_MIGRATION     ? "failed"
		                           : rc == AZ_EXIT_INTERRUPTED ? "interrupted"
		                                                       : "unchanged");
	out->error = err;
	log_at(LOG_ERROR, &(struct log_ctx){out->database, NULL, -1}, "%s", err ? err : "failed");
	return rc;
}

void warn_if_no_backup(const struct config *cfg)
{
	if (cfg->backup_mode == BACKUP_NEVER && !cfg->dry_run)
		log_warn("BACKUPS ARE OFF (%s): databases will be migrated without a backup",
		         cfg->backup_off_reason ? cfg->backup_off_reason : "configuration");
}

/*
 * The backup before the lock, decided on the unlocked plan p (blocked: a
 * refusal stands in the way): taken when the database has something to
 * change (pending migrations and nothing blocking them, or tables to
 * auto-adopt), or always with AUZDB_BACKUP=always or --backup-only.
 * Returns AZ_EXIT_OK to go on.
 */
static int backup_first(const struct config *cfg, struct dbconn *db, const struct plan *p,
                        bool blocked, struct backup_set *bs, struct db_outcome *out)
{
	/* AUZDB_AUTO_ADOPT: tables without a ledger will be adopted, then migrated */
	bool want = cfg->backup_only || cfg->backup_mode == BACKUP_ALWAYS ||
	            (p->npending > 0 && !blocked) ||
	            (cfg->auto_adopt && !p->ledger_exists && p->user_tables > 0);
	char *err = NULL;
	int rc;

	if (!want) {
		log_at(LOG_DEBUG, &(struct log_ctx){db->dbname, NULL, -1},
		       "nothing to migrate: no backup needed");
		return AZ_EXIT_OK;
	}
	rc = backup_database(bs, db, &out->backup_file, &err);
	if (rc)
		return fail_outcome(out, rc, err);
	return AZ_EXIT_OK;
}

static void warn_plan(const struct dbconn *db, const struct migset *set, const struct plan *p)
{
	for (size_t i = 0; i < p->nunknown; i++)
		log_at(LOG_WARN, &(struct log_ctx){db->dbname, p->unknown[i], -1},
		       "migration %s is recorded as applied but is not in %s", p->unknown[i],
		       set->source);
	for (size_t i = 0; i < p->ndrifted; i++)
		log_at(LOG_WARN, &(struct log_ctx){db->dbname, p->drifted[i], -1},
		       "migration %s was edited after it was applied (allowed by "
		       "--allow-checksum-mismatch)",
		       p->drifted[i]);
}

static void log_up_to_date(const struct dbconn *db, size_t applied)
{
	log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, -1},
	       "up to date: %zu migration%s applied, none pending", applied,
	       applied == 1 ? "" : "s");
}

/*
 * Before the lock: look at the ledger unlocked, back up if something will
 * change, and finish here when nothing will (the common case of an init
 * container that starts many times a day: no lock, no second read).  A
 * concurrent runner can only move a database forward, so "nothing pending" read
 * without the lock stays true for this migration set.  Sets *done when the
 * database needs nothing more.
 */
static int before_lock(const struct config *cfg, struct dbconn *db, const struct migset *set,
                       struct backup_set *bs, struct db_outcome *out, bool *done)
{
	struct plan p;
	char *err = NULL;
	bool blocked, current;
	int rc = plan_build(db, set, &p, &err);

	*done = false;
	if (rc) {
		if (cfg->backup_only) {
			*done = true;
			return fail_outcome(out, rc, err);
		}
		free(err); /* the locked pass reports it */
		return AZ_EXIT_OK;
	}
	free(out->state_before);
	out->state_before = plan_state(&p);
	out->applied_before = p.applied;
	out->pending_before = p.npending;
	blocked = plan_blocker(&p, cfg->allow_checksum_mismatch, &err) != AZ_EXIT_OK;
	free(err); /* the locked pass reports it */
	/* nothing pending and nothing blocking: neither lock nor backup needed */
	current = p.ledger_exists && p.npending == 0 && !blocked;
	rc = bs ? backup_first(cfg, db, &p, blocked, bs, out) : AZ_EXIT_OK;
	if (rc == AZ_EXIT_OK && current && !cfg->backup_only) {
		warn_plan(db, set, &p);
		log_up_to_date(db, p.applied);
	}
	*done = rc != AZ_EXIT_OK || (bs && cfg->backup_only) || current;
	if (rc == AZ_EXIT_OK && *done)
		out->state_after = xstrdup(out->state_before);
	plan_free(&p);
	return rc;
}

int migrate_database(const struct config *cfg, struct dbconn *db, const struct migset *set,
                     struct backup_set *bs, struct db_outcome *out)
{
	struct shadow_cache cache; /* built only if this database needs it */
	int rc;

	shadow_cache_init(&cache, cfg, set);
	rc = migrate_database_cached(cfg, db, set, &cache, bs, out);
	shadow_cache_free(&cache);
	return rc;
}

int migrate_database_cached(const struct config *cfg, struct dbconn *db, const struct migset *set,
                            struct shadow_cache *cache, struct backup_set *bs,
                            struct db_outcome *out)
{
	struct plan p;
	char *err = NULL;
	long long start = now_ms();
	int rc;

	if (!out->database)
		out->database = xstrdup(db->dbname);

	if (!cfg->dry_run) {
		bool done;
		rc = before_lock(cfg, db, set, bs, out, &done);
		if (done) {
			out->duration_ms = now_ms() - start;
			return rc;
		}
		rc = db_lock(db, cfg->lock_timeout_s, &err);
		if (rc)
			return fail_outcome(out, rc, err);
	}
	rc = plan_build(db, set, &p, &err);
	if (rc) {
		db_unlock(db);
		return fail_outcome(out, rc, err);
	}
	if (!p.ledger_exists && p.user_tables > 0) {
		/* tables but no ledger: adopt (AUZDB_AUTO_ADOPT=1) or say what they are */
		rc = adopt_for_migrate(cfg, db, set, cache, &p, &err);
		if (rc) {
			plan_free(&p);
			db_unlock(db);
			return fail_outcome(out, rc, err);
		}
	}
	free(out->state_before);
	out->state_before = plan_state(&p);
	out->applied_before = p.applied;
	out->pending_before = p.npending;
	rc = plan_blocker(&p, cfg->allow_checksum_mismatch, &err);
	if (rc) {
		plan_free(&p);
		db_unlock(db);
		return fail_outcome(out, rc, err);
	}
	warn_plan(db, set, &p);

	if (cfg->dry_run) {
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, -1},
		       "dry run: %zu applied, %zu pending%s", p.applied, p.npending,
		       p.ledger_exists ? "" : " (the ledger table would be created)");
		for (size_t i = 0; i < p.npending; i++) {
			const struct migration *m = &set->items[p.pending[i]];
			log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, -1},
			       "would apply %s%s", m->name,
			       m->own_transaction ? " (runs outside a transaction)" : "");
		}
		plan_free(&p);
		out->duration_ms = now_ms() - start;
		out->state_after = xstrdup(out->state_before);
		return AZ_EXIT_OK;
	}

	if (!p.ledger_exists) {
		rc = ledger_create(db, &err);
		if (rc) {
			plan_free(&p);
			db_unlock(db);
			return fail_outcome(out, rc, err);
		}
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, -1},
		       "created the _prisma_migrations ledger");
	}
	if (p.npending == 0)
		log_up_to_date(db, p.applied);
	out->done = xcalloc(p.npending ? p.npending : 1, sizeof *out->done);
	for (size_t i = 0; i < p.npending; i++) {
		const struct migration *m = &set->items[p.pending[i]];
		long long t0 = now_ms();
		if (signals_stop_requested()) {
			plan_free(&p);
			db_unlock(db);
			return fail_outcome(out, AZ_EXIT_INTERRUPTED,
			                    xasprintf("interrupted by %s before migration %s",
			                              signals_stop_reason(), m->name));
		}
		if (!db_set_migration_timeouts(db, cfg, &err)) {
			plan_free(&p);
			db_unlock(db);
			return fail_outcome(out, AZ_EXIT_UNREACHABLE, err);
		}
		if (m->own_transaction)
			log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, -1},
			       "applying %s outside a transaction (%s)", m->name,
			       m->own_txn_reason);
		rc = apply_one(db, m, &err);
		if (rc == AZ_EXIT_OK && !db_reset_session(db, &err))
			rc = AZ_EXIT_UNREACHABLE;
		if (rc == AZ_EXIT_MIGRATION) /* which of its objects exist, and the fix */
			diagnose_error(db, set, cache, p.pending[i], &err, &out->detail);
		if (rc) {
			plan_free(&p);
			db_unlock(db);
			return fail_outcome(out, rc, err);
		}
		out->done[out->ndone].name = xstrdup(m->name);
		out->done[out->ndone++].duration_ms = now_ms() - t0;
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, now_ms() - t0},
		       "applied %s", m->name);
	}
	plan_free(&p);
	db_unlock(db);
	out->duration_ms = now_ms() - start;
	out->state_after = xstrdup("up to date");
	if (out->ndone)
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, out->duration_ms},
		       "%zu migration%s applied, database is up to date", out->ndone,
		       out->ndone == 1 ? "" : "s");
	return AZ_EXIT_OK;
}
