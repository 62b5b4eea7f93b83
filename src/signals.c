/* signals.c - see signals.h */
#define _POSIX_C_SOURCE 200809L
#include "signals.h"

#include "exitcodes.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * The only mutable globals of the process besides the parsed options: the
 * stop flag (and what caused it), and the lists the signal thread walks.
 */
static atomic_int stop_sig;      /* 0: running; a signal number; -1: deadline */
static atomic_llong deadline_at; /* monotonic ms, 0: none */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

struct watched {
	PGconn *conn;
	PGcancel *cancel;
};
static struct watched *watched;
static size_t nwatched, capwatched;
static char **tmps;
static size_t ntmps, captmps;

static void on_signal(int sig)
{
	/* Only reached if some thread left the signals unblocked. */
	int zero = 0;
	atomic_compare_exchange_strong(&stop_sig, &zero, sig);
}

static void block_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

static void cancel_one(PGcancel *c)
{
	char errbuf[256];

	if (c)
		(void)PQcancel(c, errbuf, (int)sizeof errbuf);
}

static void cancel_all(void)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nwatched; i++)
		cancel_one(watched[i].cancel);
	pthread_mutex_unlock(&mu);
}

/* Async-signal-safe enough: only write(), unlink() and _exit(). */
static void force_exit(const char *why)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < ntmps; i++)
		(void)unlink(tmps[i]);
	pthread_mutex_unlock(&mu);
	(void)!write(STDERR_FILENO, why, strlen(why));
	_exit(AZ_EXIT_INTERRUPTED);
}

static const char *reason_name(int sig)
{
	switch (sig) {
	case SIGTERM: return "SIGTERM";
	case SIGINT: return "SIGINT";
	case SIGHUP: return "SIGHUP";
	case -1: return "deadline";
	}
	return NULL;
}

static void request_stop(int sig)
{
	int zero = 0;

	if (!atomic_compare_exchange_strong(&stop_sig, &zero, sig))
		return;
	if (sig == -1)
		log_warn("the run deadline (AUZDB_DEADLINE) passed: stopping, in-flight work is "
		         "rolled back");
	else
		log_warn("received %s: stopping, in-flight work is rolled back "
		         "(a second signal exits at once)",
		         reason_name(sig));
	cancel_all();
}

static void *signal_thread(void *arg)
{
	sigset_t set;
	long long stop_at = 0;

	(void)arg;
	block_set(&set);
	for (;;) {
		long long now = now_ms(), wait = 250, dl = atomic_load(&deadline_at);
		struct timespec ts;
		int sig;

		if (atomic_load(&stop_sig) != 0) {
			if (stop_at == 0)
				stop_at = now;
			if (now - stop_at >= AZ_STOP_GRACE_MS)
				force_exit(
				    "auzdb: still stopping after the grace period: exiting now "
				    "(exit 10)\n");
			wait = stop_at + AZ_STOP_GRACE_MS - now;
		} else if (dl > 0) {
			if (now >= dl) {
				request_stop(-1);
				continue;
			}
			if (dl - now < wait)
				wait = dl - now;
		}
		if (wait > 250)
			wait = 250;
		if (wait < 1)
			wait = 1;
		ts.tv_sec = (time_t)(wait / 1000);
		ts.tv_nsec = (long)(wait % 1000) * 1000000L;
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig < 0)
			continue; /* EAGAIN (timeout) or EINTR */
		if (atomic_load(&stop_sig) != 0 && stop_at != 0)
			force_exit("auzdb: second signal: exiting now (exit 10)\n");
		request_stop(sig);
	}
	return NULL;
}

void signals_install(void)
{
	static bool installed;
	sigset_t set;
	struct sigaction sa;
	pthread_t th;
	pthread_attr_t attr;

	if (installed)
		return;
	installed = true;
	block_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	/* Real handlers, never SIG_DFL/SIG_IGN: as PID 1 a default disposition is ignored. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, 256 * 1024) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_create(&th, &attr, signal_thread, NULL) != 0) {
		/* Without the thread, fall back to the handlers alone. */
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		log_warn("could not start the signal thread: in-flight queries are not cancelled "
		         "on a signal");
	}
	pthread_attr_destroy(&attr);
}

void signals_set_deadline(long deadline_ms)
{
	atomic_store(&deadline_at, deadline_ms > 0 ? now_ms() + deadline_ms : 0);
}

bool signals_stop_requested(void)
{
	return atomic_load(&stop_sig) != 0;
}

const char *signals_stop_reason(void)
{
	return reason_name(atomic_load(&stop_sig));
}

int signals_exit_code(int rc)
{
	if (!signals_stop_requested())
		return rc;
	switch (rc) {
	case AZ_EXIT_OK:
	case AZ_EXIT_USAGE:
	case AZ_EXIT_AUTH:
	case AZ_EXIT_MIGRATION:
	case AZ_EXIT_NEEDS_ACTION: return rc;
	}
	return AZ_EXIT_INTERRUPTED;
}

void signals_watch(PGconn *conn)
{
	PGcancel *c;

	if (!conn)
		return;
	c = PQgetCancel(conn);
	pthread_mutex_lock(&mu);
	if (nwatched == capwatched) {
		capwatched = capwatched ? capwatched * 2 : 16;
		watched = xrealloc(watched, capwatched * sizeof *watched);
	}
	watched[nwatched].conn = conn;
	watched[nwatched].cancel = c;
	nwatched++;
	if (signals_stop_requested())
		cancel_one(c);
	pthread_mutex_unlock(&mu);
}

void signals_unwatch(PGconn *conn)
{
	PGcancel *c = NULL;

	pthread_mutex_lock(&mu);
	for (size_t i = nwatched; i-- > 0;) {
		if (watched[i].conn == conn) {
			c = watched[i].cancel;
			watched[i] = watched[--nwatched];
			break;
		}
	}
	pthread_mutex_unlock(&mu);
	if (c)
		PQfreeCancel(c);
}

void signals_track_tmp(const char *path)
{
	char *p = xstrdup(path);

	pthread_mutex_lock(&mu);
	if (ntmps == captmps) {
		captmps = captmps ? captmps * 2 : 8;
		tmps = xrealloc(tmps, captmps * sizeof *tmps);
	}
	tmps[ntmps++] = p;
	pthread_mutex_unlock(&mu);
}

void signals_untrack_tmp(const char *path)
{
	char *p = NULL;

	pthread_mutex_lock(&mu);
	for (size_t i = ntmps; i-- > 0;) {
		if (strcmp(tmps[i], path) == 0) {
			p = tmps[i];
			tmps[i] = tmps[--ntmps];
			break;
		}
	}
	pthread_mutex_unlock(&mu);
	free(p);
}
