/*
 * Unit tests for db_sqlstate_exit (conn.h): which exit code a failed
 * statement's SQLSTATE maps to (the table in conn.h).  No signal is ever sent,
 * so 57014 (query_canceled) is not ours and keeps the fallback.
 * Calls: conn.
 */
#include "conn.h"
#include "exitcodes.h"
#include "unit.h"

#include <stdio.h>

struct map_case {
	const char *sqlstate;
	int fallback, want;
};

int main(void)
{
	static const struct map_case cases[] = {
	    /* authentication and permissions: 28xxx, 42501 -> 4 */
	    {"28000", AZ_EXIT_MIGRATION, AZ_EXIT_AUTH}, /* invalid_authorization_specification */
	    {"28P01", AZ_EXIT_MIGRATION, AZ_EXIT_AUTH}, /* invalid_password */
	    {"42501", AZ_EXIT_MIGRATION, AZ_EXIT_AUTH}, /* insufficient_privilege */
	    {"25006", AZ_EXIT_MIGRATION, AZ_EXIT_AUTH}, /* read_only_sql_transaction */
	    {"42502", AZ_EXIT_MIGRATION, AZ_EXIT_MIGRATION},
	    {"4250", AZ_EXIT_MIGRATION, AZ_EXIT_MIGRATION},
	    /* connection exceptions and operator intervention -> 3 (retryable) */
	    {"08000", AZ_EXIT_MIGRATION, AZ_EXIT_UNREACHABLE},
	    {"08006", AZ_EXIT_INTERNAL, AZ_EXIT_UNREACHABLE},  /* connection_failure */
	    {"08P01", AZ_EXIT_INTERNAL, AZ_EXIT_UNREACHABLE},  /* protocol_violation */
	    {"57P01", AZ_EXIT_MIGRATION, AZ_EXIT_UNREACHABLE}, /* admin_shutdown */
	    {"57P03", AZ_EXIT_MIGRATION, AZ_EXIT_UNREACHABLE}, /* cannot_connect_now */
	    {"53300", AZ_EXIT_MIGRATION, AZ_EXIT_UNREACHABLE}, /* too_many_connections */
	    {"53100", AZ_EXIT_MIGRATION, AZ_EXIT_MIGRATION},   /* disk_full: not retryable */
	    /* lock_not_available (lock_timeout, NOWAIT), deadlock -> 5 (retryable) */
	    {"55P03", AZ_EXIT_MIGRATION, AZ_EXIT_LOCK},
	    {"40P01", AZ_EXIT_MIGRATION, AZ_EXIT_LOCK}, /* deadlock_detected */
	    {"55000", AZ_EXIT_MIGRATION, AZ_EXIT_MIGRATION},
	    {"55P04", AZ_EXIT_MIGRATION, AZ_EXIT_MIGRATION},
	    /* query_canceled without a stop request: not ours, the fallback */
	    {"57014", AZ_EXIT_MIGRATION, AZ_EXIT_MIGRATION},
	    /* everything else: the caller's fallback, whatever it is */
	    {"42P01", AZ_EXIT_MIGRATION, AZ_EXIT_MIGRATION}, /* undefined_table */
	    {"23505", AZ_EXIT_BACKUP, AZ_EXIT_BACKUP},
	    {"XX000", AZ_EXIT_INTERNAL, AZ_EXIT_INTERNAL},
	    {"", AZ_EXIT_MIGRATION, AZ_EXIT_MIGRATION},
	    {"2", AZ_EXIT_MIGRATION, AZ_EXIT_MIGRATION},
	    {"0", AZ_EXIT_NEEDS_ACTION, AZ_EXIT_NEEDS_ACTION},
	    /* NULL (no result at all) -> the fallback */
	    {NULL, AZ_EXIT_UNREACHABLE, AZ_EXIT_UNREACHABLE},
	    {NULL, AZ_EXIT_MIGRATION, AZ_EXIT_MIGRATION},
	    {NULL, AZ_EXIT_OK, AZ_EXIT_OK},
	};
	char what[80];

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		snprintf(what, sizeof what, "db_sqlstate_exit(%s%s%s, %d)",
		         cases[i].sqlstate ? "\"" : "",
		         cases[i].sqlstate ? cases[i].sqlstate : "NULL",
		         cases[i].sqlstate ? "\"" : "", cases[i].fallback);
		CHECK_INT_AT(what, db_sqlstate_exit(cases[i].sqlstate, cases[i].fallback),
		             cases[i].want);
	}
	return unit_done();
}
