/*
 * reset.h - `auzdb reset` and `auzdb resync`: start one database fresh.
 *
 * Owns: the two guards (--force and AUZDB_ALLOW_RESET=delete-all-data,
 * checked before any connection), the backup that always comes first,
 * emptying the application schema (DROP SCHEMA ... CASCADE, recreated with
 * its owner, privileges, default privileges and comment), applying every
 * migration again, and - for resync - reloading the backup's rows into the
 * new schema (resync.h), with the report of the run.
 *
 * Atomicity: when every migration of the set can run inside a transaction,
 * the drop, the migrations (with their ledger rows) and the reload are ONE
 * transaction: any failure or signal rolls it back and the database is as
 * before.  When a migration needs its own transaction (CREATE INDEX
 * CONCURRENTLY, ...), or an enum value added by one migration is used by a
 * later one (SQLSTATE 55P04), the drop commits first, the migrations run as
 * `migrate` runs them, and the reload is one transaction; any failure then
 * plays the backup back (restore --clean), so the database is again as
 * before.  All of it runs under the migration advisory lock, after the
 * backup.  Calls: conn, backup, restore, resync, apply, ledger, migset, tenants, log.
 */
#ifndef AUZDB_RESET_H
#define AUZDB_RESET_H

#include "config.h"

#include <libpq-fe.h>

/*
 * Runs cfg->cmd (CMD_RESET or CMD_RESYNC) on the URL's database (with
 * cfg->set), or on the one tenant given with --tenant (with the tenant set).
 * Exit codes: 0 done; 2 a guard is missing or bad usage (nothing touched);
 * 6 the backup failed (nothing dropped); 7 the migrations or the reload
 * failed and the database was put back as it was; 8 it failed and putting
 * it back failed too (the log names the backup to restore by hand);
 * 10 interrupted (put back as well); 3/4/5 as everywhere.
 */
int reset_run(const struct config *cfg);

/* ---- helpers reset and resync share ---- */

struct dbconn;
struct strbuf;
/* The exit code for a failed statement: a signal, the connection, permissions, else fallback. */
int reset_stmt_exit(struct dbconn *db, const char *err, int fallback);
/* Runs each row's column col of a result as a statement; false and *err at the first failure. */
bool reset_run_each(struct dbconn *db, PGresult *list, int col, char **err);
/* Appends "key":"v" (v escaped for JSON; NULL as "") to sb. */
void reset_json_str(struct strbuf *sb, const char *key, const char *v);

#endif
