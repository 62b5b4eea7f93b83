/*
 * conn.h - one connection to one PostgreSQL database.
 *
 * Owns: turning a database URL (Prisma-flavoured or libpq) into libpq
 * keyword arrays (never by string pasting), waiting for the server with
 * exponential backoff, classifying connection failures into exit codes,
 * the session state auzdb relies on (search_path, client encoding), the
 * migration advisory lock, and the query wrappers that check every result.
 * Every open connection is watched by signals.h, so a stop cancels its query,
 * and the connection wait and the lock wait end early on a stop (exit 10).
 * Calls: config (timeouts), log, signals.
 */
#ifndef AUZDB_CONN_H
#define AUZDB_CONN_H

#include "config.h"

#include <libpq-fe.h>

/* The advisory lock key Prisma Migrate takes; shared so both tools exclude each other. */
#define AZ_LOCK_KEY 72707369

struct dbconn {
	PGconn *pg;
	char *dbname;     /* the database's name, for logs and reports */
	char *where;      /* "user@host:port/dbname" - never holds a password */
	char *schema;     /* the Prisma schema (URL ?schema=), default "public" */
	char *qschema;    /* schema as a quoted identifier */
	int lock_holds;   /* db_lock calls not matched by db_unlock yet */
	char sqlstate[6]; /* SQLSTATE of the last failed db_query, "" if none or none given */
};

/*
 * Connects to url (NULL: libpq defaults), with dbname replaced when
 * dbname_override is set.  Retries while the server is unreachable or
 * starting, up to cfg->wait_timeout_s.  When create_missing is set and the
 * database does not exist, creates it (as `prisma migrate deploy` does).
 * Returns AZ_EXIT_OK, or an exit code with a one-line *err.
 */
int db_connect(const struct config *cfg, const char *url, const char *dbname_override,
               bool create_missing, struct dbconn *db, char **err) AZ_MUSTCHECK;
void db_close(struct dbconn *db);

/*
 * Runs sql (with optional $n parameters) and checks the result has status
 * `expect`.  On failure returns NULL, sets *err (one line, caller frees),
 * and *sqlstate (static buffer of the result kept in *err_res if non-NULL).
 */
PGresult *db_query(struct dbconn *db, const char *sql, int nparams, const char *const *params,
                   ExecStatusType expect, char **err) AZ_MUSTCHECK;
/* db_query for commands: true on success. */
bool db_command(struct dbconn *db, const char *sql, int nparams, const char *const *params,
                char **err) AZ_MUSTCHECK;

/* One-line description of a failed result: "ERROR: msg (SQLSTATE 42P01)". */
char *db_result_error(const PGresult *res, const PGconn *pg);
/*
 * The one mapping from a failed statement's SQLSTATE to an exit code:
 *   08xxx connection exception, 57P01-57P05 shutdown/crash,
 *   53300 too many connections                      -> 3 (unreachable, retryable)
 *   28xxx invalid authorization, 42501 privilege,
 *   25006 read-only transaction (a replica)         -> 4 (auth or permission)
 *   55P03 lock not available (lock_timeout, NOWAIT),
 *   40P01 deadlock detected                          -> 5 (lock, retryable)
 *   57014 query canceled, by auzdb's own stop        -> 10 (interrupted)
 *   anything else, or no SQLSTATE                    -> fallback
 */
int db_sqlstate_exit(const char *sqlstate, int fallback);
/*
 * The exit code for db's last failed statement: 10 once a stop was
 * requested (the failure is our own cancel's), 3 when the connection is
 * gone (whatever the SQLSTATE), else db_sqlstate_exit of its SQLSTATE.
 */
int db_error_exit(const struct dbconn *db, int fallback);
/*
 * db_result_error for a result the caller ran itself (PQexec, COPY): also
 * keeps its SQLSTATE in db->sqlstate for db_error_exit.  Caller frees.
 */
char *db_error_of(struct dbconn *db, const PGresult *res);
/* Runs each row's column col of list as a statement; false and *err at the first failure. */
bool db_run_each(struct dbconn *db, const PGresult *list, int col, char **err) AZ_MUSTCHECK;
/* The server's NOTICEs (DROP ... CASCADE lists, restores) go to the debug log only. */
void db_quiet_notices(struct dbconn *db);
/* Rolls back an open or failed transaction, if the connection is still up. */
void db_rollback(struct dbconn *db);
/*
 * CREATE DATABASE name (quoted) on the connected admin database, with
 * extra SQL after the name (e.g. "TEMPLATE template0", or "").  A database
 * that already exists (42P04, e.g. made by a concurrent runner) is fine when
 * exists_ok, and *created tells which.  Exit code and *err otherwise.
 */
int db_create_database(struct dbconn *admin, const char *name, const char *extra, bool exists_ok,
                       bool *created, char **err) AZ_MUSTCHECK;

/*
 * Takes the migration lock, polling pg_try_advisory_lock; AZ_EXIT_LOCK on
 * timeout.  The holds nest: when db already holds it, db_lock only counts
 * one more hold, and db_unlock releases the server lock when the last hold
 * goes (db_close releases it whatever the count).
 */
int db_lock(struct dbconn *db, long timeout_s, char **err) AZ_MUSTCHECK;
void db_unlock(struct dbconn *db);
/*
 * Sets AUZDB_STATEMENT_TIMEOUT / AUZDB_DDL_LOCK_TIMEOUT for the session (the
 * next db_reset_session undoes them): call just before a migration.
 */
bool db_set_migration_timeouts(struct dbconn *db, const struct config *cfg,
                               char **err) AZ_MUSTCHECK;
/*
 * After a lock timeout: the tables of db's schema named in script that other
 * sessions hold locks on, as "table \"t\" (held by pid N, application \"a\")",
 * or NULL.  Caller frees.
 */
char *db_lock_blockers(struct dbconn *db, const char *script);
/* Undoes session settings a migration made (RESET ALL, keeps the lock). */
bool db_reset_session(struct dbconn *db, char **err) AZ_MUSTCHECK;

#endif
