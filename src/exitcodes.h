/*
 * exitcodes.h - the process exit codes of auzdb.
 *
 * This is a contract: Kubernetes Jobs (podFailurePolicy), Helm hooks and
 * scripts decide between "retry" and "fail now" on these numbers.  Change a
 * value only on purpose, here and in the README's exit-code table together.
 * Which SQLSTATE gives which code: db_sqlstate_exit() in conn.h.
 */
#ifndef AUZDB_EXITCODES_H
#define AUZDB_EXITCODES_H

enum az_exit {
	AZ_EXIT_OK = 0,           /* success, or everything already up to date */
	AZ_EXIT_INTERNAL = 1,     /* internal error (a bug, out of memory) */
	AZ_EXIT_USAGE = 2,        /* usage or configuration error */
	AZ_EXIT_UNREACHABLE = 3,  /* unreachable, or the connection lost (retryable) */
	AZ_EXIT_AUTH = 4,         /* auth failed, permission denied, read-only server */
	AZ_EXIT_LOCK = 5,         /* a lock not acquired in time, a deadlock (retryable) */
	AZ_EXIT_BACKUP = 6,       /* backup failed, nothing migrated (retryable) */
	AZ_EXIT_MIGRATION = 7,    /* a migration failed and was rolled back */
	AZ_EXIT_NEEDS_ACTION = 8, /* failed ledger row, checksum mismatch, schema without ledger */
	AZ_EXIT_TENANTS_FAILED = 9, /* master ok, some tenants failed (all retryably: their code) */
	AZ_EXIT_INTERRUPTED = 10,   /* interrupted by a signal (retryable) */
	AZ_EXIT_PENDING = 11,       /* (status only) migrations are pending */
};

/*
 * How a fleet run (`auzdb run`) combines the codes of its databases into
 * the process status:
 *   1. master's failure wins: if master failed, the run exits with master's
 *      code and no tenant was touched;
 *   2. master ok and every failed tenant failed retryably (3, 5, 6, 10):
 *      the first failed tenant's code, so the Job's podFailurePolicy retries;
 *   3. otherwise, any tenant failure gives AZ_EXIT_TENANTS_FAILED (9).
 * A failure caused by a stop request (signal, AUZDB_DEADLINE) is 10 in every
 * case.  report_exit_code() (report.c) implements these rules.
 */

/* Short stable name of an exit code ("ok", "usage", ...), for reports. */
const char *az_exit_name(int code);

#endif
