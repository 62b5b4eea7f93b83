/* sqlscan.c - see sqlscan.h */
#include "sqlscan.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

enum tok { T_END, T_WORD, T_SEMI, T_OTHER };

struct lexer {
	const char *s;
	size_t len, pos;
	const char *word; /* for T_WORD */
	size_t wlen;
};

static bool ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Skips a dollar-quoted string starting at pos ('$'); false if not one. */
static bool skip_dollar(struct lexer *lx)
{
	size_t p = lx->pos + 1, taglen;
	const char *tag = lx->s + lx->pos;

	while (p < lx->len && lx->s[p] != '$') {
		unsigned char c = (unsigned char)lx->s[p];
		if (!(p == lx->pos + 1 ? ident_start(c) : (isalnum(c) || c == '_' || c >= 0x80)))
			return false;
		p++;
	}
	if (p >= lx->len)
		return false;
	taglen = p - lx->pos + 1; /* includes both '$' */
	p++;
	while (p + taglen <= lx->len) {
		if (lx->s[p] == '$' && memcmp(lx->s + p, tag, taglen) == 0) {
			lx->pos = p + taglen;
			return true;
		}
		p++;
	}
	lx->pos = lx->len; /* unterminated: runs to the end */
	return true;
}

static enum tok next(struct lexer *lx)
{
	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->s[lx->pos];
		unsigned char d = lx->pos + 1 < lx->len ? (unsigned char)lx->s[lx->pos + 1] : 0;

		if (isspace(c)) {
			lx->pos++;
		} else if (c == '-' && d == '-') {
			while (lx->pos < lx->len && lx->s[lx->pos] != '\n')
				lx->pos++;
		} else if (c == '/' && d == '*') {
			int depth = 1;
			lx->pos += 2;
			while (lx->pos < lx->len && depth > 0) {
				if (lx->s[lx->pos] == '/' && lx->pos + 1 < lx->len &&
				    lx->s[lx->pos + 1] == '*') {
					depth++;
					lx->pos += 2;
				} else if (lx->s[lx->pos] == '*' && lx->pos + 1 < lx->len &&
				           lx->s[lx->pos + 1] == '/') {
					depth--;
					lx->pos += 2;
				} else {
					lx->pos++;
				}
			}
		} else if (c == '\'' || ((c == 'e' || c == 'E') && d == '\'')) {
			bool esc = c != '\'';
			lx->pos += esc ? 2 : 1;
			while (lx->pos < lx->len) {
				char ch = lx->s[lx->pos++];
				if (esc && ch == '\\' && lx->pos < lx->len) {
					lx->pos++;
				} else if (ch == '\'') {
					if (lx->pos < lx->len && lx->s[lx->pos] == '\'')
						lx->pos++;
					else
						break;
				}
			}
			return T_OTHER;
		} else if (c == '"') {
			lx->pos++;
			while (lx->pos < lx->len) {
				if (lx->s[lx->pos++] == '"') {
					if (lx->pos < lx->len && lx->s[lx->pos] == '"')
						lx->pos++;
					else
						break;
				}
			}
			return T_OTHER;
		} else if (c == '$' && skip_dollar(lx)) {
			return T_OTHER;
		} else if (c == ';') {
			lx->pos++;
			return T_SEMI;
		} else if (ident_start(c)) {
			lx->word = lx->s + lx->pos;
			while (lx->pos < lx->len && ident_char((unsigned char)lx->s[lx->pos]))
				lx->pos++;
			lx->wlen = (size_t)(lx->s + lx->pos - lx->word);
			return T_WORD;
		} else {
			lx->pos++;
			return T_OTHER;
		}
	}
	return T_END;
}

static bool word_is(const struct lexer *lx, const char *w)
{
	return lx->wlen == strlen(w) && strncasecmp(lx->word, w, lx->wlen) == 0;
}

/*
 * Walks statements; calls back with the first two words of each statement
 * and whether CONCURRENTLY appears in it.
 */
struct stmt_info {
	char first[32], second[32];
	bool concurrently;
	bool nonempty;
};

typedef bool (*stmt_fn)(const struct stmt_info *st, void *arg);

static void copy_word(char *dst, size_t n, const struct lexer *lx)
{
	size_t k = lx->wlen < n - 1 ? lx->wlen : n - 1;
	for (size_t i = 0; i < k; i++)
		dst[i] = (char)toupper((unsigned char)lx->word[i]);
	dst[k] = '\0';
}

static void walk(const char *sql, size_t len, stmt_fn fn, void *arg)
{
	struct lexer lx = {sql, len, 0, NULL, 0};
	struct stmt_info st;
	int nwords = 0, atomic = 0, paren = 0;
	bool prev_begin = false, routine = false;
	enum tok t;

	memset(&st, 0, sizeof st);
	for (;;) {
		t = next(&lx);
		if (t == T_END || (t == T_SEMI && atomic == 0)) {
			if (st.nonempty && !fn(&st, arg))
				return;
			if (t == T_END)
				return;
			memset(&st, 0, sizeof st);
			nwords = paren = 0;
			prev_begin = routine = false;
			continue;
		}
		if (t == T_SEMI)
			continue;
		st.nonempty = true;
		if (t != T_WORD) {
			char last = lx.s[lx.pos - 1];
			if (last == '(')
				paren++;
			else if (last == ')' && paren > 0)
				paren--;
			nwords++;
			prev_begin = false;
			continue;
		}
		if (nwords == 0)
			copy_word(st.first, sizeof st.first, &lx);
		else if (nwords == 1)
			copy_word(st.second, sizeof st.second, &lx);
		if (word_is(&lx, "CONCURRENTLY"))
			st.concurrently = true;
		/* CREATE [OR REPLACE] FUNCTION|PROCEDURE: only its body may be BEGIN ATOMIC */
		if (nwords >= 1 && nwords <= 3 && strcmp(st.first, "CREATE") == 0 &&
		    (word_is(&lx, "FUNCTION") || word_is(&lx, "PROCEDURE")))
			routine = true;
		/* SQL-standard function bodies: BEGIN ATOMIC ... END, with CASE ... END inside */
		if (routine && paren == 0 && prev_begin && word_is(&lx, "ATOMIC"))
			atomic++;
		else if (atomic > 0 && word_is(&lx, "CASE"))
			atomic++;
		else if (atomic > 0 && word_is(&lx, "END"))
			atomic--;
		prev_begin = nwords > 0 && word_is(&lx, "BEGIN");
		nwords++;
	}
}

struct own_txn {
	const char *reason;
};

static bool check_stmt(const struct stmt_info *st, void *arg)
{
	struct own_txn *o = arg;
	static const struct {
		const char *first, *second, *reason;
	} rules[] = {
	    {"BEGIN", NULL, "BEGIN"},
	    {"START", "TRANSACTION", "START TRANSACTION"},
	    {"COMMIT", NULL, "COMMIT"},
	    {"END", NULL, "END"},
	    {"ROLLBACK", NULL, "ROLLBACK"},
	    {"ABORT", NULL, "ABORT"},
	    {"SAVEPOINT", NULL, "SAVEPOINT"},
	    {"RELEASE", NULL, "RELEASE"},
	    {"VACUUM", NULL, "VACUUM"},
	    {"CREATE", "DATABASE", "CREATE DATABASE"},
	    {"DROP", "DATABASE", "DROP DATABASE"},
	    {"CREATE", "TABLESPACE", "CREATE TABLESPACE"},
	    {"DROP", "TABLESPACE", "DROP TABLESPACE"},
	    {"ALTER", "SYSTEM", "ALTER SYSTEM"},
	};

	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		if (strcmp(st->first, rules[i].first) != 0)
			continue;
		if (rules[i].second && strcmp(st->second, rules[i].second) != 0)
			continue;
		o->reason = rules[i].reason;
		return false;
	}
	if (st->concurrently && strcmp(st->first, "REFRESH") != 0) {
		o->reason = "CONCURRENTLY";
		return false;
	}
	return true;
}

bool sql_needs_own_transaction(const char *sql, size_t len, const char **reason)
{
	struct own_txn o = {NULL};
	walk(sql, len, check_stmt, &o);
	if (reason)
		*reason = o.reason;
	return o.reason != NULL;
}

static bool count_stmt(const struct stmt_info *st, void *arg)
{
	(void)st;
	(*(size_t *)arg)++;
	return true;
}

size_t sql_count_statements(const char *sql, size_t len)
{
	size_t n = 0;
	walk(sql, len, count_stmt, &n);
	return n;
}

/* ---- incremental splitting (restore) ---------------------------------- */

enum { SQ_NORMAL, SQ_SQUOTE, SQ_ESTRING, SQ_DQUOTE, SQ_DOLLAR, SQ_BLOCK, SQ_LINE };

void sql_splitter_init(struct sql_splitter *s)
{
	memset(s, 0, sizeof *s);
}

static void statement_reset(struct sql_splitter *s)
{
	s->paren = 0;
	s->begin_depth = 0;
	s->nident = 0;
	memset(s->ident, 0, sizeof s->ident);
	s->nonblank = false;
}

static bool word_eq(const char *w, size_t n, const char *kw)
{
	return n == strlen(kw) && strncasecmp(w, kw, n) == 0;
}

/* psql's heuristic for SQL-standard function bodies (psqlscan.l). */
static void track_word(struct sql_splitter *s, const char *w, size_t n)
{
	if (s->nident < 4) {
		if (word_eq(w, n, "create") || word_eq(w, n, "function") ||
		    word_eq(w, n, "procedure") || word_eq(w, n, "or") || word_eq(w, n, "replace"))
			s->ident[s->nident] = (char)tolower((unsigned char)w[0]);
	}
	s->nident++;
	if (s->ident[0] == 'c' &&
	    (s->ident[1] == 'f' || s->ident[1] == 'p' ||
	     (s->ident[1] == 'o' && s->ident[2] == 'r' &&
	      (s->ident[3] == 'f' || s->ident[3] == 'p'))) &&
	    s->paren == 0) {
		if (word_eq(w, n, "begin"))
			s->begin_depth++;
		else if (word_eq(w, n, "case") && s->begin_depth >= 1)
			s->begin_depth++;
		else if (word_eq(w, n, "end") && s->begin_depth > 0)
			s->begin_depth--;
	}
}

/* Inside a comment, string, quoted identifier or dollar quote: one step, the new offset. */
static size_t split_quoted(struct sql_splitter *s, const char *b, size_t len, size_t i)
{
	unsigned char c = (unsigned char)b[i];
	unsigned char d = i + 1 < len ? (unsigned char)b[i + 1] : 0;

	switch (s->state) {
	case SQ_LINE:
		if (c == '\n')
			s->state = SQ_NORMAL;
		return i + 1;
	case SQ_BLOCK:
		if (c == '/' && d == '*') {
			s->comment_depth++;
			return i + 2;
		}
		if (c == '*' && d == '/') {
			if (--s->comment_depth == 0)
				s->state = SQ_NORMAL;
			return i + 2;
		}
		return i + 1;
	case SQ_SQUOTE:
	case SQ_ESTRING:
	case SQ_DQUOTE: {
		char q = s->state == SQ_DQUOTE ? '"' : '\'';
		if (s->escaped) { /* the byte after a backslash that ended the last buffer */
			s->escaped = false;
			return i + 1;
		}
		if (s->state == SQ_ESTRING && c == '\\') {
			if (i + 1 < len)
				return i + 2;
			s->escaped = true; /* the escaped byte is in the next buffer */
			return i + 1;
		}
		if (c == (unsigned char)q && d == (unsigned char)q)
			return i + 2; /* a doubled quote stays inside */
		if (c == (unsigned char)q)
			s->state = SQ_NORMAL;
		return i + 1;
	}
	case SQ_DOLLAR:
		if (c == '$' && i + s->taglen <= len && memcmp(b + i, s->tag, s->taglen) == 0) {
			s->state = SQ_NORMAL;
			return i + s->taglen;
		}
		return i + 1;
	default: return i + 1;
	}
}

/* The start of a non-blank token at b[i] (not a comment, ';' or '\\'): the new offset. */
static size_t split_token(struct sql_splitter *s, const char *b, size_t len, size_t i)
{
	unsigned char c = (unsigned char)b[i];
	unsigned char d = i + 1 < len ? (unsigned char)b[i + 1] : 0;

	s->nonblank = true;
	if (c == '\'') {
		s->state = SQ_SQUOTE;
		return i + 1;
	}
	if (c == '"') {
		s->state = SQ_DQUOTE;
		return i + 1;
	}
	if (c == '$' && !(d >= '0' && d <= '9')) {
		size_t j = i + 1;
		while (j < len && j - i < sizeof s->tag - 2 &&
		       (isalnum((unsigned char)b[j]) || b[j] == '_' || (unsigned char)b[j] >= 0x80))
			j++;
		if (j < len && b[j] == '$') {
			s->taglen = j - i + 1;
			memcpy(s->tag, b + i, s->taglen);
			s->state = SQ_DOLLAR;
			return j + 1;
		}
		return i + 1;
	}
	if (ident_start(c)) {
		size_t j = i;
		while (j < len && ident_char((unsigned char)b[j]))
			j++;
		if (j - i == 1 && (c == 'e' || c == 'E') && j < len && b[j] == '\'') {
			s->state = SQ_ESTRING;
			return j + 1;
		}
		track_word(s, b + i, j - i);
		return j;
	}
	if (c == '(') {
		s->paren++;
	} else if (c == ')' && s->paren > 0) {
		s->paren--;
	} else if (c >= '0' && c <= '9') {
		/* a number: do not let 1e5 or 12abc look like E'' */
		while (i < len && (isalnum((unsigned char)b[i]) || b[i] == '.'))
			i++;
		return i;
	}
	return i + 1;
}

bool sql_splitter_idle(const struct sql_splitter *s)
{
	return !s->nonblank && s->state == SQ_NORMAL;
}

size_t sql_split(struct sql_splitter *s, const char *b, size_t len, enum sql_split_result *res)
{
	size_t i = 0;

	*res = SQL_MORE;
	while (i < len) {
		unsigned char c = (unsigned char)b[i];
		unsigned char d = i + 1 < len ? (unsigned char)b[i + 1] : 0;

		if (s->state != SQ_NORMAL) {
			i = split_quoted(s, b, len, i);
		} else if (isspace(c)) {
			i++;
		} else if (c == '-' && d == '-') {
			s->state = SQ_LINE;
			i += 2;
		} else if (c == '/' && d == '*') {
			s->state = SQ_BLOCK;
			s->comment_depth = 1;
			i += 2;
		} else if (c == '\\') {
			*res = SQL_META;
			return i;
		} else if (c == ';' && s->paren == 0 && s->begin_depth == 0) {
			statement_reset(s);
			*res = SQL_END;
			return i + 1;
		} else {
			i = split_token(s, b, len, i);
		}
	}
	return i;
}

const char *sql_skip_blank(const char *p)
{
	for (;;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			p = e ? e + 2 : p + strlen(p);
		} else {
			return p;
		}
	}
}
