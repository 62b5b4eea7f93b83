/*
 * apply.h - the planner and applier for one database.
 *
 * Owns: comparing a migration set with a database's ledger (what is
 * applied, pending, failed, edited, unknown locally), the refusals that
 * protect data (failed rows, checksum drift, a non-empty schema without a
 * ledger), and applying pending migrations: each in one transaction
 * together with its ledger row, or - when the script cannot run inside one
 * - the way Prisma runs it; or one at a time inside a transaction the
 * caller holds (reset).  Records the outcome for the report.
 * Calls: conn, ledger, migset, log.
 */
#ifndef AUZDB_APPLY_H
#define AUZDB_APPLY_H

#include "backup.h"
#include "conn.h"
#include "ledger.h"
#include "migset.h"

struct plan {
	bool ledger_exists;
	long user_tables;   /* ordinary tables in the schema (for the no-ledger check) */
	char *table_sample; /* a few of their names */
	size_t applied;     /* local migrations recorded as applied */
	size_t *pending;    /* indexes into the set, in order */
	size_t npending;
	char **failed; /* "name (started at ...)" of failed rows */
	size_t nfailed;
	char **drifted; /* applied migrations whose file changed */
	size_t ndrifted;
	char **unknown; /* applied in the database, absent locally */
	size_t nunknown;
};

struct applied_migration {
	char *name;
	long long duration_ms;
};

/* What happened to one database: the report's row. */
struct db_outcome {
	char *database;
	const char *role;  /* "master" or "tenant" (static) */
	char *slug;        /* tenants only */
	char *state_after; /* as state_before, after the run (or the status) */
	size_t nfailed;    /* failed ledger rows (status) */
	size_t ndrifted;   /* edited applied migrations (status) */
	char *detail;      /* status: the names behind the counts, one line */
	int exit_code;
	char *error;        /* one line, or NULL */
	char *state_before; /* "up to date", "3 pending", "failed row", ... */
	size_t applied_before;
	size_t pending_before;
	struct applied_migration *done;
	size_t ndone;
	long long duration_ms;
	char *backup_file; /* the backup taken before migrating, or NULL */
};

int plan_build(struct dbconn *db, const struct migset *set, struct plan *p,
               char **err) AZ_MUSTCHECK;
void plan_free(struct plan *p);
/* The exit code a plan calls for before anything is applied (0, 8). */
int plan_blocker(const struct plan *p, bool allow_checksum_mismatch, char **err);
/* Short state words: "up to date", "N pending", "needs action". */
char *plan_state(const struct plan *p);

/*
 * Brings one connected database up to date with set: backup (into bs, when
 * bs is set and the database has pending migrations, or always with
 * AUZDB_BACKUP=always / --backup-only), lock, checks, apply, unlock.  A
 * failed backup ends it with AZ_EXIT_BACKUP before anything is changed;
 * with --backup-only nothing is migrated.  Fills out, which the caller
 * zeroes first (and may give a role and slug) and frees with outcome_free.
 * Returns the database's exit code.
 */
int migrate_database(const struct config *cfg, struct dbconn *db, const struct migset *set,
                     struct backup_set *bs, struct db_outcome *out);
/*
 * migrate_database with the expected schemas of set shared between calls
 * (shadow.h): used to adopt a database with tables but no ledger and to
 * diagnose a failed migration.  migrate_database builds its own when needed.
 */
struct shadow_cache;
int migrate_database_cached(const struct config *cfg, struct dbconn *db, const struct migset *set,
                            struct shadow_cache *cache, struct backup_set *bs,
                            struct db_outcome *out);
/*
 * Runs one migration as migrate does (its transaction, its ledger row, the
 * session reset after it); the shadow database uses it too.  AZ_EXIT_OK,
 * AZ_EXIT_MIGRATION (failed, rolled back, failed row recorded) or another
 * code, with *err.
 */
int apply_migration(struct dbconn *db, const struct migration *m, char **err) AZ_MUSTCHECK;
/*
 * One step of a set applied inside the caller's open transaction (reset
 * runs a whole set in one): m's Prisma-shaped ledger row and its script,
 * with no BEGIN or COMMIT of its own and no failed row (the caller rolls
 * back).  AZ_EXIT_OK; AZ_EXIT_MIGRATION when the script failed, with its
 * SQLSTATE in state ("" if none; 55P04: it used an enum value added earlier
 * in the same transaction); or the ledger's code.  Sets *err on failure.
 */
int apply_step_in_txn(struct dbconn *db, const struct migration *m, char state[6],
                      char **err) AZ_MUSTCHECK;
/* The loud warning when backups are off for a migrating run. */
void warn_if_no_backup(const struct config *cfg);
void outcome_free(struct db_outcome *o);

#endif
