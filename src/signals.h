/*
 * signals.h - graceful stop on SIGTERM / SIGINT / SIGHUP and the run deadline.
 *
 * Owns: the process's signal dispositions, the "stop requested" flag, the set
 * of watched connections whose in-flight query is cancelled on a stop, the
 * temp files that must not survive a forced exit, and the whole-run deadline
 * (AUZDB_DEADLINE), which behaves exactly like a SIGTERM.
 *
 * Design: a dedicated sigwait thread.  signals_install() blocks the stop
 * signals in the calling (main) thread before any other thread exists, so
 * every thread auzdb creates later (fleet workers, compression threads)
 * inherits the mask and the signals are only ever taken by sigtimedwait() in
 * the signal thread.  That thread runs ordinary code, not a handler: it can
 * take a mutex, walk the watched connections and call PQcancel() on each
 * (PQcancel would be async-signal-safe anyway, but walking a list that
 * workers add to and remove from is not).  Main-line code only reads an
 * atomic flag.  Handlers are installed as well (they just set the flag), so
 * that no stop signal is ever at SIG_DFL: as PID 1 in a container the kernel
 * drops signals whose disposition is SIG_DFL, and auzdb must ignore nothing.
 * auzdb starts no child processes, so as PID 1 it reaps nothing (SIGCHLD stays
 * at its default; orphans re-parented to it are not its business).
 *
 * On the first stop: the flag is set and every watched connection's query is
 * cancelled (conn.c watches every connection db_connect opens, so modules
 * need not call signals_watch themselves).  The open transaction rolls back,
 * the lock waits and connection retries end, the fleet starts no new tenant,
 * and callers unwind with AZ_EXIT_INTERRUPTED (10), releasing the advisory
 * lock and unlinking a backup's temp file on the way; fleet writes the report
 * and the termination message.  If the process is still alive
 * AZ_STOP_GRACE_MS (2 s, the promised bound) later - a statement that
 * swallows the cancel - or on a second signal, the signal thread unlinks the
 * tracked temp files, writes one line to stderr and calls _exit(10).  (The
 * server then rolls back and drops the locks when it notices the closed
 * connection.)
 */
#ifndef AUZDB_SIGNALS_H
#define AUZDB_SIGNALS_H

#include <libpq-fe.h>
#include <stdbool.h>

/* How long after the first stop signal auzdb may take to unwind on its own. */
#define AZ_STOP_GRACE_MS 2000

/*
 * main(): blocks SIGTERM/SIGINT/SIGHUP, installs flag-setting handlers and
 * starts the signal thread.  Call before any other thread is created.
 */
void signals_install(void);
/* Arms the whole-run deadline: deadline_ms after now behaves like SIGTERM (0: none). */
void signals_set_deadline(long deadline_ms);
/* True once a stop signal arrived or the deadline passed: start no new work. */
bool signals_stop_requested(void);
/* "SIGTERM", "SIGINT", "SIGHUP", "deadline" or NULL: what requested the stop. */
const char *signals_stop_reason(void);

/*
 * The exit code of a run that was stopped: once a stop was requested, a
 * failure caused on the way out (a cancelled backup, an abandoned connection
 * wait, tenants not attempted) is the interruption, AZ_EXIT_INTERRUPTED
 * (retryable).  Verdicts that stand on their own (0, 2, 4, 7, 8) stay.
 */
int signals_exit_code(int rc);

/*
 * While conn is watched, a stop sends PQcancel to its running query.  If the
 * stop has already been requested, the cancel request is sent at once.
 */
void signals_watch(PGconn *conn);
void signals_unwatch(PGconn *conn);

/* A temp file (e.g. a backup being written) unlinked by a forced _exit. */
void signals_track_tmp(const char *path);
void signals_untrack_tmp(const char *path);

#endif
