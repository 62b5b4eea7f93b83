/*
 * pgtext.h - PostgreSQL's COPY text format, as pg_dump's and auzdb's plain
 * backups carry it.
 *
 * Owns: the statement that opens a block, "COPY schema.table (a, "B") FROM
 * stdin;" (identifiers unquoted, or folded to lower case as the server
 * folds them), the leading-keyword test it is built on, the rows of a block
 * (fields split by tabs and kept as written: escapes such as \N and \t stay
 * encoded, so a field goes back into another COPY unchanged), and the "\."
 * line that ends a block.  Text only: no server, no allocation but the
 * parsed names.  Calls: sqlscan (blanks and comments).
 */
#ifndef AUZDB_PGTEXT_H
#define AUZDB_PGTEXT_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * After blanks and comments at *pp: the keyword kw (lower case, matched
 * case-insensitively, as a whole word).  True and *pp past it, or false and
 * *pp untouched.
 */
bool pgtext_keyword(const char **pp, const char *kw);

/*
 * The identifier at *pp ("quoted" with "" for a quote, or bare and folded
 * to lower case), malloc'd, with *pp past it; NULL when there is none.
 */
char *pgtext_ident(const char **pp);

/* The header of a COPY block. */
struct pgtext_copy {
	char *schema; /* NULL when the table is not schema-qualified */
	char *table;
	char **cols; /* the column list, or none */
	int ncols;
};

/*
 * Parses a "COPY [schema.]table [(cols)] FROM stdin" statement into *c
 * (zeroed here; free with pgtext_copy_free).  Returns 0 when sql is not a
 * COPY, 1 when it was understood, -1 when it is a COPY of a shape not
 * understood (*c is then left empty).
 */
int pgtext_parse_copy(const char *sql, struct pgtext_copy *c);
void pgtext_copy_free(struct pgtext_copy *c);

/* Field idx (0-based) of the row [row, row + len) without its '\n': *off and *n, or false. */
bool pgtext_field(const char *row, size_t len, int idx, size_t *off, size_t *n);

/*
 * Appends the fields i < nkeep of the row (without its '\n') for which
 * keep[i] is set, tab-separated and '\n'-terminated, to out.
 */
void pgtext_project(const char *row, size_t len, const int *keep, int nkeep, struct strbuf *out);

/*
 * When the left bytes at p begin with the end-of-data line "\." (then "\n"
 * or "\r\n", or the bytes end after "\." or "\.\r"), the bytes it takes;
 * else 0.
 */
size_t pgtext_end_marker(const char *p, size_t left);

#endif
