/*
 * ledger.h - the `_prisma_migrations` table, read and written exactly as
 * Prisma Migrate does (same DDL, same row shapes), so auzdb and
 * `prisma migrate deploy|status|resolve` can take turns on one database.
 *
 * Owns: the table's DDL, loading its rows, and every INSERT/UPDATE on it.
 * Values always travel as parameters; the table is qualified with the
 * connection's escaped schema.  Calls: conn.
 */
#ifndef AUZDB_LEDGER_H
#define AUZDB_LEDGER_H

#include "conn.h"

struct ledger_row {
	char *id;
	char *checksum;
	char *migration_name;
	char *logs; /* NULL when SQL NULL */
	char *started_at;
	char *finished_at;    /* NULL when SQL NULL */
	char *rolled_back_at; /* NULL when SQL NULL */
	int applied_steps_count;
};

struct ledger {
	bool exists;
	struct ledger_row *rows; /* ordered by started_at, as Prisma reads them */
	size_t count;
};

/* A row is failed when it neither finished nor was rolled back. */
bool ledger_row_failed(const struct ledger_row *r);
/* True when name has a finished row that was not rolled back. */
bool ledger_is_applied(const struct ledger *l, const char *name);
/* True when name has any row not rolled back (finished or failed). */
bool ledger_has_live_row(const struct ledger *l, const char *name);
/* The live finished row of name, or NULL. */
const struct ledger_row *ledger_applied_row(const struct ledger *l, const char *name);

/* Loads the ledger; l->exists false (and no rows) when the table is absent. */
int ledger_load(struct dbconn *db, struct ledger *l, char **err) AZ_MUSTCHECK;
void ledger_free(struct ledger *l);
/* Names of up to a few ordinary tables in the schema (Prisma's P3005 test); count in *n. */
int ledger_user_tables(struct dbconn *db, long *n, char **sample, char **err) AZ_MUSTCHECK;
int ledger_create(struct dbconn *db, char **err) AZ_MUSTCHECK;

/* Fresh random UUID v4 text (36 chars + NUL). */
void ledger_new_id(char out[37]);
/* Current time as a timestamptz literal with microseconds. */
void ledger_now(char out[40]);

/* Row writes; each returns AZ_EXIT_OK or an exit code with *err. */
int ledger_insert_started(struct dbconn *db, const char *id, const char *checksum, const char *name,
                          const char *started_at, char **err) AZ_MUSTCHECK;
int ledger_mark_finished(struct dbconn *db, const char *id, const char *finished_at,
                         char **err) AZ_MUSTCHECK;
int ledger_insert_failed(struct dbconn *db, const char *id, const char *checksum, const char *name,
                         const char *started_at, const char *logs, char **err) AZ_MUSTCHECK;
int ledger_set_logs(struct dbconn *db, const char *id, const char *logs, char **err) AZ_MUSTCHECK;
/* Sets rolled_back_at on name's failed rows; *n gets how many. */
int ledger_roll_back_failed(struct dbconn *db, const char *name, long *n, char **err) AZ_MUSTCHECK;
/* The row `prisma migrate resolve --applied` writes. */
int ledger_insert_resolved(struct dbconn *db, const char *checksum, const char *name,
                           char **err) AZ_MUSTCHECK;

#endif
