/*
 * resync.h - resync's reload engine: the backup's rows back into the
 * schema that `auzdb resync` has just emptied and migrated again.
 *
 * Owns: reading the backup (restore's scanner, twice at most), matching its
 * COPY blocks to the new tables by table and column name (columns gone or
 * generated are dropped from each row, new ones get their defaults, a table
 * whose new NOT NULL column has no default is not carried over), loading
 * each table under a savepoint, and - when a table's rows do not all fit -
 * a second pass that halves failed batches down to the rejected rows (at
 * most MAX_REJECTS named per table).  Around the load (resync_keys.c): the
 * schema's foreign keys dropped and added back, its triggers off, and its
 * sequences set from the backup and past the reloaded rows.  The report's
 * fields: rows loaded and rejected, tables, what was not carried over and
 * every rejected row.  resync_int.h is its private header.
 * Calls: conn, restore (the scanner), pgtext, sqlscan, reset (shared helpers),
 * signals, log.
 */
#ifndef AUZDB_RESYNC_H
#define AUZDB_RESYNC_H

#include "conn.h"
#include "util.h"

/*
 * Inside the open transaction, after the migrations: loads the rows of the
 * backup at path into the tables of the same names, the columns both have.
 * Appends the report's fields to json.  Returns AZ_EXIT_OK, AZ_EXIT_MIGRATION
 * when rows were rejected (the caller rolls back), or another code.
 */
int resync_reload(struct dbconn *db, const char *path, struct strbuf *json,
                  char **err) AZ_MUSTCHECK;

#endif
