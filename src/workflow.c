/* workflow.c - see workflow.h */
#define _POSIX_C_SOURCE 200809L
#include "workflow.h"

#include "adopt.h"
#include "exitcodes.h"
#include "log.h"
#include "shadow.h"
#include "signals.h"

#include <stdlib.h>
#include <string.h>

static int fail_outcome(struct db_outcome *out, int rc, char *err)
{
	out->exit_code = rc;
	if (!out->state_after)
		out->state_after = xstrdup(rc == AZ_EXIT_MIGRATION     ? "failed"
		                           : rc == AZ_EXIT_INTERRUPTED ? "interrupted"
		                                                       : "unchanged");
	out->error = err;
	log_db(LOG_ERROR, out->database, "%s", err ? err : "failed");
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
		log_db(LOG_DEBUG, db->dbname, "nothing to migrate: no backup needed");
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
	log_db(LOG_INFO, db->dbname, "up to date: %zu migration%s applied, none pending", applied,
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

static void log_dry_run(const struct dbconn *db, const struct migset *set, const struct plan *p)
{
	log_db(LOG_INFO, db->dbname, "dry run: %zu applied, %zu pending%s", p->applied, p->npending,
	       p->ledger_exists ? "" : " (the ledger table would be created)");
	for (size_t i = 0; i < p->npending; i++) {
		const struct migration *m = &set->items[p->pending[i]];
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, -1}, "would apply %s%s",
		       m->name, m->own_transaction ? " (runs outside a transaction)" : "");
	}
}

/*
 * Under the lock, after the checks: creates the ledger if needed and applies
 * p's pending migrations in order, recording each in out->done.  A failed
 * migration is diagnosed (which of its objects exist, and the fix).
 */
static int apply_pending(const struct config *cfg, struct dbconn *db, const struct migset *set,
                         struct shadow_cache *cache, const struct plan *p, struct db_outcome *out,
                         char **err)
{
	int rc;

	if (!p->ledger_exists) {
		rc = ledger_create(db, err);
		if (rc)
			return rc;
		log_db(LOG_INFO, db->dbname, "created the _prisma_migrations ledger");
	}
	if (p->npending == 0)
		log_up_to_date(db, p->applied);
	out->done = xcalloc(p->npending ? p->npending : 1, sizeof *out->done);
	for (size_t i = 0; i < p->npending; i++) {
		const struct migration *m = &set->items[p->pending[i]];
		long long t0 = now_ms();
		if (signals_stop_requested()) {
			*err = xasprintf("interrupted by %s before migration %s",
			                 signals_stop_reason(), m->name);
			return AZ_EXIT_INTERRUPTED;
		}
		if (!db_set_migration_timeouts(db, cfg, err))
			return db_error_exit(db, AZ_EXIT_UNREACHABLE);
		if (m->own_transaction)
			log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, -1},
			       "applying %s outside a transaction (%s)", m->name,
			       m->own_txn_reason);
		rc = apply_migration(db, m, err);
		if (rc == AZ_EXIT_MIGRATION) /* which of its objects exist, and the fix */
			diagnose_error(db, set, cache, p->pending[i], err, &out->detail);
		if (rc)
			return rc;
		out->done[out->ndone].name = xstrdup(m->name);
		out->done[out->ndone++].duration_ms = now_ms() - t0;
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, now_ms() - t0},
		       "applied %s", m->name);
	}
	return AZ_EXIT_OK;
}

int migrate_database_cached(const struct config *cfg, struct dbconn *db, const struct migset *set,
                            struct shadow_cache *cache, struct backup_set *bs,
                            struct db_outcome *out)
{
	struct plan p = {0};
	char *err = NULL;
	long long start = now_ms();
	bool planned = false;
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
	if (rc)
		goto out;
	planned = true;
	if (!p.ledger_exists && p.user_tables > 0) {
		/* tables but no ledger: adopt (AUZDB_AUTO_ADOPT=1) or say what they are */
		rc = adopt_for_migrate(cfg, db, set, cache, &p, &err);
		if (rc)
			goto out;
	}
	free(out->state_before);
	out->state_before = plan_state(&p);
	out->applied_before = p.applied;
	out->pending_before = p.npending;
	rc = plan_blocker(&p, cfg->allow_checksum_mismatch, &err);
	if (rc)
		goto out;
	warn_plan(db, set, &p);
	if (cfg->dry_run) {
		log_dry_run(db, set, &p);
		out->state_after = xstrdup(out->state_before);
	} else {
		rc = apply_pending(cfg, db, set, cache, &p, out, &err);
		if (!rc)
			out->state_after = xstrdup("up to date");
	}
out:
	if (planned)
		plan_free(&p);
	db_unlock(db);
	if (rc)
		return fail_outcome(out, rc, err);
	out->duration_ms = now_ms() - start;
	if (out->ndone)
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, out->duration_ms},
		       "%zu migration%s applied, database is up to date", out->ndone,
		       out->ndone == 1 ? "" : "s");
	return AZ_EXIT_OK;
}

void status_database(struct dbconn *db, const struct migset *set, struct db_outcome *o)
{
	struct plan p;
	char *err = NULL;
	struct strbuf d;
	int rc = plan_build(db, set, &p, &err);

	if (rc) {
		o->exit_code = rc;
		o->error = err;
		return;
	}
	o->state_before = plan_state(&p);
	o->state_after = xstrdup(o->state_before);
	o->applied_before = p.applied;
	o->pending_before = p.npending;
	o->nfailed = p.nfailed;
	o->ndrifted = p.ndrifted;
	sb_init(&d);
	for (size_t i = 0; i < p.npending; i++)
		sb_addf(&d, "%s%s", i ? ", " : "pending: ", set->items[p.pending[i]].name);
	for (size_t i = 0; i < p.nfailed; i++)
		sb_addf(&d, "%s%s", i ? ", " : (d.len ? "; failed: " : "failed: "), p.failed[i]);
	for (size_t i = 0; i < p.ndrifted; i++)
		sb_addf(&d, "%s%s", i ? ", " : (d.len ? "; checksum drift: " : "checksum drift: "),
		        p.drifted[i]);
	for (size_t i = 0; i < p.nunknown; i++)
		sb_addf(&d, "%s%s",
		        i ? ", " : (d.len ? "; not found locally: " : "not found locally: "),
		        p.unknown[i]);
	o->detail = d.buf;
	rc = plan_blocker(&p, false, &err);
	if (rc) {
		o->exit_code = rc;
		o->error = err;
	} else if (p.npending || !p.ledger_exists) {
		o->exit_code = p.npending ? AZ_EXIT_PENDING : AZ_EXIT_OK;
	}
	plan_free(&p);
}

int connect_with_set(const struct config *cfg, struct migset *set, bool create_missing,
                     struct dbconn *db)
{
	char *err = NULL;
	int rc = db_connect(cfg, cfg->database_url, NULL, create_missing, db, &err);
	if (rc) {
		migset_free(set);
		return log_fail(rc, NULL, err);
	}
	return AZ_EXIT_OK;
}
