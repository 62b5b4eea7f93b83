/*
 * fingerprint.h - a canonical description of a database's application schema.
 *
 * Owns: reading the schema of the connection's schema (the URL's ?schema=,
 * default public) from the catalogs into a sorted list of objects - tables,
 * columns (type, nullability, default, identity), constraints, indexes,
 * sequences, views, enums (labels in order), domains and composite types,
 * functions and procedures, triggers, policies and extensions - everything a
 * backup dumps except data and the _prisma_migrations ledger; and comparing
 * two such lists object by object.
 *
 * The text never depends on the database's name, on OIDs or on the schema's
 * name: definitions come from pg_get_*def with search_path set to the schema,
 * and the schema's own qualification is removed.  So a shadow database built
 * from the migrations and a live database compare equal when their schemas
 * are the same.  Calls: conn, migset (sha256).
 */
#ifndef AUZDB_FINGERPRINT_H
#define AUZDB_FINGERPRINT_H

#include "conn.h"

struct fp_entry {
	char *key;   /* "column users.email", "index users_email_key", ... */
	char *value; /* its canonical definition */
};

struct fingerprint {
	struct fp_entry *items; /* sorted by key, bytewise */
	size_t count;
	char hash[65]; /* sha256 of the canonical text: equal hashes = equal schemas */
};

enum fp_change { FP_MISSING, FP_EXTRA, FP_DIFFERS };

/* One difference between an expected and a live fingerprint. */
struct fp_diff {
	enum fp_change kind;
	const char *key;      /* points into one of the two fingerprints */
	const char *expected; /* NULL when extra */
	const char *got;      /* NULL when missing */
};

/* Reads db's schema; AZ_EXIT_OK or an exit code with a one-line *err. */
int fingerprint_take(struct dbconn *db, struct fingerprint *fp, char **err) AZ_MUSTCHECK;
void fingerprint_free(struct fingerprint *fp);
/* Deep copy (dst is overwritten). */
void fingerprint_copy(struct fingerprint *dst, const struct fingerprint *src);
bool fingerprint_equal(const struct fingerprint *a, const struct fingerprint *b);
/* The canonical text: one "key: value" per object, values on one line. */
char *fingerprint_text(const struct fingerprint *fp);
/* The entry with this key, or NULL. */
const struct fp_entry *fingerprint_find(const struct fingerprint *fp, const char *key);

/*
 * Object-level differences of live against expected, in key order; *out
 * (caller frees the array only) gets them, the count is returned.
 */
size_t fingerprint_diff(const struct fingerprint *expected, const struct fingerprint *live,
                        struct fp_diff **out);
/*
 * A line a person reads: "column users.email_verified missing", "table x
 * extra", "index i differs: expected CREATE ..., got CREATE ...".  Long
 * definitions are shortened.  Caller frees.
 */
char *fp_diff_line(const struct fp_diff *d);

/* The differences of live against want as lines (free with strv_free). */
size_t fingerprint_diff_lines(const struct fingerprint *want, const struct fingerprint *live,
                              char ***out);

#endif
