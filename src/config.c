/* config.c - see config.h */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include "exitcodes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *set_kind_name(enum migration_set_kind k)
{
	return k == SET_TENANT ? "tenant" : "master";
}

/* Sets *err to the formatted one-line message; returns AZ_EXIT_USAGE. */
static int fail(char **err, const char *fmt, ...) AZ_PRINTF(2, 3);
static int fail(char **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*err = xvasprintf(fmt, ap);
	va_end(ap);
	return AZ_EXIT_USAGE;
}

/* The password part of a postgres URL or key=value string, if any. */
static void register_url_secret(const char *url)
{
	const char *p, *at, *colon, *scheme = strstr(url, "://");
	const char *kw;

	if (scheme) {
		p = scheme + 3;
		at = strchr(p, '@');
		if (at) {
			colon = memchr(p, ':', (size_t)(at - p));
			if (colon && at > colon + 1) {
				char *pw = xstrndup(colon + 1, (size_t)(at - colon - 1));
				log_add_secret(pw);
				free(pw);
			}
		}
	}
	/* password=... in a query string or a key=value conninfo */
	for (kw = strstr(url, "password="); kw; kw = strstr(kw + 1, "password=")) {
		const char *v = kw + 9;
		size_t n;
		if (*v == '\'') {
			v++;
			n = strcspn(v, "'");
		} else {
			n = strcspn(v, " &\t\n");
		}
		if (n) {
			char *pw = xstrndup(v, n);
			log_add_secret(pw);
			free(pw);
		}
	}
}

/* NULL, or "WHAT contains a control character (0x0a) at byte N" (caller frees). */
static char *control_char(const char *what, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return xasprintf("%s contains a control character (0x%02x) at byte %zu",
			                 what, *p, (size_t)(p - (const unsigned char *)s));
	return NULL;
}

char *config_database_name_problem(const char *name)
{
	char *why = control_char("its name", name);
	char *e;

	if (!why && strlen(name) <= 63)
		return NULL;
	e = xasprintf("will not create database \"%s\": %s", name,
	              why ? why : "its name is longer than PostgreSQL's 63 bytes");
	free(why);
	return e;
}

/*
 * NAME's value when it is a URL or a name: one trailing newline (and a CR
 * before it) taken off, as a Kubernetes Secret's value often ends in one;
 * any other control character refused.  1 and *out (caller frees), 0 when
 * unset or empty, -1 and *err.
 */
static int env_text(const char *name, char **out, char **err)
{
	const char *v = getenv(name);
	size_t n = v ? strlen(v) : 0;

	if (n && v[n - 1] == '\n')
		n -= n > 1 && v[n - 2] == '\r' ? 2 : 1;
	if (!n)
		return 0;
	*out = xstrndup(v, n);
	if ((*err = control_char(name, *out)) == NULL)
		return 1;
	free(*out);
	*out = NULL;
	return -1;
}

/*
 * Reads NAME (env_text) or NAME_FILE.  Returns 1 and sets *out when found, 0
 * when neither is set, -1 on error (message in *err).
 */
static int env_or_file(const char *name, char **out, char **err)
{
	char fname[128];
	const char *v, *f;

	snprintf(fname, sizeof fname, "%s_FILE", name);
	v = getenv(name);
	f = getenv(fname);
	if (v && *v && f && *f) {
		fail(err, "both %s and %s are set; set only one", name, fname);
		return -1;
	}
	if (v && *v)
		return env_text(name, out, err);
	if (f && *f) {
		unsigned char *data;
		size_t len;
		int e = read_file(f, AZ_FILE_MAX_SECRET, &data, &len);
		if (e) {
			fail(err, "cannot read %s=%s: %s%s", fname, f, read_file_strerror(e),
			     e == EFBIG ? " (64 KiB)" : "");
			return -1;
		}
		while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			data[--len] = '\0';
		if (memchr(data, '\0', len)) {
			free(data);
			fail(err, "%s=%s holds a NUL byte", fname, f);
			return -1;
		}
		if (len == 0) {
			free(data);
			fail(err, "%s=%s is empty", fname, f);
			return -1;
		}
		*out = (char *)data;
		snprintf(fname + strlen(fname), sizeof fname - strlen(fname), "=%s", f);
		if ((*err = control_char(fname, *out)) == NULL)
			return 1;
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static bool env_seconds(const char *name, long def, long max, long *out, char **err)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		*out = def;
		return true;
	}
	if (!parse_long(v, 0, max, out)) {
		fail(err, "%s=%s is not a whole number of seconds from 0 to %ld", name, v, max);
		return false;
	}
	return true;
}

/* A duration: "30" or "30s" (seconds), "500ms", "5m", "1h"; 0 = none. */
static bool env_duration_ms(const char *name, long max_ms, long *out, char **err)
{
	const char *v = getenv(name);
	static const struct {
		const char *unit;
		long mult;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1000}};
	size_t digits;

	*out = 0;
	if (!v || !*v)
		return true;
	digits = strspn(v, "0123456789");
	for (size_t i = 0; digits > 0 && digits <= 9 && i < sizeof units / sizeof *units; i++) {
		char num[16];
		long n;
		if (!str_eq(v + digits, units[i].unit))
			continue;
		memcpy(num, v, digits);
		num[digits] = '\0';
		if (parse_long(num, 0, max_ms / units[i].mult, &n)) {
			*out = n * units[i].mult;
			return true;
		}
	}
	fail(err,
	     "%s=%s is not a duration up to %lds (a number of seconds, or with a unit: "
	     "500ms, 30s, 5m, 1h)",
	     name, v, max_ms / 1000);
	return false;
}

static bool parse_log_format(const char *v, enum log_format *out)
{
	if (str_eq(v, "json"))
		*out = LOG_JSON;
	else if (str_eq(v, "text"))
		*out = LOG_TEXT;
	else
		return false;
	return true;
}

static const struct {
	const char *name;
	enum command cmd;
} commands[] = {
    {"migrate", CMD_MIGRATE}, {"deploy", CMD_MIGRATE},  {"status", CMD_STATUS},
    {"resolve", CMD_RESOLVE}, {"help", CMD_HELP},       {"version", CMD_VERSION},
    {"run", CMD_RUN},         {"tenants", CMD_TENANTS}, {"tenant", CMD_TENANT_CREATE},
    {"backup", CMD_BACKUP},   {"restore", CMD_RESTORE}, {"reset", CMD_RESET},
    {"resync", CMD_RESYNC},   {"adopt", CMD_ADOPT},     {"verify", CMD_VERIFY},
};

/* flags that take a value */
enum opt {
	OPT_URL,
	OPT_MIGRATIONS,
	OPT_MASTER_MIGRATIONS,
	OPT_TENANT_MIGRATIONS,
	OPT_SET,
	OPT_LOCK_TIMEOUT,
	OPT_WAIT_TIMEOUT,
	OPT_LOG_FORMAT,
	OPT_APPLIED,
	OPT_ROLLED_BACK,
	OPT_TENANT,
	OPT_CONCURRENCY,
	OPT_SHARD,
	OPT_REPORT,
	OPT_BACKUP_DIR,
	OPT_COMPRESS_LEVEL,
	OPT_ADOPT_UP_TO,
	OPT_NVALUE,
	/* switches */
	OPT_HELP,
	OPT_VERSION,
	OPT_VERBOSE,
	OPT_QUIET,
	OPT_ALLOW_CHECKSUM,
	OPT_DRY_RUN,
	OPT_FAIL_FAST,
	OPT_SKIP_BACKUP,
	OPT_BACKUP_ONLY,
	OPT_WITH_OWNERS,
	OPT_CLEAN,
	OPT_CREATE,
	OPT_FORCE,
};

static const struct {
	const char *name;
	enum opt opt;
} options[] = {
    {"--database-url", OPT_URL},
    {"--migrations", OPT_MIGRATIONS},
    {"--master-migrations", OPT_MASTER_MIGRATIONS},
    {"--tenant-migrations", OPT_TENANT_MIGRATIONS},
    {"--set", OPT_SET},
    {"--lock-timeout", OPT_LOCK_TIMEOUT},
    {"--wait-timeout", OPT_WAIT_TIMEOUT},
    {"--log-format", OPT_LOG_FORMAT},
    {"--applied", OPT_APPLIED},
    {"--rolled-back", OPT_ROLLED_BACK},
    {"--help", OPT_HELP},
    {"-h", OPT_HELP},
    {"--version", OPT_VERSION},
    {"--verbose", OPT_VERBOSE},
    {"-v", OPT_VERBOSE},
    {"--quiet", OPT_QUIET},
    {"-q", OPT_QUIET},
    {"--allow-checksum-mismatch", OPT_ALLOW_CHECKSUM},
    {"--dry-run", OPT_DRY_RUN},
    {"--tenant", OPT_TENANT},
    {"--concurrency", OPT_CONCURRENCY},
    {"--shard", OPT_SHARD},
    {"--report", OPT_REPORT},
    {"--fail-fast", OPT_FAIL_FAST},
    {"--database", OPT_URL},
    {"--backup-dir", OPT_BACKUP_DIR},
    {"--compress-level", OPT_COMPRESS_LEVEL},
    {"--adopt-up-to", OPT_ADOPT_UP_TO},
    {"--skip-backup", OPT_SKIP_BACKUP},
    {"--backup-only", OPT_BACKUP_ONLY},
    {"--with-owners", OPT_WITH_OWNERS},
    {"--clean", OPT_CLEAN},
    {"--create", OPT_CREATE},
    {"--force", OPT_FORCE},
};

static char *join_dir(const char *dir, const char *sub)
{
	return xasprintf("%s/%s", dir, sub);
}

static const char *envs(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* "I/N" with 0 <= I < N <= 1000 */
static bool parse_shard(const char *s, long *i, long *n)
{
	const char *slash = strchr(s, '/');
	char *a;
	bool ok;
	if (!slash)
		return false;
	a = xstrndup(s, (size_t)(slash - s));
	ok = parse_long(a, 0, 999, i) && parse_long(slash + 1, 1, 1000, n) && *i < *n;
	free(a);
	return ok;
}

static int parse_fleet(struct config *cfg, const char *const *flag, char **err)
{
	const char *v;

	if (env_text("AUZDB_TENANT_DB_PREFIX", &cfg->tenant_prefix, err) < 0 ||
	    env_text("AUZDB_TENANT_URL_TEMPLATE", &cfg->tenant_url_template, err) < 0)
		return AZ_EXIT_USAGE;
	if (!cfg->tenant_prefix)
		cfg->tenant_prefix = xstrdup("auzguard_tenant_");
	if (strlen(cfg->tenant_prefix) >= 63)
		return fail(
		    err, "AUZDB_TENANT_DB_PREFIX is too long (%zu bytes; PostgreSQL names have 63)",
		    strlen(cfg->tenant_prefix));
	if (!cfg->ntenants && (v = envs("AUZDB_TENANTS")) != NULL) {
		const char *p = v;
		cfg->tenants_from_env = true;
		while (*p) {
			size_t n = strcspn(p, ",");
			cfg->tenants = xrealloc(cfg->tenants, (cfg->ntenants + 1) * sizeof(char *));
			cfg->tenants[cfg->ntenants++] = xstrndup(p, n);
			p += n;
			if (*p == ',')
				p++;
		}
	}
	if ((v = envs("AUZDB_TENANT_QUERY")) != NULL)
		cfg->tenant_query = xstrdup(v);
	if (cfg->tenant_url_template)
		register_url_secret(cfg->tenant_url_template);

	cfg->concurrency = 4;
	v = flag[OPT_CONCURRENCY] ? flag[OPT_CONCURRENCY] : envs("AUZDB_CONCURRENCY");
	if (v && !parse_long(v, 1, 256, &cfg->concurrency))
		return fail(err, "%s=%s: concurrency must be a whole number from 1 to 256",
		            flag[OPT_CONCURRENCY] ? "--concurrency" : "AUZDB_CONCURRENCY", v);
	if (envs("AUZDB_FAIL_FAST") && str_eq(envs("AUZDB_FAIL_FAST"), "1"))
		cfg->fail_fast = true;

	cfg->shard_index = 0;
	cfg->shard_count = 1;
	if (flag[OPT_SHARD]) {
		if (!parse_shard(flag[OPT_SHARD], &cfg->shard_index, &cfg->shard_count))
			return fail(err, "--shard %s: expected I/N with 0 <= I < N <= 1000",
			            flag[OPT_SHARD]);
	} else if ((v = envs("AUZDB_SHARDS")) != NULL) {
		const char *idx = envs("JOB_COMPLETION_INDEX");
		if (!parse_long(v, 1, 1000, &cfg->shard_count))
			return fail(err, "AUZDB_SHARDS=%s: expected a whole number from 1 to 1000",
			            v);
		if (!idx || !parse_long(idx, 0, cfg->shard_count - 1, &cfg->shard_index))
			return fail(
			    err,
			    "AUZDB_SHARDS=%s needs JOB_COMPLETION_INDEX from 0 to %ld (got %s)", v,
			    cfg->shard_count - 1, idx ? idx : "nothing");
	}

	v = flag[OPT_REPORT] ? flag[OPT_REPORT] : envs("AUZDB_REPORT_FILE");
	if (v)
		cfg->report_file = xstrdup(v);
	v = getenv("AUZDB_TERMINATION_LOG");
	if (v)
		cfg->termination_log = *v ? xstrdup(v) : NULL; /* set but empty: off */
	else if (access("/dev/termination-log", W_OK) == 0)
		cfg->termination_log = xstrdup("/dev/termination-log");
	cfg->progress = isatty(STDERR_FILENO) && cfg->log_format == LOG_TEXT && !cfg->quiet;
	return AZ_EXIT_OK;
}

/* --adopt-up-to, AUZDB_AUTO_ADOPT, AUZDB_SHADOW_DATABASE_URL(_FILE) */
static int parse_adopt(struct config *cfg, const char *const *flag, char **err)
{
	const char *v = envs("AUZDB_AUTO_ADOPT");

	if (flag[OPT_ADOPT_UP_TO]) {
		if (cfg->cmd != CMD_ADOPT)
			return fail(err, "--adopt-up-to belongs to 'auzdb adopt'");
		cfg->adopt_up_to = xstrdup(flag[OPT_ADOPT_UP_TO]);
	}
	if (v && !str_eq(v, "0") && !str_eq(v, "1"))
		return fail(err, "AUZDB_AUTO_ADOPT=%s: expected 0 or 1", v);
	cfg->auto_adopt = v && str_eq(v, "1");
	if (env_or_file("AUZDB_SHADOW_DATABASE_URL", &cfg->shadow_database_url, err) < 0)
		return AZ_EXIT_USAGE;
	if (cfg->shadow_database_url)
		register_url_secret(cfg->shadow_database_url);
	return AZ_EXIT_OK;
}

static int parse_backup(struct config *cfg, const char *const *flag, bool skip, char **err)
{
	const char *v;
	bool migrating = cfg->cmd == CMD_MIGRATE || cfg->cmd == CMD_RUN || cfg->cmd == CMD_ADOPT;

	v = flag[OPT_BACKUP_DIR] ? flag[OPT_BACKUP_DIR] : envs("AUZDB_BACKUP_DIR");
	cfg->backup_dir = xstrdup(v ? v : "backups");
	while (strlen(cfg->backup_dir) > 1 && cfg->backup_dir[strlen(cfg->backup_dir) - 1] == '/')
		cfg->backup_dir[strlen(cfg->backup_dir) - 1] = '\0';

	cfg->compress_level = 6;
	v = flag[OPT_COMPRESS_LEVEL] ? flag[OPT_COMPRESS_LEVEL] : envs("AUZDB_BACKUP_COMPRESSION");
	if (v && !parse_long(v, 0, 9, &cfg->compress_level))
		return fail(
		    err, "%s=%s: compression level must be a whole number from 0 to 9",
		    flag[OPT_COMPRESS_LEVEL] ? "--compress-level" : "AUZDB_BACKUP_COMPRESSION", v);
	v = envs("AUZDB_BACKUP_OWNERS");
	if (v && !str_eq(v, "0") && !str_eq(v, "1"))
		return fail(
		    err, "AUZDB_BACKUP_OWNERS=%s: must be 1 (keep owners and privileges) or 0", v);
	if (v && str_eq(v, "1"))
		cfg->backup_owners = true;
	v = envs("AUZDB_BACKUP_KEEP");
	if (v && !parse_long(v, 0, 100000, &cfg->backup_keep))
		return fail(
		    err,
		    "AUZDB_BACKUP_KEEP=%s: expected a whole number of backup sets (0 keeps all)",
		    v);

	cfg->backup_mode = BACKUP_AUTO;
	v = envs("AUZDB_BACKUP");
	if (v) {
		if (str_eq(v, "auto"))
			cfg->backup_mode = BACKUP_AUTO;
		else if (str_eq(v, "always"))
			cfg->backup_mode = BACKUP_ALWAYS;
		else if (str_eq(v, "never")) {
			cfg->backup_mode = BACKUP_NEVER;
			cfg->backup_off_reason = "AUZDB_BACKUP=never";
		} else {
			fail(err, "AUZDB_BACKUP=%s: must be 'auto', 'always' or 'never'", v);
			return AZ_EXIT_USAGE;
		}
	}
	if (skip) {
		cfg->backup_mode = BACKUP_NEVER;
		cfg->backup_off_reason = "--skip-backup";
	}
	if ((cfg->cmd == CMD_RESET || cfg->cmd == CMD_RESYNC) && cfg->backup_mode == BACKUP_NEVER)
		return fail(err, "auzdb %s always takes a backup first; it cannot run with %s",
		            cfg->cmd == CMD_RESET ? "reset" : "resync", cfg->backup_off_reason);
	if (cfg->force && cfg->cmd != CMD_RESET && cfg->cmd != CMD_RESYNC)
		return fail(err, "--force belongs to 'auzdb reset' and 'auzdb resync'");
	if ((v = envs("AUZDB_ALLOW_RESET")) != NULL)
		cfg->allow_reset = xstrdup(v);
	if ((skip || cfg->backup_only) && !migrating)
		return fail(err, "%s belongs to 'auzdb run' and 'auzdb migrate'",
		            skip ? "--skip-backup" : "--backup-only");
	if (cfg->backup_only && cfg->backup_mode == BACKUP_NEVER)
		return fail(err, "--backup-only with %s: nothing to do", cfg->backup_off_reason);
	if (cfg->backup_only && cfg->dry_run)
		return fail(err, "--backup-only and --dry-run cannot be combined");
	if ((cfg->restore_clean || cfg->restore_create) && cfg->cmd != CMD_RESTORE)
		return fail(err, "%s belongs to 'auzdb restore'",
		            cfg->restore_clean ? "--clean" : "--create");
	if (cfg->backup_stdout)
		cfg->quiet = true; /* standard output carries the backup */
	if (cfg->cmd == CMD_RESTORE && !cfg->restore_file)
		return fail(err, "usage: auzdb restore FILE [--database URL] [--clean] [--create]");
	return AZ_EXIT_OK;
}

/* The switches that config_parse resolves after the whole command line is read. */
struct switches {
	bool help, version, skip_backup;
};

/* Step 1: argv into cfg's command and positionals, flag[] (values) and sw. */
static int parse_args(int argc, char **argv, struct config *cfg, const char **flag,
                      struct switches *sw, char **err)
{
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		size_t namelen;
		bool found = false;

		if (a[0] != '-' || str_eq(a, "-")) {
			if (cfg->cmd == CMD_TENANT_CREATE && npos == 1) {
				if (!str_eq(a, "create"))
					return fail(
					    err,
					    "unknown command 'tenant %s' (did you mean 'tenant "
					    "create SLUG'?)",
					    a);
				npos++;
				continue;
			}
			if (cfg->cmd == CMD_TENANT_CREATE && npos == 2) {
				cfg->new_tenant = xstrdup(a);
				npos++;
				continue;
			}
			if (cfg->cmd == CMD_BACKUP && npos == 1 && str_eq(a, "-")) {
				cfg->backup_stdout = true;
				npos++;
				continue;
			}
			if (cfg->cmd == CMD_RESTORE && npos == 1) {
				cfg->restore_file = xstrdup(a);
				npos++;
				continue;
			}
			if (cfg->cmd != CMD_NONE)
				return fail(err, "unexpected argument '%s'", a);
			npos++;
			for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
				if (str_eq(a, commands[c].name))
					cfg->cmd = commands[c].cmd;
			if (cfg->cmd == CMD_NONE)
				return fail(err, "unknown command '%s' (see 'auzdb help')", a);
			continue;
		}
		namelen = strcspn(a, "=");
		for (size_t o = 0; o < sizeof options / sizeof options[0]; o++) {
			if (strlen(options[o].name) != namelen ||
			    strncmp(a, options[o].name, namelen))
				continue;
			found = true;
			if (options[o].opt < OPT_NVALUE) {
				if (a[namelen] == '=')
					val = a + namelen + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else {
					fail(err, "option '%s' needs a value", options[o].name);
					return AZ_EXIT_USAGE;
				}
				flag[options[o].opt] = val;
				if (options[o].opt == OPT_TENANT) {
					cfg->tenants = xrealloc(cfg->tenants, (cfg->ntenants + 1) *
					                                          sizeof(char *));
					cfg->tenants[cfg->ntenants++] = xstrdup(val);
				}
				break;
			}
			if (a[namelen] == '=')
				return fail(err, "option '%s' takes no value", options[o].name);
			switch (options[o].opt) {
			case OPT_HELP: sw->help = true; break;
			case OPT_VERSION: sw->version = true; break;
			case OPT_VERBOSE: cfg->verbose = true; break;
			case OPT_QUIET: cfg->quiet = true; break;
			case OPT_ALLOW_CHECKSUM: cfg->allow_checksum_mismatch = true; break;
			case OPT_DRY_RUN: cfg->dry_run = true; break;
			case OPT_FAIL_FAST: cfg->fail_fast = true; break;
			case OPT_SKIP_BACKUP: sw->skip_backup = true; break;
			case OPT_BACKUP_ONLY: cfg->backup_only = true; break;
			case OPT_WITH_OWNERS: cfg->backup_owners = true; break;
			case OPT_CLEAN: cfg->restore_clean = true; break;
			case OPT_CREATE: cfg->restore_create = true; break;
			case OPT_FORCE: cfg->force = true; break;
			default: break;
			}
			break;
		}
		if (!found)
			return fail(err, "unknown option '%.*s' (see 'auzdb help')", (int)namelen,
			            a);
	}
	return AZ_EXIT_OK;
}

/* The database URL: --database-url, else MASTER_DATABASE_URL(_FILE), else DATABASE_URL(_FILE). */
static int read_connection(struct config *cfg, const char *const *flag, char **err)
{
	const char *v;
	int rc;

	if (flag[OPT_URL]) {
		cfg->database_url = xstrdup(flag[OPT_URL]);
		cfg->url_source = "--database-url";
		if ((*err = control_char("--database-url", cfg->database_url)) != NULL)
			return AZ_EXIT_USAGE;
	} else {
		rc = env_or_file("MASTER_DATABASE_URL", &cfg->database_url, err);
		if (rc < 0)
			return AZ_EXIT_USAGE;
		if (rc > 0) {
			cfg->url_source = "MASTER_DATABASE_URL";
		} else {
			rc = env_or_file("DATABASE_URL", &cfg->database_url, err);
			if (rc < 0)
				return AZ_EXIT_USAGE;
			if (rc > 0)
				cfg->url_source = "DATABASE_URL";
		}
		/* a DATABASE_URL pair is checked even when MASTER_ wins */
		if (cfg->url_source && str_eq(cfg->url_source, "MASTER_DATABASE_URL")) {
			char *dummy = NULL;
			rc = env_or_file("DATABASE_URL", &dummy, err);
			free(dummy);
			if (rc < 0)
				return AZ_EXIT_USAGE;
		}
	}
	if (cfg->database_url)
		register_url_secret(cfg->database_url);
	if ((v = getenv("PGPASSWORD")) != NULL)
		log_add_secret(v);

	return AZ_EXIT_OK;
}

/* Migration sets: specific flag > general flag > specific env > general env > embedded. */
static int read_sets(struct config *cfg, const char *const *flag, char **err)
{
	{
		const char *gen_flag = flag[OPT_MIGRATIONS];
		const char *gen_env = getenv("AUZDB_MIGRATIONS_DIR");
		const char *spec_flag[2] = {flag[OPT_MASTER_MIGRATIONS],
		                            flag[OPT_TENANT_MIGRATIONS]};
		const char *spec_env[2] = {getenv("AUZDB_MASTER_MIGRATIONS_DIR"),
		                           getenv("AUZDB_TENANT_MIGRATIONS_DIR")};
		for (int k = 0; k < 2; k++) {
			const char *sub = k ? "tenant" : "master";
			if (spec_flag[k] && *spec_flag[k])
				cfg->migrations_dir[k] = xstrdup(spec_flag[k]);
			else if (gen_flag && *gen_flag)
				cfg->migrations_dir[k] = join_dir(gen_flag, sub);
			else if (spec_env[k] && *spec_env[k])
				cfg->migrations_dir[k] = xstrdup(spec_env[k]);
			else if (gen_env && *gen_env)
				cfg->migrations_dir[k] = join_dir(gen_env, sub);
		}
	}
	if (flag[OPT_SET]) {
		cfg->set_given = true;
		if (str_eq(flag[OPT_SET], "master"))
			cfg->set = SET_MASTER;
		else if (str_eq(flag[OPT_SET], "tenant"))
			cfg->set = SET_TENANT;
		else {
			fail(err, "--set %s: must be 'master' or 'tenant'", flag[OPT_SET]);
			return AZ_EXIT_USAGE;
		}
	}

	return AZ_EXIT_OK;
}

static int read_timeouts(struct config *cfg, const char *const *flag, char **err)
{
	if (!env_seconds("AUZDB_LOCK_TIMEOUT", 60, 86400, &cfg->lock_timeout_s, err) ||
	    !env_seconds("AUZDB_WAIT_TIMEOUT", 60, 86400, &cfg->wait_timeout_s, err) ||
	    !env_seconds("AUZDB_CONNECT_TIMEOUT", 10, 3600, &cfg->connect_timeout_s, err) ||
	    !env_duration_ms("AUZDB_STATEMENT_TIMEOUT", 86400000L, &cfg->statement_timeout_ms,
	                     err) ||
	    !env_duration_ms("AUZDB_DDL_LOCK_TIMEOUT", 86400000L, &cfg->ddl_lock_timeout_ms, err) ||
	    !env_duration_ms("AUZDB_DEADLINE", 7L * 86400000L, &cfg->deadline_ms, err))
		return AZ_EXIT_USAGE;
	if (flag[OPT_LOCK_TIMEOUT] &&
	    !parse_long(flag[OPT_LOCK_TIMEOUT], 0, 86400, &cfg->lock_timeout_s))
		return fail(err, "--lock-timeout %s: not a whole number of seconds from 0 to 86400",
		            flag[OPT_LOCK_TIMEOUT]);
	if (flag[OPT_WAIT_TIMEOUT] &&
	    !parse_long(flag[OPT_WAIT_TIMEOUT], 0, 86400, &cfg->wait_timeout_s))
		return fail(err, "--wait-timeout %s: not a whole number of seconds from 0 to 86400",
		            flag[OPT_WAIT_TIMEOUT]);
	if (cfg->connect_timeout_s == 0)
		cfg->connect_timeout_s = 10;

	return AZ_EXIT_OK;
}

/* resolve's flags, and --dry-run, checked against the command. */
static int check_command_flags(struct config *cfg, const char *const *flag, char **err)
{
	if (flag[OPT_APPLIED] || flag[OPT_ROLLED_BACK]) {
		if (cfg->cmd != CMD_RESOLVE)
			return fail(err, "--applied and --rolled-back belong to 'auzdb resolve'");
	}
	if (cfg->cmd == CMD_RESOLVE) {
		if (flag[OPT_APPLIED] && flag[OPT_ROLLED_BACK])
			return fail(err,
			            "resolve: pass either --applied or --rolled-back, not both");
		if (!flag[OPT_APPLIED] && !flag[OPT_ROLLED_BACK])
			return fail(err,
			            "resolve: --applied NAME or --rolled-back NAME is required");
		if (flag[OPT_APPLIED])
			cfg->resolve_applied = xstrdup(flag[OPT_APPLIED]);
		else
			cfg->resolve_rolled_back = xstrdup(flag[OPT_ROLLED_BACK]);
	}
	if (cfg->dry_run && cfg->cmd != CMD_MIGRATE && cfg->cmd != CMD_RUN && cfg->cmd != CMD_ADOPT)
		return fail(err,
		            "--dry-run belongs to 'auzdb run', 'auzdb migrate' and 'auzdb adopt'");
	return AZ_EXIT_OK;
}

int config_parse(int argc, char **argv, struct config *cfg, char **err)
{
	const char *flag[OPT_NVALUE] = {0};
	struct switches sw = {false, false, false};
	const char *v;
	int rc;

	memset(cfg, 0, sizeof *cfg);
	cfg->set = SET_MASTER;
	*err = NULL;

	rc = parse_args(argc, argv, cfg, flag, &sw, err);
	if (rc)
		return rc;
	if (sw.version)
		cfg->cmd = CMD_VERSION;
	if (sw.help)
		cfg->cmd = CMD_HELP;
	if (cfg->cmd == CMD_NONE)
		cfg->cmd = CMD_RUN; /* the init job: `auzdb` alone does the whole fleet */
	if (cfg->cmd == CMD_TENANT_CREATE && !cfg->new_tenant)
		return fail(err, "usage: auzdb tenant create SLUG");

	/* log format: flag, env, then TTY-dependent default */
	cfg->log_format = isatty(STDOUT_FILENO) ? LOG_TEXT : LOG_JSON;
	v = flag[OPT_LOG_FORMAT] ? flag[OPT_LOG_FORMAT] : getenv("AUZDB_LOG_FORMAT");
	if (v && *v && !parse_log_format(v, &cfg->log_format))
		return fail(err, "%s=%s: log format must be 'text' or 'json'",
		            flag[OPT_LOG_FORMAT] ? "--log-format" : "AUZDB_LOG_FORMAT", v);
	if (cfg->cmd == CMD_HELP || cfg->cmd == CMD_VERSION)
		return AZ_EXIT_OK;

	/* step 2: the environment (flags override it); step 3: the checks across them */
	if ((rc = read_connection(cfg, flag, err)) != 0 || (rc = read_sets(cfg, flag, err)) != 0 ||
	    (rc = read_timeouts(cfg, flag, err)) != 0 ||
	    (rc = check_command_flags(cfg, flag, err)) != 0 ||
	    (rc = parse_adopt(cfg, flag, err)) != 0 ||
	    (rc = parse_backup(cfg, flag, sw.skip_backup, err)) != 0)
		return rc;
	return parse_fleet(cfg, flag, err);
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->ntenants; i++)
		free(cfg->tenants[i]);
	free(cfg->tenants);
	free(cfg->tenant_query);
	free(cfg->tenant_prefix);
	free(cfg->tenant_url_template);
	free(cfg->new_tenant);
	free(cfg->report_file);
	free(cfg->termination_log);
	free(cfg->database_url);
	free(cfg->migrations_dir[0]);
	free(cfg->migrations_dir[1]);
	free(cfg->resolve_applied);
	free(cfg->resolve_rolled_back);
	free(cfg->backup_dir);
	free(cfg->restore_file);
	free(cfg->allow_reset);
	free(cfg->adopt_up_to);
	free(cfg->shadow_database_url);
	memset(cfg, 0, sizeof *cfg);
}
