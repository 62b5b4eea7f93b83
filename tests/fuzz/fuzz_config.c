/*
 * libFuzzer target: the command line and environment parser.  The input is
 * NUL-separated: arguments first, then after an empty field KEY=VALUE lines
 * for auzdb's own environment variables.  Property: config_parse never
 * crashes or leaks, returns 0 or 2, and on 2 gives a message (log.c folds
 * any newline a quoted argument brings, so it prints as one line).
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "exitcodes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every variable config.c reads (keep in step with it), but PGPASSWORD:
 * registered secrets live for the whole process (log.c), so fuzzing it
 * would only grow that list.  The _FILE variants are left out so the
 * fuzzer never reads files.
 */
static const char *const env_names[] = {
    "MASTER_DATABASE_URL",
    "DATABASE_URL",
    "AUZDB_ALLOW_RESET",
    "AUZDB_AUTO_ADOPT",
    "AUZDB_BACKUP",
    "AUZDB_BACKUP_COMPRESSION",
    "AUZDB_BACKUP_DIR",
    "AUZDB_BACKUP_KEEP",
    "AUZDB_BACKUP_OWNERS",
    "AUZDB_CONCURRENCY",
    "AUZDB_CONNECT_TIMEOUT",
    "AUZDB_DDL_LOCK_TIMEOUT",
    "AUZDB_DEADLINE",
    "AUZDB_FAIL_FAST",
    "AUZDB_LOCK_TIMEOUT",
    "AUZDB_LOG_FORMAT",
    "AUZDB_MASTER_MIGRATIONS_DIR",
    "AUZDB_MIGRATIONS_DIR",
    "AUZDB_REPORT_FILE",
    "AUZDB_SHADOW_DATABASE_URL",
    "AUZDB_SHARDS",
    "AUZDB_STATEMENT_TIMEOUT",
    "AUZDB_TENANTS",
    "AUZDB_TENANT_DB_PREFIX",
    "AUZDB_TENANT_MIGRATIONS_DIR",
    "AUZDB_TENANT_QUERY",
    "AUZDB_TENANT_URL_TEMPLATE",
    "AUZDB_TERMINATION_LOG",
    "AUZDB_WAIT_TIMEOUT",
    "JOB_COMPLETION_INDEX",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[34];
	int argc = 1;
	size_t i = 0;
	struct config cfg;
	char *err = NULL;
	int rc;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t k = 0; k < sizeof env_names / sizeof *env_names; k++)
		unsetenv(env_names[k]);
	argv[0] = "auzdb";
	while (i < size && argc < 33 && buf[i]) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	if (i < size)
		i++;
	while (i < size) {
		char *kv = buf + i, *eq = strchr(kv, '=');
		i += strlen(kv) + 1;
		if (!eq)
			continue;
		*eq = '\0';
		for (size_t k = 0; k < sizeof env_names / sizeof *env_names; k++)
			if (strcmp(kv, env_names[k]) == 0)
				setenv(kv, eq + 1, 1);
	}
	rc = config_parse(argc, argv, &cfg, &err);
	if (rc != AZ_EXIT_OK && rc != AZ_EXIT_USAGE)
		abort();
	if (rc == AZ_EXIT_USAGE && (!err || !*err))
		abort(); /* every usage error says what is wrong */
	free(err);
	config_free(&cfg);
	free(buf);
	return 0;
}
