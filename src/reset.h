/*
 * reset.h - starting one database's schema fresh, for `auzdb reset` and
 * `auzdb resync` (cmd_reset.h runs the commands, resync.h reloads the rows).
 *
 * Owns: the two guards (--force and AUZDB_ALLOW_RESET=delete-all-data,
 * checked before any connection), emptying the application schema (DROP
 * SCHEMA ... CASCADE, recreated with its owner, privileges, default
 * privileges and comment), applying every migration again inside the
 * reset's one transaction (apply's step, with the ledger created first),
 * putting the database back from the backup after a failure past the drop,
 * and the small helpers reset and resync share.
 * Calls: conn, apply, ledger, restore, signals, log.
 */
#ifndef AUZDB_RESET_H
#define AUZDB_RESET_H

#include "config.h"
#include "conn.h"
#include "migset.h"

/*
 * AZ_EXIT_OK when both guards are given; else AZ_EXIT_USAGE and *err says
 * which is missing or wrong.  cmd ("reset", "resync") names the command.
 */
int reset_check_guards(const struct config *cfg, const char *cmd, char **err);

/*
 * Inside the caller's transaction: drops the schema with everything in it
 * (tables, the ledger, types, sequences, functions, views, extensions
 * installed into it) and creates it again as it was.  Other schemas and
 * their extensions stay; objects elsewhere that depend on this schema's
 * objects go with them (CASCADE), as with `prisma migrate reset`.
 */
int reset_empty_schema(struct dbconn *db, char **err);

/*
 * Applies every migration of set inside the open transaction, each with its
 * Prisma-shaped ledger row (apply's step).  *enum_conflict is set when a
 * migration used an enum value an earlier one added (SQLSTATE 55P04): only
 * separate transactions can do that.
 */
int reset_migrate_all(struct dbconn *db, const struct migset *set, bool *enum_conflict, char **err);

/*
 * After a failure past the drop (rc, *err): plays the backup file back
 * (restore --clean).  Returns the final code (rc, or AZ_EXIT_NEEDS_ACTION
 * when that failed too) with *err and *result ("restored from backup",
 * "restore failed") saying so.
 */
int reset_put_back(struct dbconn *db, const char *file, int rc, const char **result, char **err);

#endif
