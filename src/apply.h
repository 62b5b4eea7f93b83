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

int plan_build(struct dbconn *db, const struct migset *set, struct plan *p,
               char **err) AZ_MUSTCHECK;
void plan_free(struct plan *p);
/* The exit code a plan calls for before anything is applied (0, 8). */
int plan_blocker(const struct plan *p, bool allow_checksum_mismatch, char **err);
/* Short state words: "up to date", "N pending", "needs action". */
char *plan_state(const struct plan *p);

/*
 * Runs one migration as migrate does (its transaction, its ledger row, the
 * session reset after it); the shadow database uses it too.  AZ_EXIT_OK,
 * AZ_EXIT_MIGRATION (failed, rolled back, failed row recorded; db->sqlstate
 * holds the script's SQLSTATE) or another code, with *err.
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

#endif
