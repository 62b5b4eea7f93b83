/*
 * Unit tests for config.h: config_parse from argv and the environment -
 * defaults, flags over environment, X and X_FILE together, _FILE reading,
 * range checks and the usage errors (exit 2, one line).  The environment is
 * cleared of every variable config.c reads first.  Calls: config, log, util.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "exitcodes.h"
#include "unit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* every variable config.c reads (as tests/fuzz/fuzz_config.c lists them) */
static const char *const env_names[] = {
    "MASTER_DATABASE_URL",
    "DATABASE_URL",
    "MASTER_DATABASE_URL_FILE",
    "DATABASE_URL_FILE",
    "AUZDB_SHADOW_DATABASE_URL",
    "AUZDB_SHADOW_DATABASE_URL_FILE",
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
    "PGPASSWORD",
};

static void clear_env(void)
{
	for (size_t i = 0; i < sizeof env_names / sizeof *env_names; i++)
		unsetenv(env_names[i]);
	setenv("AUZDB_TERMINATION_LOG", "", 1); /* never /dev/termination-log */
}

static struct config cfg;
static char *err;

/* config_parse("auzdb", args..., NULL) into cfg and err (freed by the next call) */
static int parse(const char *first, ...)
{
	char *argv[40];
	int argc = 0;
	va_list ap;

	config_free(&cfg);
	free(err);
	err = NULL;
	argv[argc++] = "auzdb";
	va_start(ap, first);
	for (const char *a = first; a && argc < 39; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return config_parse(argc, argv, &cfg, &err);
}

/* the last parse was a usage error whose one line contains want */
static void usage_error(const char *want, int line)
{
	char what[160];
	snprintf(what, sizeof what, "line %d: a usage error naming '%s'", line, want);
	unit_result(err != NULL && strstr(err, want) != NULL && !strchr(err, '\n'), __FILE__, line,
	            what);
	if (!err || !strstr(err, want))
		printf("    got \"%s\"\n", err ? err : "(no message)");
}
#define USAGE(want, ...)                                                                           \
	do {                                                                                       \
		CHECK_INT(parse(__VA_ARGS__, NULL), AZ_EXIT_USAGE);                                \
		usage_error((want), __LINE__);                                                     \
	} while (0)

static void test_defaults(void)
{
	clear_env();
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.cmd, CMD_RUN); /* `auzdb` alone does the whole fleet */
	CHECK_STR(cfg.database_url, NULL);
	CHECK_STR(cfg.url_source, NULL);
	CHECK_INT(cfg.lock_timeout_s, 60);
	CHECK_INT(cfg.wait_timeout_s, 60);
	CHECK_INT(cfg.connect_timeout_s, 10);
	CHECK_INT(cfg.statement_timeout_ms, 0);
	CHECK_INT(cfg.concurrency, 4);
	CHECK_INT(cfg.shard_index, 0);
	CHECK_INT(cfg.shard_count, 1);
	CHECK_STR(cfg.backup_dir, "backups");
	CHECK_INT(cfg.compress_level, 6);
	CHECK_INT(cfg.backup_mode, BACKUP_AUTO);
	CHECK_STR(cfg.tenant_prefix, "auzguard_tenant_");
	CHECK_STR(cfg.migrations_dir[SET_MASTER], NULL); /* embedded */
	CHECK_STR(cfg.termination_log, NULL);

	CHECK_INT(parse("deploy", NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.cmd, CMD_MIGRATE);
	CHECK_INT(parse("status", "--help", NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.cmd, CMD_HELP);
	CHECK_INT(parse("--version", NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.cmd, CMD_VERSION);
	CHECK_INT(parse("tenant", "create", "acme", NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.new_tenant, "acme");
	CHECK_INT(parse("backup", "-", NULL), AZ_EXIT_OK);
	CHECK(cfg.backup_stdout && cfg.quiet);
	CHECK_INT(parse("migrate", "--lock-timeout=5", "--wait-timeout", "7", NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.lock_timeout_s, 5);
	CHECK_INT(cfg.wait_timeout_s, 7);
}

static void test_usage_errors(void)
{
	clear_env();
	USAGE("unknown command 'frob'", "frob");
	USAGE("unknown option '--frob'", "status", "--frob");
	USAGE("unknown option '--frob'", "--frob=1");
	USAGE("option '--set' needs a value", "status", "--set");
	USAGE("option '--dry-run' takes no value", "migrate", "--dry-run=yes");
	USAGE("unexpected argument 'extra'", "status", "extra");
	USAGE("--set nope", "status", "--set", "nope");
	USAGE("usage: auzdb tenant create SLUG", "tenant", "create");
	USAGE("did you mean 'tenant create SLUG'", "tenant", "remove", "x");
	USAGE("usage: auzdb restore FILE", "restore");
	USAGE("--skip-backup belongs to", "status", "--skip-backup");
	USAGE("--dry-run belongs to", "status", "--dry-run");
	USAGE("--applied and --rolled-back belong to 'auzdb resolve'", "migrate", "--applied", "x");
	USAGE("--applied NAME or --rolled-back NAME is required", "resolve");
	USAGE("not both", "resolve", "--applied", "a", "--rolled-back", "b");
	USAGE("--force belongs to", "migrate", "--force");
	USAGE("--clean belongs to 'auzdb restore'", "migrate", "--clean");
	USAGE("--backup-only and --dry-run", "migrate", "--backup-only", "--dry-run");
	setenv("AUZDB_BACKUP", "never", 1);
	USAGE("cannot run with AUZDB_BACKUP=never", "reset");
	USAGE("--backup-only with AUZDB_BACKUP=never", "migrate", "--backup-only");
	clear_env();
}

static void test_flags_over_env(void)
{
	clear_env();
	setenv("DATABASE_URL", "postgresql://env-general/db", 1);
	CHECK_INT(parse("status", NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.database_url, "postgresql://env-general/db");
	CHECK_STR(cfg.url_source, "DATABASE_URL");
	setenv("MASTER_DATABASE_URL", "postgresql://env-master/db", 1);
	CHECK_INT(parse("status", NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.database_url, "postgresql://env-master/db");
	CHECK_STR(cfg.url_source, "MASTER_DATABASE_URL");
	CHECK_INT(parse("status", "--database-url", "postgresql://flag/db", NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.database_url, "postgresql://flag/db");
	CHECK_STR(cfg.url_source, "--database-url");
	CHECK_INT(parse("restore", "f.sql.gz", "--database=postgresql://flag2/db", NULL),
	          AZ_EXIT_OK);
	CHECK_STR(cfg.database_url, "postgresql://flag2/db");
	CHECK_STR(cfg.restore_file, "f.sql.gz");

	setenv("AUZDB_CONCURRENCY", "3", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.concurrency, 3);
	CHECK_INT(parse("--concurrency", "5", NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.concurrency, 5);

	setenv("AUZDB_LOCK_TIMEOUT", "7", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.lock_timeout_s, 7);
	CHECK_INT(parse("--lock-timeout", "9", NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.lock_timeout_s, 9);

	setenv("AUZDB_LOG_FORMAT", "json", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.log_format, LOG_JSON);
	CHECK_INT(parse("--log-format", "text", NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.log_format, LOG_TEXT);

	setenv("AUZDB_BACKUP_DIR", "/env/backups", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.backup_dir, "/env/backups");
	CHECK_INT(parse("--backup-dir", "/flag/backups//", NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.backup_dir, "/flag/backups"); /* trailing slashes dropped */

	setenv("AUZDB_BACKUP_COMPRESSION", "1", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.compress_level, 1);
	CHECK_INT(parse("--compress-level", "9", NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.compress_level, 9);

	setenv("AUZDB_SHARDS", "4", 1);
	setenv("JOB_COMPLETION_INDEX", "3", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.shard_index, 3);
	CHECK_INT(cfg.shard_count, 4);
	CHECK_INT(parse("--shard", "0/2", NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.shard_index, 0);
	CHECK_INT(cfg.shard_count, 2);

	setenv("AUZDB_TENANTS", "a,b", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.ntenants, 2);
	CHECK(cfg.tenants_from_env);
	CHECK_INT(parse("--tenant", "c", NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.ntenants, 1);
	CHECK(!cfg.tenants_from_env);
	if (cfg.ntenants == 1)
		CHECK_STR(cfg.tenants[0], "c");

	/* migration sets: specific flag > general flag > specific env > general env */
	setenv("AUZDB_MIGRATIONS_DIR", "/gen-env", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.migrations_dir[SET_MASTER], "/gen-env/master");
	CHECK_STR(cfg.migrations_dir[SET_TENANT], "/gen-env/tenant");
	setenv("AUZDB_MASTER_MIGRATIONS_DIR", "/master-env", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.migrations_dir[SET_MASTER], "/master-env");
	CHECK_STR(cfg.migrations_dir[SET_TENANT], "/gen-env/tenant");
	CHECK_INT(parse("--migrations", "/gen-flag", NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.migrations_dir[SET_MASTER], "/gen-flag/master");
	CHECK_STR(cfg.migrations_dir[SET_TENANT], "/gen-flag/tenant");
	CHECK_INT(parse("--migrations", "/gen-flag", "--tenant-migrations", "/t-flag", NULL),
	          AZ_EXIT_OK);
	CHECK_STR(cfg.migrations_dir[SET_MASTER], "/gen-flag/master");
	CHECK_STR(cfg.migrations_dir[SET_TENANT], "/t-flag");

	/* a bad value in the environment is reported under its own name */
	setenv("AUZDB_CONCURRENCY", "0", 1);
	USAGE("AUZDB_CONCURRENCY=0", "status");
	USAGE("--concurrency=0", "status", "--concurrency", "0");
	clear_env();
}

static char *write_tmp(const char *contents)
{
	char *path = xstrdup("/tmp/auzdb-unit-config.XXXXXX");
	int fd = mkstemp(path);
	size_t n = strlen(contents);
	if (fd < 0 || write(fd, contents, n) != (ssize_t)n || close(fd) != 0) {
		perror("mkstemp");
		exit(2);
	}
	return path;
}

static void test_file_variables(void)
{
	char *url_file = write_tmp("postgresql://from-file/db\r\n\n");
	char *empty_file = write_tmp("\n");

	clear_env();
	setenv("MASTER_DATABASE_URL_FILE", url_file, 1);
	CHECK_INT(parse("status", NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.database_url, "postgresql://from-file/db"); /* line ends dropped */
	CHECK_STR(cfg.url_source, "MASTER_DATABASE_URL");
	setenv("MASTER_DATABASE_URL", "", 1); /* set but empty counts as unset */
	CHECK_INT(parse("status", NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.database_url, "postgresql://from-file/db");

	setenv("MASTER_DATABASE_URL", "postgresql://env/db", 1);
	USAGE("both MASTER_DATABASE_URL and MASTER_DATABASE_URL_FILE are set", "status");
	/* the flag wins, and the environment is not read at all */
	CHECK_INT(parse("status", "--database-url", "postgresql://flag/db", NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.database_url, "postgresql://flag/db");
	clear_env();

	setenv("DATABASE_URL", "postgresql://env/db", 1);
	setenv("DATABASE_URL_FILE", url_file, 1);
	USAGE("both DATABASE_URL and DATABASE_URL_FILE", "status");
	/* checked even when MASTER_DATABASE_URL is the one used */
	setenv("MASTER_DATABASE_URL", "postgresql://master/db", 1);
	USAGE("both DATABASE_URL and DATABASE_URL_FILE", "status");
	clear_env();

	setenv("AUZDB_SHADOW_DATABASE_URL", "postgresql://shadow/db", 1);
	setenv("AUZDB_SHADOW_DATABASE_URL_FILE", url_file, 1);
	USAGE("both AUZDB_SHADOW_DATABASE_URL and AUZDB_SHADOW_DATABASE_URL_FILE", "status");
	unsetenv("AUZDB_SHADOW_DATABASE_URL");
	CHECK_INT(parse("status", NULL), AZ_EXIT_OK);
	CHECK_STR(cfg.shadow_database_url, "postgresql://from-file/db");
	clear_env();

	setenv("MASTER_DATABASE_URL_FILE", empty_file, 1);
	USAGE("is empty", "status");
	setenv("MASTER_DATABASE_URL_FILE", "/nonexistent/auzdb-url", 1);
	USAGE("cannot read MASTER_DATABASE_URL_FILE=/nonexistent/auzdb-url", "status");
	clear_env();

	unlink(url_file);
	unlink(empty_file);
	free(url_file);
	free(empty_file);
}

struct range_case {
	const char *var, *value;
	bool ok;
};

static void test_ranges(void)
{
	static const struct range_case cases[] = {
	    {"AUZDB_CONCURRENCY", "1", true},
	    {"AUZDB_CONCURRENCY", "256", true},
	    {"AUZDB_CONCURRENCY", "257", false},
	    {"AUZDB_CONCURRENCY", "-1", false},
	    {"AUZDB_CONCURRENCY", "4x", false},
	    {"AUZDB_LOCK_TIMEOUT", "0", true},
	    {"AUZDB_LOCK_TIMEOUT", "86400", true},
	    {"AUZDB_LOCK_TIMEOUT", "86401", false},
	    {"AUZDB_LOCK_TIMEOUT", "1.5", false},
	    {"AUZDB_WAIT_TIMEOUT", "86401", false},
	    {"AUZDB_CONNECT_TIMEOUT", "3600", true},
	    {"AUZDB_CONNECT_TIMEOUT", "3601", false},
	    {"AUZDB_STATEMENT_TIMEOUT", "500ms", true},
	    {"AUZDB_STATEMENT_TIMEOUT", "24h", true},
	    {"AUZDB_STATEMENT_TIMEOUT", "25h", false},
	    {"AUZDB_STATEMENT_TIMEOUT", "86401", false},
	    {"AUZDB_STATEMENT_TIMEOUT", "1x", false},
	    {"AUZDB_STATEMENT_TIMEOUT", "ms", false},
	    {"AUZDB_STATEMENT_TIMEOUT", "1234567890ms", false},
	    {"AUZDB_DDL_LOCK_TIMEOUT", "1s", true},
	    {"AUZDB_DDL_LOCK_TIMEOUT", "-1s", false},
	    {"AUZDB_DEADLINE", "168h", true},
	    {"AUZDB_DEADLINE", "169h", false},
	    {"AUZDB_DEADLINE", "7d", false},
	    {"AUZDB_BACKUP_COMPRESSION", "0", true},
	    {"AUZDB_BACKUP_COMPRESSION", "10", false},
	    {"AUZDB_BACKUP_KEEP", "100000", true},
	    {"AUZDB_BACKUP_KEEP", "100001", false},
	    {"AUZDB_BACKUP_KEEP", "-1", false},
	    {"AUZDB_BACKUP_OWNERS", "1", true},
	    {"AUZDB_BACKUP_OWNERS", "yes", false},
	    {"AUZDB_AUTO_ADOPT", "0", true},
	    {"AUZDB_AUTO_ADOPT", "2", false},
	    {"AUZDB_BACKUP", "always", true},
	    {"AUZDB_BACKUP", "sometimes", false},
	    {"AUZDB_LOG_FORMAT", "xml", false},
	    {"AUZDB_SHARDS", "1001", false},
	    {"AUZDB_SHARDS", "0", false},
	    {"AUZDB_TENANT_DB_PREFIX", "p_", true},
	    {"AUZDB_TENANT_DB_PREFIX",
	     "a_prefix_of_sixty_two_bytes_leaves_one_byte_for_the_slug______", true},
	    {"AUZDB_TENANT_DB_PREFIX",
	     "a_prefix_of_sixty_three_bytes_is_too_long_for_any_tenant_names_", false},
	};
	char what[200];

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct range_case *c = &cases[i];
		int rc;
		clear_env();
		setenv(c->var, c->value, 1);
		rc = parse("migrate", NULL);
		snprintf(what, sizeof what, "%s=%s is %s", c->var, c->value,
		         c->ok ? "accepted" : "a usage error");
		CHECK_INT_AT(what, rc, c->ok ? AZ_EXIT_OK : AZ_EXIT_USAGE);
		if (!c->ok) {
			snprintf(what, sizeof what, "the error for %s=%s names the variable",
			         c->var, c->value);
			unit_result(err && strstr(err, c->var), __FILE__, __LINE__, what);
		}
	}
	clear_env();

	setenv("AUZDB_STATEMENT_TIMEOUT", "500ms", 1);
	setenv("AUZDB_DDL_LOCK_TIMEOUT", "5m", 1);
	setenv("AUZDB_DEADLINE", "30", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.statement_timeout_ms, 500);
	CHECK_INT(cfg.ddl_lock_timeout_ms, 300000);
	CHECK_INT(cfg.deadline_ms, 30000);
	setenv("AUZDB_CONNECT_TIMEOUT", "0", 1);
	CHECK_INT(parse(NULL), AZ_EXIT_OK);
	CHECK_INT(cfg.connect_timeout_s, 10); /* 0 means the default */
	clear_env();

	USAGE("--lock-timeout 86401", "--lock-timeout", "86401");
	USAGE("--wait-timeout -1", "--wait-timeout", "-1");
	USAGE("--compress-level=10", "backup", "--compress-level", "10");
	USAGE("--concurrency=257", "--concurrency", "257");
	USAGE("--shard 2/2", "--shard", "2/2");
	USAGE("--shard 0/1001", "--shard", "0/1001");
	USAGE("--shard 1", "--shard", "1");
	CHECK_INT(parse("--shard", "999/1000", NULL), AZ_EXIT_OK);
	setenv("AUZDB_SHARDS", "3", 1);
	USAGE("needs JOB_COMPLETION_INDEX from 0 to 2 (got nothing)", "run");
	setenv("JOB_COMPLETION_INDEX", "3", 1);
	USAGE("needs JOB_COMPLETION_INDEX from 0 to 2 (got 3)", "run");
	clear_env();

	CHECK(!parse_long(" 5", 0, 9, &(long){0})); /* strtol alone would take the blank */
	CHECK(!parse_long("+5", 0, 9, &(long){0}));
	CHECK(!parse_long("5 ", 0, 9, &(long){0}));
	CHECK(!parse_long("-", -9, 9, &(long){0}));
	CHECK(parse_long("-5", -9, 9, &(long){0}));
}

static void test_secrets(void)
{
	char *s;

	clear_env();
	CHECK_INT(parse("status", "--database-url", "postgresql://u:Sup3rSecretPw@h/db", NULL),
	          AZ_EXIT_OK);
	s = log_scrub("failed for postgresql://u:Sup3rSecretPw@h/db");
	CHECK(s && !strstr(s, "Sup3rSecretPw"));
	free(s);
}

int main(void)
{
	test_defaults();
	test_usage_errors();
	test_flags_over_env();
	test_file_variables();
	test_ranges();
	test_secrets();
	config_free(&cfg);
	free(err);
	return unit_done();
}
