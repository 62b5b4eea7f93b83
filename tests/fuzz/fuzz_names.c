/*
 * libFuzzer target: migration name rules and Prisma's order.  The input is
 * three NUL-separated names.  Properties: prisma_name_cmp is antisymmetric,
 * reflexive and transitive on valid names, and names that pass
 * migration_name_problem are printable ASCII.
 */
#include "migset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 3), *n[3];
	size_t i = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	for (int k = 0; k < 3; k++) {
		n[k] = buf + i;
		i += strlen(buf + i) + 1;
		if (i > size + 2)
			i = size + 2;
	}
	for (int k = 0; k < 3; k++) {
		if (migration_name_problem(n[k])) {
			free(buf);
			return 0;
		}
		for (const char *p = n[k]; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
	}
	if (prisma_name_cmp(n[0], n[0]) != 0)
		abort();
	if (sign(prisma_name_cmp(n[0], n[1])) != -sign(prisma_name_cmp(n[1], n[0])))
		abort();
	if (prisma_name_cmp(n[0], n[1]) == 0 && strcmp(n[0], n[1]) != 0)
		abort(); /* distinct names never tie */
	if (prisma_name_cmp(n[0], n[1]) < 0 && prisma_name_cmp(n[1], n[2]) < 0 &&
	    prisma_name_cmp(n[0], n[2]) >= 0)
		abort();
	free(buf);
	return 0;
}
