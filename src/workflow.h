/*
 * workflow.h - bringing one database up to date: the per-database workflow.
 *
 * Owns: the order of the steps for one connected database - the unlocked
 * first read (done there when nothing is pending), the backup before any
 * change, the migration lock, adoption of tables without a ledger, the
 * refusals, applying the pending migrations one by one and diagnosing a
 * failed one - and the db_outcome it fills for the report; and the
 * read-only status of one database.
 * Calls: apply (planner, applier), adopt (adoption, diagnosis), backup,
 * shadow, report (db_outcome), conn, signals, log.
 */
#ifndef AUZDB_WORKFLOW_H
#define AUZDB_WORKFLOW_H

#include "apply.h"
#include "backup.h"
#include "report.h"

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
/* The loud warning when backups are off for a migrating run. */
void warn_if_no_backup(const struct config *cfg);

/*
 * The status of one connected database against set, read-only: fills o's
 * states, counts and detail, and its exit code (0, 11 pending, 8 needs
 * action, or the error's).
 */
void status_database(struct dbconn *db, const struct migset *set, struct db_outcome *o);

/*
 * A command's connection to its database (cfg's URL) once it has loaded set:
 * on failure logs it, frees set and returns the code.
 */
int connect_with_set(const struct config *cfg, struct migset *set, bool create_missing,
                     struct dbconn *db) AZ_MUSTCHECK;

#endif
