/*
 * restore.h - `auzdb restore FILE`: plays a plain SQL backup (auzdb's, or
 * pg_dump's plain format; gzip-compressed or not) into a database.
 *
 * Owns: reading the script statement by statement (sqlscan's splitter),
 * streaming each COPY ... FROM stdin block with PQputCopyData without
 * holding it in memory, psql meta-commands (\restrict and \unrestrict are
 * accepted, any other is refused), the empty-target rule and --clean,
 * --create.  The whole restore is one transaction: it applies completely
 * or not at all, and stops at the first error, naming the line.
 * Calls: conn, compress, sqlscan, log.
 */
#ifndef AUZDB_RESTORE_H
#define AUZDB_RESTORE_H

#include "config.h"

/* Returns AZ_EXIT_OK, or an exit code after logging one error line. */
int restore_run(const struct config *cfg);

#endif
