/*
 * sqlscan.h - a small lexer for PostgreSQL SQL scripts.
 *
 * Owns: knowing where comments, string literals (standard, E'' and
 * dollar-quoted), quoted identifiers and statement ends are, so that the
 * applier can tell whether a migration can run inside a transaction.  It
 * never executes or rewrites SQL.
 */
#ifndef AUZDB_SQLSCAN_H
#define AUZDB_SQLSCAN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * True when the script cannot run inside a transaction block that auzdb
 * opens: it has its own transaction control (BEGIN/COMMIT/...), or a
 * statement PostgreSQL refuses inside a transaction (CREATE INDEX
 * CONCURRENTLY, VACUUM, CREATE DATABASE, ...).  *reason names the first
 * such statement (a static string).
 */
bool sql_needs_own_transaction(const char *sql, size_t len, const char **reason);

/* Number of statements in the script (non-empty, ';'-separated). */
size_t sql_count_statements(const char *sql, size_t len);

#endif
