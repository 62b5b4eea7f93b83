/*
 * migset.h - a migration set: the Prisma `migrations/` folder auzdb applies.
 *
 * Owns: loading a set from a directory on disk or from the copy embedded
 * in the binary at build time; Prisma's rules for what a migration is
 * (every subdirectory; `migration.sql` inside; `migration_lock.toml`'s
 * provider); Prisma's order (locale-aware, see prisma_name_cmp); and
 * checksums (sha256 of the file's bytes, compared CRLF/LF-tolerantly).
 * A set that breaks a rule is refused whole, before any database is touched.
 */
#ifndef AUZDB_MIGSET_H
#define AUZDB_MIGSET_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

struct migration {
	char *name;
	unsigned char *raw; /* file bytes as on disk (NUL-terminated) */
	size_t raw_len;
	const char *script; /* what is sent to the server: raw minus a UTF-8 BOM */
	size_t script_len;
	char checksum[65];    /* lowercase hex sha256 of raw */
	bool own_transaction; /* cannot run inside auzdb's transaction */
	const char *own_txn_reason;
};

struct migset {
	enum migration_set_kind kind;
	char *source; /* directory path, or "embedded" */
	struct migration *items;
	size_t count;
};

/* Loads the set of the given kind as configured; AZ_EXIT_* and *err on failure. */
int migset_load(const struct config *cfg, enum migration_set_kind kind, struct migset *set,
                char **err) AZ_MUSTCHECK;
/* Loads from a directory (exposed for tests and fuzzing). */
int migset_load_dir(const char *dir, struct migset *set, char **err) AZ_MUSTCHECK;
void migset_free(struct migset *set);
const struct migration *migset_find(const struct migset *set, const char *name);

/* Prisma's migration order (ICU root collation for printable ASCII). */
int prisma_name_cmp(const char *a, const char *b);
/* Lowercase hex sha256 of data into out[65]. */
void sha256_hex(const void *data, size_t len, char out[65]);
/* True when a ledger checksum matches m as Prisma would compare it. */
bool migration_checksum_matches(const struct migration *m, const char *stored);
/* Checks a migration name (printable ASCII, not empty); NULL or a reason. */
const char *migration_name_problem(const char *name);

#endif
