/* restore.c - see restore.h */
#define _POSIX_C_SOURCE 200809L
#include "restore.h"

#include "compress.h"
#include "conn.h"
#include "exitcodes.h"
#include "log.h"
#include "pgtext.h"
#include "sqlscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define RD_BUF (256 * 1024)
/*
 * The longest line and the longest statement outside COPY data (which is
 * streamed whatever its size): pg_dump and auzdb write far shorter ones, and
 * the two caps keep a crafted script from taking more than a few MB.
 */
#define RD_LINE_MAX ((size_t)8 << 20)
#define RD_STMT_MAX ((size_t)8 << 20)

/* A buffered reader over the (decompressed) script that counts lines. */
struct reader {
	struct gz_reader *gz;
	char *buf;
	size_t pos, len, cap; /* cap: buf's size, RD_BUF but in restore_scan */
	const char *mem;      /* restore_scan: the script in memory (no gz) */
	size_t memlen;
	bool eof;
	long line; /* lines consumed so far */
	char *err;
};

/* Keeps the unread bytes and reads more; false on a read error. */
static bool fill(struct reader *r)
{
	ssize_t n;
	if (r->eof)
		return true;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->len == r->cap)
		return true;
	if (r->gz) {
		n = gzr_read(r->gz, r->buf + r->len, r->cap - r->len, &r->err);
	} else {
		n = (ssize_t)(r->memlen < r->cap - r->len ? r->memlen : r->cap - r->len);
		if (n > 0)
			memcpy(r->buf + r->len, r->mem, (size_t)n);
		r->mem += n;
		r->memlen -= (size_t)n;
	}
	if (n < 0)
		return false;
	if (n == 0)
		r->eof = true;
	r->len += (size_t)n;
	return true;
}

/*
 * Adds n bytes of the line being read to sb; false (r->err set) for a NUL
 * byte (PQexec would see the statement end there: never run half of it) or
 * a line over RD_LINE_MAX, found as the bytes arrive, not after a whole
 * line of them is in memory.
 */
static bool take(struct reader *r, struct strbuf *sb, size_t n)
{
	const char *p = r->buf + r->pos;
	if (memchr(p, '\0', n)) {
		free(r->err);
		r->err = xstrdup("NUL byte in the script");
	} else if (n > RD_LINE_MAX - sb->len) {
		free(r->err);
		r->err =
		    xasprintf("a line longer than %zu MiB (not a script pg_dump or auzdb wrote)",
		              RD_LINE_MAX >> 20);
	} else {
		sb_add(sb, p, n);
		r->pos += n;
		return true;
	}
	r->line++; /* the line it is in */
	return false;
}

/* Reads one line, '\n' included, into sb (reset first): 1, 0 at the end, -1 on error. */
static int read_line(struct reader *r, struct strbuf *sb)
{
	sb_reset(sb);
	for (;;) {
		char *nl;
		if (r->pos == r->len) {
			if (r->eof)
				break;
			if (!fill(r))
				return -1;
			continue;
		}
		nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		if (!take(r, sb, nl ? (size_t)(nl - (r->buf + r->pos)) + 1 : r->len - r->pos))
			return -1;
		if (nl) {
			r->line++;
			return 1;
		}
	}
	if (sb->len) {
		r->line++;
		return 1;
	}
	return 0;
}

struct restore {
	const struct config *cfg;
	struct dbconn db;
	struct reader rd;
	long statements, copies;
	long long rows;
	const struct restore_sink *sink; /* restore_scan: no server */
};

/* PQputCopyData, or the sink's copy_data; false when the connection is lost. */
static bool put_copy_data(struct restore *rs, const char *p, size_t n)
{
	if (rs->sink) {
		rs->sink->copy_data(rs->sink->arg, p, n);
		return true;
	}
	return PQputCopyData(rs->db.pg, p, (int)n) == 1;
}

static int fail_at(long line, int rc, const char *fmt, ...) AZ_PRINTF(3, 4);
static int fail_at(long line, int rc, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;
	sb_init(&sb);
	if (line > 0)
		sb_addf(&sb, "line %ld: ", line);
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	log_error("restore: %s", sb.buf);
	sb_free(&sb);
	return rc;
}

/*
 * Streams one COPY block to the server: lines until one that is exactly
 * "\." (pg_dump's terminator), sent in large pieces as they are read.
 */
static int copy_in(struct restore *rs, long stmt_line)
{
	struct reader *r = &rs->rd;
	PGconn *pg = rs->db.pg;
	PGresult *res;
	bool at_start = true, done = false;
	long long rows = 0;

	while (!done) {
		size_t span = r->pos;
		if (r->len - r->pos < 4 && !r->eof) {
			if (!fill(r))
				return fail_at(r->line, AZ_EXIT_USAGE, "%s", r->err);
			continue;
		}
		if (r->pos == r->len) {
			PQputCopyEnd(pg, "end of file inside COPY data");
			while ((res = PQgetResult(pg)) != NULL)
				PQclear(res);
			return fail_at(r->line, AZ_EXIT_USAGE,
			               "end of file inside the COPY data of line %ld (no \\. line)",
			               stmt_line);
		}
		/* walk whole lines in the buffer; stop at "\." or where the buffer ends */
		while (r->pos < r->len) {
			char *nl;
			if (at_start) {
				size_t left = r->len - r->pos;
				size_t skip = pgtext_end_marker(r->buf + r->pos, left);
				if (left < 4 && !r->eof && r->pos > span)
					break; /* too little to tell; send what we have, then read
					        */
				if (skip) {
					if (span < r->pos &&
					    !put_copy_data(rs, r->buf + span, r->pos - span))
						goto conn_lost;
					r->pos += skip;
					r->line++;
					done = true;
					break;
				}
			}
			nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
			if (!nl) {
				r->pos = r->len;
				at_start = false;
				break;
			}
			r->pos = (size_t)(nl - r->buf) + 1;
			r->line++;
			rows++;
			at_start = true;
		}
		if (!done && span < r->pos && !put_copy_data(rs, r->buf + span, r->pos - span))
			goto conn_lost;
		if (!done && r->pos == r->len && !fill(r))
			return fail_at(r->line, AZ_EXIT_USAGE, "%s", r->err);
	}
	if (rs->sink) {
		rs->sink->copy_end(rs->sink->arg, rows);
		rs->copies++;
		rs->rows += rows;
		return AZ_EXIT_OK;
	}
	if (PQputCopyEnd(pg, NULL) != 1)
		goto conn_lost;
	res = PQgetResult(pg);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		char *e = db_result_error(res, pg);
		const char *where = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
		long line = stmt_line;
		/* "COPY t, line 3, column c: ..." names the data line */
		if (where && strstr(where, ", line ")) {
			long k = atol(strstr(where, ", line ") + 7);
			if (k > 0)
				line = stmt_line + k;
		}
		PQclear(res);
		while ((res = PQgetResult(pg)) != NULL)
			PQclear(res);
		fail_at(line, AZ_EXIT_MIGRATION, "%s", e);
		free(e);
		return AZ_EXIT_MIGRATION;
	}
	PQclear(res);
	while ((res = PQgetResult(pg)) != NULL)
		PQclear(res);
	rs->copies++;
	rs->rows += rows;
	return AZ_EXIT_OK;
conn_lost : {
	char *e = db_result_error(NULL, pg);
	fail_at(r->line, AZ_EXIT_UNREACHABLE, "sending COPY data failed: %s", e);
	free(e);
	return AZ_EXIT_UNREACHABLE;
}
}

/* Line of a 1-based character position within a statement that began on line first. */
static long error_line(const char *sql, long first, const char *pos)
{
	long chars = 0, line = first, target = pos ? atol(pos) : 0;
	if (target <= 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)sql; *p && chars < target - 1; p++) {
		if ((*p & 0xc0) == 0x80)
			continue;
		chars++;
		if (*p == '\n')
			line++;
	}
	return line;
}

/* Runs one statement (and its COPY data, if it is COPY FROM stdin). */
static int execute(struct restore *rs, const char *sql, long first_line, long token_line)
{
	PGresult *res;
	ExecStatusType st;
	int rc;

	if (rs->sink) {
		rs->statements++;
		if (rs->sink->statement(rs->sink->arg, sql, first_line, token_line))
			return copy_in(rs, token_line);
		return AZ_EXIT_OK;
	}
	{
		/*
		 * a COMMIT in the file would break the one-transaction promise.
		 * CREATE statements are left to the server: a SQL-standard body
		 * (BEGIN ATOMIC ... END) would read as END to the checker, and
		 * the CREATEs that cannot run in a transaction fail there anyway.
		 */
		const char *why = NULL;
		const char *p = sql;
		if (!pgtext_keyword(&p, "create") &&
		    sql_needs_own_transaction(sql, strlen(sql), &why))
			return fail_at(token_line, AZ_EXIT_USAGE,
			               "%s cannot run inside the restore's single transaction",
			               why);
	}
	/*
	 * The extended protocol runs one statement or none: if the splitter
	 * was fooled into one chunk holding two (a hidden COMMIT behind a
	 * function called begin()), the server refuses the chunk (42601)
	 * before any of it runs, instead of committing the restore half-way.
	 */
	res = PQexecParams(rs->db.pg, sql, 0, NULL, NULL, NULL, NULL, 0);
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	rs->statements++;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
		PQclear(res);
		if (PQtransactionStatus(rs->db.pg) != PQTRANS_INTRANS)
			return fail_at(token_line, AZ_EXIT_MIGRATION,
			               "the statement ended the restore's transaction");
		return AZ_EXIT_OK;
	}
	if (st == PGRES_COPY_IN) {
		PQclear(res);
		return copy_in(rs, token_line);
	}
	{
		char *e = db_error_of(&rs->db, res);
		long line =
		    error_line(sql, first_line,
		               res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL);
		if (st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
			free(e);
			e = xstrdup("COPY TO STDOUT has no place in a restore");
		}
		PQclear(res);
		rc = PQstatus(rs->db.pg) == CONNECTION_OK ? AZ_EXIT_MIGRATION : AZ_EXIT_UNREACHABLE;
		fail_at(line ? line : token_line, rc, "%s", e);
		free(e);
		return rc;
	}
}

/* The psql meta-command at line[off]: \restrict and \unrestrict are fine. */
static int meta_command(const char *line, size_t off, long lineno, bool in_statement)
{
	const char *p = line + off + 1;
	size_t n = strcspn(p, " \t\r\n");
	char *name = xstrndup(p, n > 40 ? 40 : n);
	int rc = AZ_EXIT_OK;

	for (char *c = name; *c; c++) /* hostile bytes never reach the terminal */
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	if (in_statement)
		rc = fail_at(lineno, AZ_EXIT_USAGE,
		             "psql meta-command \\%s inside a statement is not supported", name);
	else if (!str_eq(name, "restrict") && !str_eq(name, "unrestrict"))
		rc = fail_at(lineno, AZ_EXIT_USAGE,
		             "psql meta-command \\%s is not supported (only \\restrict and "
		             "\\unrestrict are)",
		             name);
	free(name);
	return rc;
}

static int play(struct restore *rs)
{
	struct sql_splitter sp;
	struct strbuf line, stmt;
	long first_line = 0, token_line = 0;
	int k, rc = AZ_EXIT_OK;

	sql_splitter_init(&sp);
	sb_init(&line);
	sb_init(&stmt);
	while (rc == AZ_EXIT_OK && (k = read_line(&rs->rd, &line)) > 0) {
		long lineno = rs->rd.line;
		size_t off = 0;
		while (rc == AZ_EXIT_OK && off < line.len) {
			enum sql_split_result res;
			bool was_blank = !sp.nonblank;
			size_t end = sql_split(&sp, line.buf + off, line.len - off, &res);

			if (stmt.len == 0)
				first_line = lineno;
			if (was_blank && (sp.nonblank || res == SQL_END))
				token_line = lineno;
			if (res == SQL_META) {
				rc = meta_command(line.buf, off + end, lineno, sp.nonblank);
				sb_reset(&stmt); /* only comments before it */
				break;           /* a meta-command runs to the end of the line */
			}
			sb_add(&stmt, line.buf + off, end);
			off += end;
			if (res == SQL_MORE && sql_splitter_idle(&sp)) {
				sb_reset(&stmt); /* blank lines and comments: never kept */
			} else if (stmt.len > RD_STMT_MAX) {
				rc = fail_at(first_line, AZ_EXIT_USAGE,
				             "a statement longer than %zu MiB (not a script "
				             "pg_dump or auzdb wrote)",
				             RD_STMT_MAX >> 20);
			} else if (res == SQL_END) {
				/*
				 * after COPY ... FROM stdin; the data comes from the next
				 * lines, and the rest of this one runs after it, as psql
				 * runs it
				 */
				rc = execute(rs, stmt.buf, first_line, token_line);
				sb_reset(&stmt);
			}
		}
	}
	if (k < 0)
		rc = fail_at(rs->rd.line, AZ_EXIT_USAGE, "%s", rs->rd.err);
	else if (rc == AZ_EXIT_OK && sp.nonblank)
		rc = fail_at(token_line, AZ_EXIT_USAGE,
		             sp.state ? "end of file inside a quoted string or comment"
		                      : "end of file inside a statement (missing ';')");
	sb_free(&line);
	sb_free(&stmt);
	return rc;
}

/* Objects a restore would collide with: user schemas, relations, types, functions, extensions. */
static const char q_nonempty[] =
    "SELECT kind, name FROM ("
    " SELECT 1 AS o, 'schema' AS kind, quote_ident(nspname) AS name FROM pg_catalog.pg_namespace "
    "  WHERE oid >= 16384 AND nspname <> 'public' AND nspname <> 'information_schema' "
    "  AND nspname !~ '^pg_' "
    " UNION ALL SELECT 2, 'extension', quote_ident(extname) FROM pg_catalog.pg_extension "
    "  WHERE oid >= 16384 "
    " UNION ALL SELECT 3, 'relation', format('%I.%I', n.nspname, c.relname) "
    "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "  WHERE c.oid >= 16384 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' "
    " UNION ALL SELECT 4, 'type', format('%I.%I', n.nspname, t.typname) "
    "  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
    "  WHERE t.oid >= 16384 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' "
    " UNION ALL SELECT 5, 'function', format('%I.%I', n.nspname, p.proname) "
    "  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
    "  WHERE p.oid >= 16384 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' "
    ") x ORDER BY o, name LIMIT 1";

static int check_empty(struct restore *rs)
{
	char *e = NULL;
	PGresult *res = db_query(&rs->db, q_nonempty, 0, NULL, PGRES_TUPLES_OK, &e);
	int rc = AZ_EXIT_OK;

	if (!res) {
		rc = fail_at(0, AZ_EXIT_UNREACHABLE, "cannot inspect database \"%s\": %s",
		             rs->db.dbname, e);
		free(e);
		return rc;
	}
	if (PQntuples(res) > 0)
		rc = fail_at(0, AZ_EXIT_USAGE,
		             "database \"%s\" is not empty (it holds %s %s); restore into an empty "
		             "database, or pass --clean to drop what it holds first",
		             rs->db.dbname, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
	return rc;
}

/* Runs "<verb> <quoted name> CASCADE" for each name a query returns. */
static bool drop_each(struct restore *rs, const char *list_sql, const char *verb, char **err)
{
	PGresult *res = db_query(&rs->db, list_sql, 0, NULL, PGRES_TUPLES_OK, err);
	bool ok = res != NULL;

	for (int i = 0; ok && i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		char *q = PQescapeIdentifier(rs->db.pg, name, strlen(name)), *sql;
		if (!q) {
			*err = xasprintf("cannot quote \"%s\"", name);
			ok = false;
			break;
		}
		sql = xasprintf("%s %s CASCADE", verb, q);
		PQfreemem(q);
		ok = db_command(&rs->db, sql, 0, NULL, err);
		free(sql);
	}
	PQclear(res);
	return ok;
}

/* --clean: drops every user schema and extension, and renews public as initdb makes it. */
static int clean(struct restore *rs)
{
	char *e = NULL;
	bool ok =
	    drop_each(
	        rs,
	        "SELECT extname FROM pg_catalog.pg_extension WHERE oid >= 16384 ORDER BY oid DESC",
	        "DROP EXTENSION IF EXISTS", &e) &&
	    drop_each(
	        rs,
	        "SELECT nspname FROM pg_catalog.pg_namespace WHERE oid >= 16384 AND nspname <> "
	        "'information_schema' AND nspname !~ '^pg_' ORDER BY oid DESC",
	        "DROP SCHEMA IF EXISTS", &e) &&
	    db_command(&rs->db, "DROP SCHEMA IF EXISTS public CASCADE", 0, NULL, &e);
	if (ok && PQserverVersion(rs->db.pg) >= 150000)
		ok = db_command(&rs->db, "CREATE SCHEMA public AUTHORIZATION pg_database_owner", 0,
		                NULL, &e) &&
		     db_command(&rs->db, "GRANT USAGE ON SCHEMA public TO PUBLIC", 0, NULL, &e);
	else if (ok)
		ok = db_command(&rs->db, "CREATE SCHEMA public", 0, NULL, &e) &&
		     db_command(&rs->db, "GRANT CREATE, USAGE ON SCHEMA public TO PUBLIC", 0, NULL,
		                &e);
	ok = ok && db_command(&rs->db, "COMMENT ON SCHEMA public IS 'standard public schema'", 0,
	                      NULL, &e);
	if (!ok) {
		int rc = fail_at(0, AZ_EXIT_AUTH, "--clean of database \"%s\" failed: %s",
		                 rs->db.dbname, e);
		free(e);
		return rc;
	}
	log_db(LOG_INFO, rs->db.dbname, "--clean: dropped every schema, extension and object");
	return AZ_EXIT_OK;
}

/*
 * --clean drops everything before the script runs, so a script that would
 * put nothing back is refused first: no statement at all, or no CREATE and
 * no COPY (a truncated upload, a dump of an empty database).  A regular file
 * gets a first pass (restore_scan_file) before anything is dropped; standard
 * input or a pipe is read once, so there the rule is checked after the
 * script, inside its one transaction, and a refusal rolls back.
 */
struct clean_scan {
	long statements;
	bool content; /* a CREATE or a COPY */
};

static bool read_once(const char *path)
{
	struct stat st;
	return str_eq(path, "-") || stat(path, &st) != 0 || !S_ISREG(st.st_mode);
}

static bool first_word_is(const char *sql, const char *word)
{
	const char *p = sql_skip_blank(sql);
	size_t n = strlen(word);
	char c;

	if (strncasecmp(p, word, n) != 0)
		return false;
	c = p[n]; /* p holds word, so p[n] is at most its NUL */
	return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	         c == '_');
}

static bool clean_scan_statement(void *arg, const char *sql, long first_line, long token_line)
{
	struct clean_scan *cs = arg;
	bool copy = first_word_is(sql, "copy"); /* in a backup, always COPY ... FROM stdin */

	(void)first_line;
	(void)token_line;
	cs->statements++;
	cs->content = cs->content || copy || first_word_is(sql, "create");
	return copy;
}

static void clean_scan_data(void *arg, const char *data, size_t n)
{
	(void)arg, (void)data, (void)n;
}

static void clean_scan_end(void *arg, long long rows)
{
	(void)arg, (void)rows;
}

static int clean_refused(struct restore *rs, const char *what)
{
	const char *file = rs->cfg->restore_file;
	return fail_at(0, AZ_EXIT_USAGE, "%s has %s: %s database \"%s\"%s",
	               str_eq(file, "-") ? "standard input" : file, what,
	               rs->cfg->restore_clean ? "--clean would empty" : "nothing to restore into",
	               rs->db.dbname,
	               rs->cfg->restore_clean ? " and put nothing back; refused, nothing dropped"
	                                      : "");
}

/* Before clean(): the first pass over a file. */
static int clean_allowed(struct restore *rs)
{
	struct clean_scan cs = {0, false};
	struct restore_sink sink = {clean_scan_statement, clean_scan_data, clean_scan_end, &cs};
	int rc;

	if (read_once(rs->cfg->restore_file))
		return AZ_EXIT_OK; /* clean_kept, after the script */
	if ((rc = restore_scan_file(rs->cfg->restore_file, &sink)) != 0)
		return rc; /* the script's own error (logged), found before any drop */
	return !cs.statements ? clean_refused(rs, "no SQL statement")
	       : !cs.content  ? clean_refused(rs, "no CREATE or COPY statement")
	                      : AZ_EXIT_OK;
}

/* After the script, before COMMIT: a script of no statement, and a pipe's --clean rule. */
static int clean_kept(struct restore *rs)
{
	char *e = NULL;
	PGresult *res;
	int rc = AZ_EXIT_OK;

	if (!rs->statements)
		return clean_refused(rs, "no SQL statement");
	if (!rs->cfg->restore_clean || !read_once(rs->cfg->restore_file) || rs->copies)
		return AZ_EXIT_OK;
	if (!(res = db_query(&rs->db, q_nonempty, 0, NULL, PGRES_TUPLES_OK, &e))) {
		rc = fail_at(0, db_error_exit(&rs->db, AZ_EXIT_UNREACHABLE), "%s", e);
		free(e);
	} else if (PQntuples(res) == 0) {
		rc = clean_refused(rs, "no CREATE or COPY that left anything");
	}
	PQclear(res);
	return rc;
}

/* Opens path ("-" = stdin, gzip or plain) into rd; NULL, or the error (caller frees). */
static char *reader_open(struct reader *rd, const char *path)
{
	char *e = NULL;

	rd->gz = gzr_open(path, &e);
	if (!rd->gz)
		return e;
	rd->cap = RD_BUF;
	rd->buf = xmalloc(rd->cap);
	return NULL;
}

struct restore *restore_open(const struct config *cfg, char **err)
{
	struct restore *rs = xcalloc(1, sizeof *rs);

	rs->cfg = cfg;
	*err = reader_open(&rs->rd, cfg->restore_file);
	if (*err) {
		free(rs);
		return NULL;
	}
	return rs;
}

void restore_close(struct restore *rs)
{
	if (!rs)
		return;
	gzr_close(rs->rd.gz);
	free(rs->rd.buf);
	free(rs->rd.err);
	free(rs);
}

/*
 * The restore's one transaction on rs->db: --clean's drops (with the
 * command's guards when from is set), the empty-target check, the script,
 * COMMIT; rolled back on any failure.  from names the script in the log
 * (the command), or is NULL (reset's put-back, which logs for itself).
 */
static int play_in_txn(struct restore *rs, bool clean_first, const char *from)
{
	char *e = NULL;
	int rc = AZ_EXIT_OK;

	if (!db_command(&rs->db, "BEGIN", 0, NULL, &e)) {
		rc = fail_at(0, AZ_EXIT_UNREACHABLE, "%s", e);
		free(e);
		return rc;
	}
	if (clean_first && from)
		rc = clean_allowed(rs);
	if (!rc && clean_first)
		rc = clean(rs);
	if (!rc)
		rc = check_empty(rs);
	if (!rc && from)
		log_db(LOG_INFO, rs->db.dbname, "restoring %s into %s", from, rs->db.where);
	if (!rc)
		rc = play(rs);
	if (!rc && from)
		rc = clean_kept(rs);
	if (!rc && !db_command(&rs->db, "COMMIT", 0, NULL, &e)) {
		rc = fail_at(0, AZ_EXIT_MIGRATION, "commit failed: %s", e);
		free(e);
	}
	if (rc)
		db_rollback(&rs->db);
	return rc;
}

int restore_play(struct restore *rs, struct dbconn *db)
{
	const struct config *cfg = rs->cfg;
	const char *from = str_eq(cfg->restore_file, "-") ? "standard input" : cfg->restore_file;
	long long t0 = now_ms();
	int rc;

	rs->db = *db; /* borrowed: the caller closes it */
	db_quiet_notices(db);
	rc = play_in_txn(rs, cfg->restore_clean, from);
	if (!rc)
		log_at(LOG_INFO, &(struct log_ctx){rs->db.dbname, NULL, now_ms() - t0},
		       "restored %ld statements and %ld tables (%lld rows) from %s%s",
		       rs->statements, rs->copies, rs->rows, from,
		       gzr_compressed(rs->rd.gz) ? " (gzip)" : "");
	return rc;
}

int restore_scan(const char *script, size_t len, size_t buf_size, const struct restore_sink *sink)
{
	struct restore rs;
	int rc;

	memset(&rs, 0, sizeof rs);
	rs.sink = sink;
	rs.rd.mem = script;
	rs.rd.memlen = len;
	rs.rd.cap = buf_size < 4 ? 4 : buf_size;
	rs.rd.buf = xmalloc(rs.rd.cap);
	rc = play(&rs);
	free(rs.rd.buf);
	free(rs.rd.err);
	return rc;
}

int restore_scan_file(const char *path, const struct restore_sink *sink)
{
	struct restore rs;
	char *e = NULL;
	int rc;

	memset(&rs, 0, sizeof rs);
	rs.sink = sink;
	e = reader_open(&rs.rd, path);
	if (e) {
		rc = fail_at(0, AZ_EXIT_USAGE, "%s", e);
		free(e);
		return rc;
	}
	rc = play(&rs);
	gzr_close(rs.rd.gz);
	free(rs.rd.buf);
	free(rs.rd.err);
	return rc;
}

int restore_into(struct dbconn *db, const char *path, bool clean_first, char **err)
{
	struct restore rs;
	int rc;

	memset(&rs, 0, sizeof rs);
	*err = reader_open(&rs.rd, path);
	if (*err)
		return AZ_EXIT_USAGE;
	rs.db = *db; /* borrowed: the caller closes it */
	rc = play_in_txn(&rs, clean_first, NULL);
	if (rc)
		*err = xasprintf("restoring %s failed (the error is logged above)", path);
	gzr_close(rs.rd.gz);
	free(rs.rd.buf);
	free(rs.rd.err);
	return rc;
}
