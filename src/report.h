/*
 * report.h - what a fleet run tells people and machines at the end.
 *
 * Owns: the per-database outcomes of one run, the human summary table, the
 * JSON report (--report FILE, written 0600 via a temp file and rename, and
 * the last log line in JSON mode), and the Kubernetes termination message
 * (at most 4096 bytes).  Calls: log.
 */
#ifndef AUZDB_REPORT_H
#define AUZDB_REPORT_H

#include <stdbool.h>
#include <stddef.h>

struct applied_migration {
	char *name;
	long long duration_ms;
};

/* What happened to one database: the report's row. */
struct db_outcome {
	char *database;
	const char *role;  /* "master" or "tenant" (static) */
	char *slug;        /* tenants only */
	char *state_after; /* as state_before, after the run (or the status) */
	size_t nfailed;    /* failed ledger rows (status) */
	size_t ndrifted;   /* edited applied migrations (status) */
	char *detail;      /* status: the names behind the counts, one line */
	int exit_code;
	char *error;        /* one line, or NULL */
	char *state_before; /* "up to date", "3 pending", "failed row", ... */
	size_t applied_before;
	size_t pending_before;
	struct applied_migration *done;
	size_t ndone;
	long long duration_ms;
	char *backup_file; /* the backup taken before migrating, or NULL */
};

/* Frees what an outcome owns and zeroes it. */
void outcome_free(struct db_outcome *o);

struct report {
	char started_at[40];
	long long start_ms;
	const char *command;
	struct db_outcome *dbs; /* master first, then tenants in order */
	size_t count;
	int exit_code;
};

void report_init(struct report *r, const char *command);
/* Appends a zeroed outcome and returns it (valid until the next call). */
struct db_outcome *report_add(struct report *r);
void report_free(struct report *r);

/*
 * The run's exit code from its outcomes: master's code, else 9 if a tenant
 * failed - unless every failed tenant failed retryably (3, 5, 6, 10): then
 * the first such code, so a Job retries.  Stopped runs: signals_exit_code().
 */
int report_exit_code(const struct report *r);
void report_print_table(const struct report *r);
/* The whole report as one JSON object (caller frees). */
char *report_json(const struct report *r);
/* Writes the JSON report to path with mode 0600; false and *err on failure. */
bool report_write_file(const struct report *r, const char *path, char **err);
/* Writes the termination message (<= 4096 bytes) to path; failures are logged only. */
void report_termination(const struct report *r, const char *path);

#endif
