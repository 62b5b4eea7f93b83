/*
 * resync_int.h - what resync.c and resync_keys.c share (nothing else
 * includes it): the reload's state, and the helpers each side gives the
 * other.
 */
#ifndef AUZDB_RESYNC_INT_H
#define AUZDB_RESYNC_INT_H

#include "conn.h"
#include "pgtext.h"

#define MAX_REJECTS 100 /* rejected rows named per table (the rest are counted) */
#define LOG_REJECTS 20  /* of MAX_REJECTS, logged one per line per table */

struct tcol {
	char *name;
	bool required;  /* NOT NULL, no default, not identity, not generated */
	bool generated; /* computed: never loaded */
	bool in_backup; /* set per COPY block */
};

struct ttable {
	char *name;
	char *qname; /* "schema"."table" */
	struct tcol *cols;
	size_t ncols;
	char **pk; /* primary key columns */
	size_t npk;
	bool loaded, failed;
	long long rows;
};

enum block_mode { B_SKIP, B_LOAD, B_DIAG };

struct reload {
	struct dbconn *db;
	const char *backup;
	struct ttable *tabs;
	size_t ntabs;
	bool second_pass;

	/* the COPY block being read */
	enum block_mode mode;
	struct ttable *cur;
	struct pgtext_copy hdr; /* the backup's names of the table and its columns */
	char *lost_why;         /* table not carried over: why */
	int *keep;              /* per backup field: carried over? */
	int *pkf;               /* backup field of each primary key column, or -1 */
	bool project;           /* some fields are dropped */
	char *copy_sql;         /* COPY target (kept columns) FROM STDIN */
	long data_line;         /* the COPY statement's line; row k is at data_line + k */
	long long nrow;         /* rows seen in this block */
	bool copy_open;         /* first pass: a server COPY is running */
	struct strbuf partial, line;
	/* second pass: buffered rows */
	struct strbuf chunk;
	size_t *offs;
	long *lnos;
	char **keys;
	size_t nchunk;
	long table_rejects;
	long long unchecked;

	/* the foreign keys and triggers dropped and disabled for the load (q_fkeys, q_triggers) */
	PGresult *fks, *trg;

	/* the report */
	/* the backup's sequence values: SELECT pg_catalog.setval('name', value, called); */
	char **seq_name, **seq_value;
	bool *seq_called;
	size_t nseq;

	struct strbuf jtables, jlost, jrejected;
	size_t ntables_json, nlost, nrejected_json;
	long long rows_loaded, rows_rejected;
	bool failed;
	int rc; /* a fatal error (connection, signal): stop everything */
	char *err;
};

/* resync.c: a fatal error (connection, signal) stops everything; the first one stays. */
void resync_fatal(struct reload *r, int rc, char *err);
/* resync.c: "<verb> auzdb_resync" (SAVEPOINT, RELEASE SAVEPOINT, ...); false after resync_fatal. */
bool resync_savepoint(struct reload *r, const char *verb);
/* resync.c: back to the savepoint after a failure, and drop it. */
void resync_savepoint_undo(struct reload *r);
/* resync.c: one row (or key, or sequence) that does not fit, for the log and the report. */
void resync_report_reject(struct reload *r, const char *table, long line, const char *key,
                          const char *why);

/* resync_keys.c: remembers a sequence value of the backup (r->seq_*), when sql sets one. */
void resync_note_setval(struct reload *r, const char *sql);
/* resync_keys.c: before the load, drops the schema's foreign keys and disables its triggers. */
int resync_keys_off(struct reload *r, char **err);
/*
 * resync_keys.c: after a load without rejected rows, adds the foreign keys
 * back (reporting the rows that break one), enables the triggers and sets
 * the sequences.
 */
void resync_keys_on(struct reload *r, char **err);

#endif
