/*
 * sqlscan.h - a small lexer for PostgreSQL SQL scripts.
 *
 * Owns: knowing where comments, string literals (standard, E'' and
 * dollar-quoted), quoted identifiers and statement ends are, so that the
 * applier can tell whether a migration can run inside a transaction, and
 * so that restore can cut a script into statements as psql does (a ';'
 * outside parentheses and outside a BEGIN ... END function body; a
 * backslash outside quotes starts a psql meta-command).  It never
 * executes or rewrites SQL.
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

/*
 * p past whitespace and -- and block comments (not nested; an unterminated
 * one runs to the end of the string): where a statement's first word is.
 */
const char *sql_skip_blank(const char *p);

/* Incremental statement splitter, fed whole lines of a script. */
struct sql_splitter {
	int state;         /* normal, in a string, identifier, comment, ... */
	int comment_depth; /* nested block comments */
	char tag[66];      /* the open dollar quote's tag, both '$' included */
	size_t taglen;
	int paren;       /* open parentheses */
	int begin_depth; /* BEGIN ... END of a CREATE FUNCTION/PROCEDURE body */
	char ident[4];   /* first letters of the statement's leading keywords */
	int nident;
	bool nonblank; /* the statement has something besides comments */
	bool escaped;  /* an E'' string's backslash ended the last buffer */
};

enum sql_split_result {
	SQL_MORE, /* consumed everything; the statement goes on */
	SQL_END,  /* a statement ended just before the returned offset */
	SQL_META, /* a backslash meta-command starts at the returned offset */
};

void sql_splitter_init(struct sql_splitter *s);
/*
 * Scans buf[0, len) from the splitter's state.  Returns the offset where
 * scanning stopped: just past the ';' (SQL_END; the splitter is then
 * reset for the next statement), at the backslash (SQL_META), or len.
 */
size_t sql_split(struct sql_splitter *s, const char *buf, size_t len, enum sql_split_result *res);
/*
 * True between statements: nothing but blanks and whole comments seen since
 * the last end, and not inside a comment or quote.  What was fed so far can
 * then be dropped without changing the next statement.
 */
bool sql_splitter_idle(const struct sql_splitter *s);

#endif
