/*
 * libFuzzer target: the restore reader (src/restore.c, restore_scan) with
 * no server.  The input is a plain backup script (gzip decoding is zlib's
 * and not fuzzed here): psql meta-commands, statements cut by sqlscan's
 * splitter (quotes, dollar quotes, comments, function bodies), COPY ...
 * FROM stdin blocks ended by a "\." line.  A statement starts a COPY block when it is
 * "COPY ... FROM stdin" (as the server would answer).  Properties:
 *  - no crash, leak, undefined behaviour or hang, and the result is 0 or
 *    2 (a bad script is a usage error, never anything else);
 *  - every statement ends with ';' and its token line is not before its
 *    first line (a NUL byte in a statement line is refused, see
 *    docs/fuzzing.md);
 *  - a COPY block's data is whole lines, one row per line, and none of
 *    them is the "\." terminator;
 *  - the size of the read buffer changes nothing: with a buffer larger
 *    than the input and one of 4 to 16 bytes (picked by the input's hash)
 *    the statements, lines, COPY data and result are equal.
 * FUZZ_RESTORE_TRACE=1 build-fuzz/fuzz_restore FILE prints what the reader
 * made of FILE.
 */
#include "exitcodes.h"
#include "log.h"
#include "restore.h"
#include "util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct trace {
	struct strbuf sb; /* everything the sink saw, serialized */
	size_t block;     /* where the open COPY block's data starts in sb */
	bool in_copy;
};

/* Past leading blanks and comments, the way the splitter skips them. */
static const char *skip_blank(const char *p)
{
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			int depth = 1;
			p += 2;
			while (*p && depth > 0) {
				if (p[0] == '/' && p[1] == '*')
					depth++, p += 2;
				else if (p[0] == '*' && p[1] == '/')
					depth--, p += 2;
				else
					p++;
			}
		} else {
			return p;
		}
	}
}

/* COPY ... FROM stdin, case-insensitive, as the server would start COPY IN. */
static bool is_copy_in(const char *sql)
{
	const char *p = skip_blank(sql);
	if (strncasecmp(p, "copy", 4) != 0 || isalnum((unsigned char)p[4]))
		return false;
	for (p += 4; *p; p++)
		if (strncasecmp(p, "from", 4) == 0) {
			const char *q = p + 4;
			while (isspace((unsigned char)*q))
				q++;
			if (strncasecmp(q, "stdin", 5) == 0)
				return true;
		}
	return false;
}

static bool on_statement(void *arg, const char *sql, long first_line, long token_line)
{
	struct trace *t = arg;
	size_t n = strlen(sql);

	if (t->in_copy || n == 0 || sql[n - 1] != ';')
		abort(); /* a statement ends with its ';' */
	if (first_line < 1 || token_line < first_line)
		abort();
	sb_addf(&t->sb, "S %ld %ld %zu:", first_line, token_line, n);
	sb_add(&t->sb, sql, n);
	if (!is_copy_in(sql))
		return false;
	sb_adds(&t->sb, "\nC{");
	t->block = t->sb.len;
	t->in_copy = true;
	return true;
}

static void on_copy_data(void *arg, const char *data, size_t n)
{
	struct trace *t = arg;
	if (!t->in_copy || n == 0)
		abort();
	sb_add(&t->sb, data, n);
}

static void on_copy_end(void *arg, long long rows)
{
	struct trace *t = arg;
	const char *p = t->sb.buf + t->block, *end = t->sb.buf + t->sb.len;
	long long lines = 0;

	if (!t->in_copy)
		abort();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len;
		if (!nl)
			abort(); /* data ends with a whole line */
		len = (size_t)(nl - p);
		if ((len == 2 || (len == 3 && p[2] == '\r')) && p[0] == '\\' && p[1] == '.')
			abort(); /* the terminator went to the server as data */
		lines++;
		p = nl + 1;
	}
	if (lines != rows)
		abort();
	sb_addf(&t->sb, "}%lld\n", rows);
	t->in_copy = false;
}

static int scan(const uint8_t *data, size_t size, size_t buf_size, struct trace *t)
{
	struct restore_sink sink = {on_statement, on_copy_data, on_copy_end, t};
	int rc;

	sb_init(&t->sb);
	t->block = 0;
	t->in_copy = false;
	rc = restore_scan((const char *)data, size, buf_size, &sink);
	if (rc != AZ_EXIT_OK && rc != AZ_EXIT_USAGE)
		abort();
	if (rc == AZ_EXIT_OK && t->in_copy)
		abort(); /* success with an unfinished COPY block */
	sb_addf(&t->sb, "rc=%d", rc);
	return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LOG_TEXT, false, true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace ref, t;
	uint32_t h = 2166136261u;
	size_t small;

	/* the small buffer: 4 to 16 bytes, chosen by the input's FNV-1a hash */
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	small = 4 + h % 13;
	scan(data, size, size + 4, &ref); /* one read holds it all */
	if (getenv("FUZZ_RESTORE_TRACE")) /* to see what the reader made of an input */
		fprintf(stderr, "%s\n", ref.sb.buf);
	scan(data, size, small, &t);
	if (t.sb.len != ref.sb.len || memcmp(t.sb.buf, ref.sb.buf, ref.sb.len) != 0) {
		fprintf(stderr, "read buffer of %zu bytes differs from %zu:\n%s\n---\n%s\n", small,
		        size + 4, t.sb.buf, ref.sb.buf);
		abort();
	}
	sb_free(&t.sb);
	sb_free(&ref.sb);
	return 0;
}
