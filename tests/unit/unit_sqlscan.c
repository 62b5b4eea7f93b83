/*
 * Unit tests for sqlscan.h: statement counting, own-transaction detection,
 * the incremental splitter restore uses, and sql_skip_blank.  Calls: sqlscan.
 */
#include "sqlscan.h"
#include "unit.h"

#include <string.h>

static size_t count(const char *sql)
{
	return sql_count_statements(sql, strlen(sql));
}

/* the reason sql_needs_own_transaction gives, or NULL when it says no */
static const char *own(const char *sql)
{
	const char *reason = "unset";
	bool yes = sql_needs_own_transaction(sql, strlen(sql), &reason);
	if (yes != (reason != NULL))
		return "INCONSISTENT: the answer and the reason disagree";
	return reason;
}

static void test_count(void)
{
	CHECK_INT(count(""), 0);
	CHECK_INT(count(" \n\t "), 0);
	CHECK_INT(count("-- only a comment\n/* and another */"), 0);
	CHECK_INT(count(";;; ;"), 0);
	CHECK_INT(count("SELECT 1"), 1);
	CHECK_INT(count("SELECT 1;"), 1);
	CHECK_INT(count("SELECT 1; SELECT 2;"), 2);
	CHECK_INT(count("SELECT 1;\n\n-- trailing comment\n"), 1);
	/* a ';' inside quotes, identifiers and comments ends nothing */
	CHECK_INT(count("SELECT ';'; SELECT 2"), 2);
	CHECK_INT(count("SELECT 'it''s; here'; SELECT 2"), 2);
	CHECK_INT(count("SELECT E'\\';'; SELECT 2"), 2); /* E'\';' is one string */
	CHECK_INT(count("SELECT \"a;b\" FROM t; SELECT 2"), 2);
	CHECK_INT(count("SELECT 1 -- ; not here\n; SELECT 2"), 2);
	CHECK_INT(count("/* ; /* nested ; */ still ; comment */ SELECT 1"), 1);
	/* dollar quotes, tagged and nested */
	CHECK_INT(count("SELECT $$a;b$$; SELECT 1"), 2);
	CHECK_INT(count("DO $body$ BEGIN PERFORM 1; END $body$; SELECT 1;"), 2);
	CHECK_INT(count("SELECT $a$ $b$ ; $b$ ; $a$;"), 1);
	CHECK_INT(count("SELECT $1; SELECT $2"), 2); /* parameters are not quotes */
	/* unterminated quotes and comments run to the end */
	CHECK_INT(count("SELECT 'abc; SELECT 2"), 1);
	CHECK_INT(count("SELECT $$abc; SELECT 2"), 1);
	CHECK_INT(count("SELECT 1; /* SELECT 2; "), 1);
	/* SQL-standard bodies: ';' inside BEGIN ATOMIC ... END */
	CHECK_INT(count("CREATE FUNCTION f() RETURNS int LANGUAGE sql\n"
	                "BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3;"),
	          2);
	CHECK_INT(count("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); "
	                "END"),
	          1);
	CHECK_INT(count("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE "
	                "WHEN true THEN 1 END; SELECT 2; END;"),
	          1);
	/* identifiers called begin and atomic are not a body */
	CHECK_INT(count("CREATE DOMAIN atomic AS int; CREATE TABLE t1 (begin atomic); COMMIT;"), 3);
	/* only len bytes are read */
	CHECK_INT(sql_count_statements("SELECT 1; SELECT 2", 9), 1);
	CHECK_INT(sql_count_statements("SELECT 1", 0), 0);
}

static void test_own_transaction(void)
{
	const char *reason = "unset";

	CHECK_STR(own("CREATE TABLE t (id int);"), NULL);
	CHECK_STR(own(""), NULL);
	CHECK_STR(own("BEGIN; CREATE TABLE t (id int); COMMIT;"), "BEGIN");
	CHECK_STR(own("-- set up\n  begin;"), "BEGIN");
	CHECK_STR(own("CREATE TABLE a (id int); COMMIT;"), "COMMIT");
	CHECK_STR(own("START TRANSACTION;"), "START TRANSACTION");
	CHECK_STR(own("END;"), "END");
	CHECK_STR(own("ROLLBACK;"), "ROLLBACK");
	CHECK_STR(own("ABORT;"), "ABORT");
	CHECK_STR(own("SAVEPOINT s;"), "SAVEPOINT");
	CHECK_STR(own("RELEASE s;"), "RELEASE");
	CHECK_STR(own("VACUUM ANALYZE t;"), "VACUUM");
	CHECK_STR(own("CREATE TABLE a (id int); CREATE DATABASE b;"), "CREATE DATABASE");
	CHECK_STR(own("DROP DATABASE b;"), "DROP DATABASE");
	CHECK_STR(own("CREATE TABLESPACE ts LOCATION '/x';"), "CREATE TABLESPACE");
	CHECK_STR(own("DROP TABLESPACE ts;"), "DROP TABLESPACE");
	CHECK_STR(own("ALTER SYSTEM SET work_mem = '8MB';"), "ALTER SYSTEM");
	CHECK_STR(own("CREATE INDEX CONCURRENTLY i ON t (a);"), "CONCURRENTLY");
	CHECK_STR(own("create unique index concurrently i on t (a);"), "CONCURRENTLY");
	CHECK_STR(own("DROP INDEX CONCURRENTLY i;"), "CONCURRENTLY");
	CHECK_STR(own("REINDEX TABLE CONCURRENTLY t;"), "CONCURRENTLY");
	/* REFRESH ... CONCURRENTLY runs inside a transaction */
	CHECK_STR(own("REFRESH MATERIALIZED VIEW CONCURRENTLY mv;"), NULL);
	/* the words in strings, comments, bodies and other positions do not count */
	CHECK_STR(own("SELECT 'BEGIN; COMMIT';"), NULL);
	CHECK_STR(own("/* BEGIN; */ SELECT 1; -- COMMIT\n"), NULL);
	CHECK_STR(
	    own("CREATE FUNCTION f() RETURNS void AS $$ BEGIN NULL; END $$ LANGUAGE plpgsql;"),
	    NULL);
	CHECK_STR(own("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;"),
	          NULL);
	CHECK_STR(own("CREATE TABLE t (id int); ALTER TABLE t ADD COLUMN concurrently_x int;"),
	          NULL);
	CHECK_STR(own("START WITH 1;"), NULL); /* START alone is not START TRANSACTION */
	CHECK_STR(own("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN "
	              "true THEN 1 END; END;"),
	          NULL);
	CHECK_STR(own("CREATE DOMAIN atomic AS int; CREATE TABLE t1 (begin atomic); COMMIT;"),
	          "COMMIT");
	/* reason may be NULL */
	CHECK(sql_needs_own_transaction("COMMIT", 6, NULL));
	CHECK(!sql_needs_own_transaction("COMMIT", 3, &reason));
	CHECK_STR(reason, NULL);
}

static void test_skip_blank(void)
{
	CHECK_STR(sql_skip_blank(""), "");
	CHECK_STR(sql_skip_blank("SELECT 1"), "SELECT 1");
	CHECK_STR(sql_skip_blank("  \n\t SELECT 1"), "SELECT 1");
	CHECK_STR(sql_skip_blank("-- comment\nSELECT 1"), "SELECT 1");
	CHECK_STR(sql_skip_blank("/* comment */SELECT 1"), "SELECT 1");
	CHECK_STR(sql_skip_blank(" /* a */ -- b\n  /* c */\n x"), "x");
	CHECK_STR(sql_skip_blank("-- only a comment"), "");
	CHECK_STR(sql_skip_blank("/* unterminated"), "");
	CHECK_STR(sql_skip_blank("- 1"), "- 1");
	CHECK_STR(sql_skip_blank("/ 2"), "/ 2");
	/* block comments are not nested here (the header says so) */
	CHECK_STR(sql_skip_blank("/* a /* b */ c */ x"), "c */ x");
}

/*
 * Feeds lines to one splitter; returns the number of statements that ended
 * and the result of the last sql_split call in *last.
 */
static int split_lines(const char *const *lines, enum sql_split_result *last, bool *nonblank)
{
	struct sql_splitter s;
	int ended = 0;

	sql_splitter_init(&s);
	*last = SQL_MORE;
	for (size_t i = 0; lines[i]; i++) {
		size_t len = strlen(lines[i]), off = 0;
		while (off < len) {
			size_t n = sql_split(&s, lines[i] + off, len - off, last);
			off += n;
			if (*last == SQL_END)
				ended++;
			if (*last == SQL_META)
				return ended;
		}
	}
	if (nonblank)
		*nonblank = s.nonblank;
	return ended;
}

static void test_splitter(void)
{
	struct sql_splitter s;
	enum sql_split_result res;
	bool nonblank = true;
	const char *line;

	sql_splitter_init(&s);
	line = "SELECT 1;\n";
	CHECK_INT(sql_split(&s, line, strlen(line), &res), 9);
	CHECK_INT(res, SQL_END);
	CHECK_INT(sql_split(&s, line + 9, 1, &res), 1);
	CHECK_INT(res, SQL_MORE);

	/* two statements on a line: two SQL_ENDs */
	sql_splitter_init(&s);
	line = "SELECT 1; SELECT 2;\n";
	CHECK_INT(sql_split(&s, line, strlen(line), &res), 9);
	CHECK_INT(sql_split(&s, line + 9, strlen(line) - 9, &res), 10);
	CHECK_INT(res, SQL_END);

	/* a string open at the end of a line stays open on the next */
	sql_splitter_init(&s);
	line = "SELECT 'abc;\n";
	CHECK_INT(sql_split(&s, line, strlen(line), &res), strlen(line));
	CHECK_INT(res, SQL_MORE);
	line = "def';\n";
	CHECK_INT(sql_split(&s, line, strlen(line), &res), 5);
	CHECK_INT(res, SQL_END);

	{
		const char *const dollar[] = {"CREATE FUNCTION f() RETURNS int AS $fn$\n",
		                              "BEGIN RETURN 1; END;\n", "$fn$ LANGUAGE plpgsql;\n",
		                              NULL};
		CHECK_INT(split_lines(dollar, &res, NULL), 1);
	}
	{
		const char *const atomic[] = {"CREATE FUNCTION f() RETURNS int LANGUAGE sql\n",
		                              "BEGIN ATOMIC\n",
		                              "  SELECT CASE WHEN true THEN 1 END;\n",
		                              "  SELECT 2;\n",
		                              "END;\n",
		                              "SELECT 3;\n",
		                              NULL};
		CHECK_INT(split_lines(atomic, &res, NULL), 2);
	}
	{
		const char *const proc[] = {
		    "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC "
		    "INSERT INTO t VALUES (1); END;\n",
		    NULL};
		CHECK_INT(split_lines(proc, &res, NULL), 1);
	}
	{
		/* psql's rule: a transaction's BEGIN is not a body */
		const char *const txn[] = {"BEGIN;\n", "SELECT 1;\n", "END;\n", NULL};
		CHECK_INT(split_lines(txn, &res, NULL), 3);
	}
	{
		const char *const parens[] = {
		    "CREATE RULE r AS ON INSERT TO t DO ALSO (\n",
		    "INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\n", NULL};
		CHECK_INT(split_lines(parens, &res, NULL), 1);
	}
	{
		const char *const comments[] = {"/* a /* nested ; */ ; */ SELECT 1 -- ;\n", ";\n",
		                                NULL};
		CHECK_INT(split_lines(comments, &res, NULL), 1);
	}
	{
		const char *const estr[] = {"SELECT E'\\';', 1e5, $1, x$y;\n", NULL};
		CHECK_INT(split_lines(estr, &res, NULL), 1);
	}
	{
		const char *const blank[] = {"-- only a comment\n", "  /* and one more */\n", NULL};
		CHECK_INT(split_lines(blank, &res, &nonblank), 0);
		CHECK(!nonblank);
		CHECK_INT(res, SQL_MORE);
	}

	/* a backslash outside quotes is a psql meta-command */
	sql_splitter_init(&s);
	line = "\\connect other\n";
	CHECK_INT(sql_split(&s, line, strlen(line), &res), 0);
	CHECK_INT(res, SQL_META);
	sql_splitter_init(&s);
	line = "SELECT 1 \\gset\n";
	CHECK_INT(sql_split(&s, line, strlen(line), &res), 9);
	CHECK_INT(res, SQL_META);
	sql_splitter_init(&s);
	line = "SELECT '\\x', \"\\y\", $$\\z$$;\n";
	CHECK_INT(sql_split(&s, line, strlen(line), &res), strlen(line) - 1);
	CHECK_INT(res, SQL_END);

	sql_splitter_init(&s);
	line = "SELECT E'abc\\";
	CHECK_INT(sql_split(&s, line, strlen(line), &res), strlen(line));
	CHECK_INT(res, SQL_MORE);
	line = "'';"; /* the escaped quote, then the string's end and the statement's */
	CHECK_INT(sql_split(&s, line, strlen(line), &res), strlen(line));
	CHECK_INT(res, SQL_END);
}

int main(void)
{
	test_count();
	test_own_transaction();
	test_skip_blank();
	test_splitter();
	return unit_done();
}
