/*
 * libFuzzer target: the SQL lexer.  Arbitrary bytes (unterminated quotes,
 * comments and dollar tags included) must never crash it or read out of
 * bounds; a reason is given exactly when a script needs its own
 * transaction; a script of n bytes never has more than n statements.
 */
#include "sqlscan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *reason = NULL;
	size_t n = sql_count_statements((const char *)data, size);
	bool own = sql_needs_own_transaction((const char *)data, size, &reason);

	if (own != (reason != NULL))
		abort();
	if (n > size)
		abort(); /* a statement needs at least one byte */
	return 0;
}
