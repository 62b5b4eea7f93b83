/*
 * shadow.h - the expected schema after each migration of a set.
 *
 * Owns: the shadow database - a throwaway database with a random name
 * created from template0 on the server of the configured URL (or
 * AUZDB_SHADOW_DATABASE_URL, an empty database the operator provides, whose
 * application schema is wiped before use) - applying the set to it one
 * migration at a time exactly as `migrate` does (apply_migration), and the
 * fingerprint after each: expected[0] is the empty schema, expected[i] the
 * schema after the first i migrations.  The throwaway database is dropped
 * (WITH (FORCE)) on every return path, after a failing migration and after a
 * stop signal (checked between migrations; the running one is cancelled).
 *
 * The result is computed once per run and migration set and kept in a
 * struct shadow_cache, which fleet workers may share (it has a mutex).
 * Calls: conn, apply, fingerprint, ledger, signals, log.
 */
#ifndef AUZDB_SHADOW_H
#define AUZDB_SHADOW_H

#include "fingerprint.h"
#include "migset.h"

#include <pthread.h>

struct shadow_cache {
	pthread_mutex_t mu;
	const struct config *cfg;
	const struct migset *set;
	bool built;
	int rc;                  /* of the build: AZ_EXIT_OK, or why fps stops short */
	char *err;               /* one line when rc != 0 */
	struct fingerprint *fps; /* fps[i]: schema after i migrations */
	size_t nfps;             /* set->count + 1 when complete */
	char *shadow_where;      /* AUZDB_SHADOW_DATABASE_URL's "user@host:port/db" */
};

void shadow_cache_init(struct shadow_cache *c, const struct config *cfg, const struct migset *set);
void shadow_cache_free(struct shadow_cache *c);

/*
 * The expected fingerprints, building them on first use.  Returns
 * AZ_EXIT_OK when at least `need` of them exist (need <= set->count + 1),
 * else the build's exit code with a one-line
 * *err (caller frees): AZ_EXIT_MIGRATION when a migration of the set fails
 * on the empty shadow database, AZ_EXIT_AUTH without the right to create a
 * database, AZ_EXIT_INTERRUPTED after a stop signal, AZ_EXIT_USAGE when
 * AUZDB_SHADOW_DATABASE_URL names the live database itself.  live (may be
 * NULL) is the database the fingerprints will be compared with.  *fps and
 * *n always get what was built (after a failing migration i: i + 1).
 */
int shadow_expected(struct shadow_cache *c, const struct dbconn *live, size_t need,
                    const struct fingerprint **fps, size_t *n, char **err) AZ_MUSTCHECK;

#endif
