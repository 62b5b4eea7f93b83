/*
 * unit.h - a tiny assertion kit for the C unit tests in tests/unit/.
 *
 * Owns: counting checks and printing failures.  A unit test is a main()
 * that calls the CHECK* macros and ends with `return unit_done();`, which
 * prints the closing line "N passed, N failed" (the shell tests end the
 * same way) and returns non-zero when any check failed.  A failed check
 * prints "not ok FILE:LINE: what" with both values and carries on, so one
 * run reports every failure.  No server, no files outside mkdtemp, no
 * network: the tests link auzdb_core and call its pure functions.
 * Calls: nothing in auzdb.
 */
#ifndef AUZDB_UNIT_H
#define AUZDB_UNIT_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

static inline bool unit_result(bool ok, const char *file, int line, const char *what)
{
	if (ok) {
		unit_passed++;
	} else {
		unit_failed++;
		printf("not ok %s:%d: %s\n", file, line, what);
	}
	return ok;
}

static inline void unit_check_long(long got, long want, const char *file, int line,
                                   const char *what)
{
	if (!unit_result(got == want, file, line, what))
		printf("    got %ld, want %ld\n", got, want);
}

/* Either side may be NULL: NULL equals only NULL. */
static inline void unit_check_str(const char *got, const char *want, const char *file, int line,
                                  const char *what)
{
	bool ok = (!got && !want) || (got && want && strcmp(got, want) == 0);
	if (!unit_result(ok, file, line, what))
		printf("    got \"%s\", want \"%s\"\n", got ? got : "(null)",
		       want ? want : "(null)");
}

/* got contains want (got may be NULL, which contains nothing) */
static inline void unit_check_has(const char *got, const char *want, const char *file, int line,
                                  const char *what)
{
	if (!unit_result(got && strstr(got, want), file, line, what))
		printf("    \"%s\" does not contain \"%s\"\n", got ? got : "(null)", want);
}

#define CHECK(cond)          unit_result((cond), __FILE__, __LINE__, #cond)
#define CHECK_INT(got, want) unit_check_long((long)(got), (long)(want), __FILE__, __LINE__, #got)
#define CHECK_STR(got, want) unit_check_str((got), (want), __FILE__, __LINE__, #got)
#define CHECK_HAS(got, want) unit_check_has((got), (want), __FILE__, __LINE__, #got)
/* the same, with a label of the caller's (for checks made in a loop or a helper) */
#define CHECK_INT_AT(what, got, want)                                                              \
	unit_check_long((long)(got), (long)(want), __FILE__, __LINE__, (what))
#define CHECK_STR_AT(what, got, want) unit_check_str((got), (want), __FILE__, __LINE__, (what))

/*
 * A known bug, written down as the check it should pass: printed as
 * "todo FILE:LINE: what - why" and not counted while it fails; once it
 * passes, it says so, so that whoever fixed it turns it into a CHECK.
 */
#define TODO_CHECK(cond, why)                                                                      \
	printf("%s %s:%d: %s - %s\n", (cond) ? "todo fixed (make it a CHECK)" : "todo", __FILE__,  \
	       __LINE__, #cond, (why))

static inline int unit_done(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
