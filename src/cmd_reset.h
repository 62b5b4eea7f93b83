/*
 * cmd_reset.h - the `auzdb reset` and `auzdb resync` commands.
 *
 * Owns: the commands' options (see the top of cmd_reset.c), connecting the
 * one target database, and the order of the steps: guards, migration set,
 * lock, the backup that always comes first, then either ONE transaction
 * (drop, migrations with their ledger rows, and for resync the reload) or -
 * when a migration needs its own transaction (CREATE INDEX CONCURRENTLY,
 * ...) or an enum value added by one migration is used by a later one
 * (SQLSTATE 55P04) - the drop committed first, the migrations run as
 * `migrate` runs them and the reload in one transaction, with the backup
 * played back after any failure.  Either way a failure or signal leaves the
 * database as before.  All of it runs under the migration advisory lock,
 * after the backup.  Then the log line and the JSON report.
 * Calls: reset, resync, apply, backup, conn, migset, tenants, signals, log.
 */
#ifndef AUZDB_CMD_RESET_H
#define AUZDB_CMD_RESET_H

#include "config.h"

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

#endif
