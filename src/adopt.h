/*
 * adopt.h - bringing databases whose ledger and schema disagree back under
 * control: adopt, verify and diagnose.
 *
 * Owns:
 *  - adopt: for a database with tables but no ledger (or a ledger missing
 *    rows for objects that exist), the longest prefix of the migration set
 *    whose expected schema (shadow.h) equals the live one; recording those
 *    migrations as applied with the row `prisma migrate resolve --applied`
 *    writes; `--adopt-up-to NAME` forcing the baseline; and the finding (the
 *    closest prefix and its diff) when no prefix matches, which changes
 *    nothing.  `auzdb adopt`, and `run`/`migrate` with AUZDB_AUTO_ADOPT=1.
 *  - verify: each database of the fleet against the expected schema of the
 *    migrations its ledger records (`auzdb verify`, exit 0 or 8).
 *  - diagnose: after a migration failed on an object that already exists or
 *    is missing, which objects of that migration are present and absent, and
 *    the command that fixes it.
 * Calls: apply, fingerprint, shadow, ledger, tenants, report, log.
 */
#ifndef AUZDB_ADOPT_H
#define AUZDB_ADOPT_H

#include "apply.h"
#include "shadow.h"

enum adopt_mode {
	ADOPT_REPORT, /* find only; exit 8 with the finding (AUZDB_AUTO_ADOPT unset) */
	ADOPT_DRY,    /* find and print what would be recorded */
	ADOPT_RECORD, /* record the adopted migrations as applied */
};

/*
 * Adopts db (its migration lock must be held): compares the live schema
 * with every prefix of set, and records the migrations of the longest
 * matching prefix (or of cfg->adopt_up_to) that the ledger lacks.  Returns
 * AZ_EXIT_OK (with *recorded), AZ_EXIT_NEEDS_ACTION with the finding in
 * *err (no exact prefix, or ADOPT_REPORT), or another code.
 */
int adopt_locked(const struct config *cfg, struct dbconn *db, const struct migset *set,
                 struct shadow_cache *cache, enum adopt_mode mode, size_t *recorded,
                 char **err) AZ_MUSTCHECK;

/*
 * After set->items[idx] failed with sqlstate: a short "; diagnosis: ...;
 * fix: ..." to append to the one-line error (NULL when the state is not
 * one it explains or the expected schemas cannot be built), with the
 * detail lines logged and joined in *detail.
 */
char *diagnose_failure(struct dbconn *db, const struct migset *set, struct shadow_cache *cache,
                       size_t idx, const char *sqlstate, char **detail);
/* True for the SQLSTATEs diagnose_failure explains (42701, 42P07, 42710, ...). */
bool diagnose_applies(const char *sqlstate);

/*
 * migrate/run on a database with tables but no ledger (lock held, p its
 * plan): adopts it when AUZDB_AUTO_ADOPT=1 and rebuilds p; otherwise returns
 * AZ_EXIT_NEEDS_ACTION with the finding (the matching or closest prefix).
 */
int adopt_for_migrate(const struct config *cfg, struct dbconn *db, const struct migset *set,
                      struct shadow_cache *cache, struct plan *p, char **err) AZ_MUSTCHECK;
/*
 * After set->items[idx] failed with the one-line *err: appends the
 * diagnosis to *err and puts its detail lines in *detail (replaced).
 */
void diagnose_error(struct dbconn *db, const struct migset *set, struct shadow_cache *cache,
                    size_t idx, char **err, char **detail);

#endif
