/* pgtext.c - see pgtext.h */
#define _POSIX_C_SOURCE 200809L
#include "pgtext.h"

#include "sqlscan.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool pgtext_keyword(const char **pp, const char *kw)
{
	size_t n = strlen(kw);
	const char *p = sql_skip_blank(*pp);
	if (strncasecmp(p, kw, n) != 0 || isalnum((unsigned char)p[n]) || p[n] == '_')
		return false;
	*pp = p + n;
	return true;
}

char *pgtext_ident(const char **pp)
{
	const char *p = *pp;
	struct strbuf sb;

	sb_init(&sb);
	if (*p == '"') {
		for (p++; *p; p++) {
			if (*p == '"') {
				if (p[1] != '"')
					break;
				p++;
			}
			sb_addc(&sb, *p);
		}
		if (*p != '"') {
			sb_free(&sb);
			return NULL;
		}
		p++;
	} else {
		while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '$' ||
		              (unsigned char)*p >= 0x80))
			sb_addc(&sb, (char)tolower((unsigned char)*p++));
	}
	if (!sb.len) {
		sb_free(&sb);
		return NULL;
	}
	*pp = p;
	return sb.buf; /* ours now: sb is not used again */
}

void pgtext_copy_free(struct pgtext_copy *c)
{
	for (int i = 0; i < c->ncols; i++)
		free(c->cols[i]);
	free(c->cols);
	free(c->schema);
	free(c->table);
	memset(c, 0, sizeof *c);
}

/* The "(a, "B")" column list at p into c->cols; false when it is not one. */
static bool parse_columns(const char **pp, struct pgtext_copy *c)
{
	const char *p = *pp + 1; /* past '(' */

	for (;;) {
		char *col;
		p = sql_skip_blank(p);
		if (!(col = pgtext_ident(&p)))
			return false;
		c->cols = xrealloc(c->cols, (size_t)(c->ncols + 1) * sizeof *c->cols);
		c->cols[c->ncols++] = col;
		p = sql_skip_blank(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p != ')')
			return false;
		*pp = p + 1;
		return true;
	}
}

int pgtext_parse_copy(const char *sql, struct pgtext_copy *c)
{
	const char *p = sql_skip_blank(sql);
	char *a, *b = NULL;

	memset(c, 0, sizeof *c);
	if (!pgtext_keyword(&p, "copy"))
		return 0;
	p = sql_skip_blank(p);
	if (!(a = pgtext_ident(&p)))
		return -1;
	if (*p == '.') {
		p++;
		if (!(b = pgtext_ident(&p))) {
			free(a);
			return -1;
		}
	}
	if (b) {
		c->schema = a;
		c->table = b;
	} else {
		c->table = a;
	}
	p = sql_skip_blank(p);
	if ((*p == '(' && !parse_columns(&p, c)) || !pgtext_keyword(&p, "from") ||
	    !pgtext_keyword(&p, "stdin")) {
		pgtext_copy_free(c);
		return -1;
	}
	return 1;
}

bool pgtext_field(const char *row, size_t len, int idx, size_t *off, size_t *n)
{
	int fi = 0;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || row[i] == '\t') {
			if (fi == idx) {
				*off = start;
				*n = i - start;
				return true;
			}
			fi++;
			start = i + 1;
		}
	}
	return false;
}

void pgtext_project(const char *row, size_t len, const int *keep, int nkeep, struct strbuf *out)
{
	int fi = 0;
	size_t start = 0;
	bool first = true;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || row[i] == '\t') {
			if (fi < nkeep && keep[fi]) {
				if (!first)
					sb_addc(out, '\t');
				sb_add(out, row + start, i - start);
				first = false;
			}
			fi++;
			start = i + 1;
		}
	}
	sb_addc(out, '\n');
}

size_t pgtext_end_marker(const char *p, size_t left)
{
	if (left < 2 || p[0] != '\\' || p[1] != '.')
		return 0;
	if (left == 2)
		return 2;
	if (p[2] == '\n')
		return 3;
	if (p[2] != '\r')
		return 0;
	if (left == 3)
		return 3;
	return p[3] == '\n' ? 4 : 0;
}
