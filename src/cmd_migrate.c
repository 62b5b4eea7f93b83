/*
 * cmd_migrate.c - `auzdb migrate` (deploy) and `auzdb resolve`, for one database.
 *
 * Flags and variables:
 *   migrate   --database-url URL | DATABASE_URL/MASTER_DATABASE_URL, --set master|tenant,
 *             --migrations DIR, --dry-run, --allow-checksum-mismatch, --lock-timeout,
 *             backup options (AUZDB_BACKUP, --backup-dir, --backup-only, ...)
 *   resolve   --applied NAME | --rolled-back NAME, --set, --database-url, --migrations DIR
 */
#define _POSIX_C_SOURCE 200809L
#include "cmd_migrate.h"

#include "exitcodes.h"
#include "ledger.h"
#include "log.h"
#include "migset.h"
#include "workflow.h"

#include <stdlib.h>
#include <string.h>

int cmd_migrate(const struct config *cfg)
{
	struct migset set;
	struct dbconn db;
	struct db_outcome out = {0};
	char *err = NULL;
	int rc;

	rc = migset_load(cfg, cfg->set, &set, &err);
	if (rc)
		return log_fail(rc, NULL, err);
	log_debug("loaded %zu %s migrations from %s", set.count, set_kind_name(set.kind),
	          set.source);
	rc = connect_with_set(cfg, &set, !cfg->dry_run, &db);
	if (rc)
		return rc;
	log_db(LOG_INFO, db.dbname, "connected to %s; %zu migrations in %s", db.where, set.count,
	       set.source);
	warn_if_no_backup(cfg);
	{
		struct backup_set *bs =
		    cfg->backup_mode != BACKUP_NEVER && !cfg->dry_run ? backup_set_new(cfg) : NULL;
		rc = migrate_database(cfg, &db, &set, bs, &out);
		backup_set_close(bs);
	}
	outcome_free(&out);
	db_close(&db);
	migset_free(&set);
	return rc;
}

static int resolve_applied(struct dbconn *db, const struct migration *m, char **err)
{
	struct ledger l;
	long n = 0;
	int rc = ledger_load(db, &l, err);

	if (rc)
		return rc;
	if (!l.exists) {
		rc = ledger_create(db, err);
		if (rc) {
			ledger_free(&l);
			return rc;
		}
	}
	for (size_t i = 0; i < l.count; i++) {
		if (strcmp(l.rows[i].migration_name, m->name) == 0 && l.rows[i].finished_at) {
			*err = xasprintf(
			    "migration %s is already recorded as applied (Prisma P3008)", m->name);
			ledger_free(&l);
			return AZ_EXIT_USAGE;
		}
	}
	ledger_free(&l);
	if (!db_command(db, "BEGIN", 0, NULL, err))
		return db_error_exit(db, AZ_EXIT_UNREACHABLE);
	rc = ledger_roll_back_failed(db, m->name, &n, err);
	if (!rc)
		rc = ledger_insert_resolved(db, m->checksum, m->name, err);
	if (!rc && !db_command(db, "COMMIT", 0, NULL, err))
		rc = db_error_exit(db, AZ_EXIT_INTERNAL);
	if (rc) {
		db_rollback(db);
		return rc;
	}
	if (n)
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, -1},
		       "marked %ld failed row%s of %s as rolled back", n, n == 1 ? "" : "s",
		       m->name);
	return AZ_EXIT_OK;
}

static int resolve_rolled_back(struct dbconn *db, const char *name, char **err)
{
	struct ledger l;
	size_t rows = 0, failed = 0;
	long n = 0;
	int rc = ledger_load(db, &l, err);

	if (rc)
		return rc;
	if (!l.exists) {
		ledger_free(&l);
		*err = xasprintf(
		    "database \"%s\" has no _prisma_migrations ledger; nothing to roll back",
		    db->dbname);
		return AZ_EXIT_USAGE;
	}
	for (size_t i = 0; i < l.count; i++) {
		if (strcmp(l.rows[i].migration_name, name) != 0)
			continue;
		rows++;
		failed += ledger_row_failed(&l.rows[i]);
	}
	ledger_free(&l);
	if (!rows) {
		*err = xasprintf(
		    "migration %s cannot be rolled back: it was never applied to database "
		    "\"%s\" (Prisma P3011)",
		    name, db->dbname);
		return AZ_EXIT_USAGE;
	}
	if (!failed) {
		*err = xasprintf(
		    "migration %s cannot be rolled back: it is not in a failed state (Prisma "
		    "P3012)",
		    name);
		return AZ_EXIT_USAGE;
	}
	return ledger_roll_back_failed(db, name, &n, err);
}

int cmd_resolve(const struct config *cfg)
{
	const char *name = cfg->resolve_applied ? cfg->resolve_applied : cfg->resolve_rolled_back;
	const struct migration *m = NULL;
	const char *problem = migration_name_problem(name);
	struct migset set;
	struct dbconn db;
	char *err = NULL;
	int rc;

	if (problem)
		return log_fail(AZ_EXIT_USAGE, NULL,
		                xasprintf("resolve: migration name '%s': %s", name, problem));
	rc = migset_load(cfg, cfg->set, &set, &err);
	if (rc)
		return log_fail(rc, NULL, err);
	if (cfg->resolve_applied && !(m = migset_find(&set, name))) {
		err = xasprintf(
		    "migration %s is not in %s; pass the whole directory name (Prisma P3017)", name,
		    set.source);
		migset_free(&set);
		return log_fail(AZ_EXIT_USAGE, NULL, err);
	}
	rc = connect_with_set(cfg, &set, false, &db);
	if (rc)
		return rc;
	rc = db_lock(&db, cfg->lock_timeout_s, &err);
	if (!rc)
		rc = m ? resolve_applied(&db, m, &err) : resolve_rolled_back(&db, name, &err);
	if (rc) {
		rc = log_fail(rc, db.dbname, err);
	} else {
		log_at(LOG_INFO, &(struct log_ctx){db.dbname, name, -1},
		       "migration %s marked as %s", name, m ? "applied" : "rolled back");
	}
	db_close(&db);
	migset_free(&set);
	return rc;
}
