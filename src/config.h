/*
 * config.h - the parsed options: command line over environment over defaults.
 *
 * Owns: struct config, the only mutable state that lives for the whole run,
 * and the rules for reading it (flags override env; X and X_FILE together
 * is a usage error; numbers are range-checked; a URL, database name or
 * prefix holds no control character once a variable's one trailing newline
 * is taken off).  Nothing else reads argv or the auzdb/DATABASE_URL
 * environment variables; libpq still reads its own PG* variables.
 * Passwords found while parsing are registered with log.h.
 */
#ifndef AUZDB_CONFIG_H
#define AUZDB_CONFIG_H

#include "log.h"
#include "util.h"

enum command {
	CMD_NONE,
	CMD_HELP,
	CMD_VERSION,
	CMD_MIGRATE,
	CMD_STATUS,
	CMD_RESOLVE,
	CMD_RUN,
	CMD_TENANTS,
	CMD_TENANT_CREATE,
	CMD_BACKUP,
	CMD_RESTORE,
	CMD_RESET,  /* reset.h: drop the schema's objects, migrate again */
	CMD_RESYNC, /* reset.h: reset, then reload the data from the backup */
	CMD_ADOPT,  /* adopt.h: baseline a database with tables but no ledger */
	CMD_VERIFY, /* adopt.h: live schemas against what their ledgers say */
};

/* AUZDB_BACKUP: when migrate/run back a database up before changing it */
enum backup_mode {
	BACKUP_AUTO,   /* only databases with pending migrations (default) */
	BACKUP_ALWAYS, /* every database the run reaches */
	BACKUP_NEVER,  /* --skip-backup or AUZDB_BACKUP=never: logged loudly */
};

enum migration_set_kind { SET_MASTER, SET_TENANT };

struct config {
	enum command cmd;
	char *database_url;          /* NULL: libpq defaults (PG* variables) */
	const char *url_source;      /* name of the flag/variable it came from */
	char *migrations_dir[2];     /* per set_kind; NULL = embedded */
	enum migration_set_kind set; /* set used by migrate/status/resolve */
	bool set_given;              /* --set given: status looks at one database */
	long lock_timeout_s;
	long wait_timeout_s;
	long connect_timeout_s;
	long statement_timeout_ms; /* AUZDB_STATEMENT_TIMEOUT for migrations; 0 = none */
	long ddl_lock_timeout_ms;  /* AUZDB_DDL_LOCK_TIMEOUT in migrations; 0 = none */
	long deadline_ms;          /* AUZDB_DEADLINE for the whole run; 0 = none */
	enum log_format log_format;
	bool verbose;
	bool quiet;
	bool allow_checksum_mismatch;
	bool dry_run;
	char *resolve_applied;
	char *resolve_rolled_back;

	/* the fleet */
	char **tenants; /* --tenant (repeatable) or AUZDB_TENANTS */
	size_t ntenants;
	bool tenants_from_env;
	char *tenant_query;        /* AUZDB_TENANT_QUERY */
	char *tenant_prefix;       /* AUZDB_TENANT_DB_PREFIX */
	char *tenant_url_template; /* AUZDB_TENANT_URL_TEMPLATE */
	char *new_tenant;          /* tenant create SLUG */
	long concurrency;
	bool fail_fast;
	long shard_index, shard_count; /* --shard I/N; count 1 = no sharding */
	char *report_file;             /* --report FILE */
	char *termination_log;         /* AUZDB_TERMINATION_LOG, or NULL */
	bool progress;                 /* progress lines on a TTY */

	/* backups and restore */
	char *backup_dir;              /* --backup-dir, AUZDB_BACKUP_DIR (default "backups") */
	enum backup_mode backup_mode;  /* AUZDB_BACKUP, --skip-backup */
	const char *backup_off_reason; /* what set BACKUP_NEVER, for the warning */
	bool backup_only;              /* --backup-only: back up, migrate nothing */
	long backup_keep;              /* AUZDB_BACKUP_KEEP: sets kept; 0 = all */
	long compress_level;           /* --compress-level, AUZDB_BACKUP_COMPRESSION (6) */
	bool backup_stdout;            /* `auzdb backup -` */
	bool backup_owners;            /* --with-owners, AUZDB_BACKUP_OWNERS=1: owners and grants */
	char *restore_file;            /* `auzdb restore FILE` ("-" = stdin) */
	bool restore_clean;            /* --clean: empty the target first */
	bool restore_create;           /* --create: create the target database */

	/* reset and resync (both guards must be present) */
	bool force;        /* --force */
	char *allow_reset; /* AUZDB_ALLOW_RESET as set (must be "delete-all-data"), or NULL */

	/* adopt, verify, diagnose (adopt.h, shadow.h) */
	bool auto_adopt;           /* AUZDB_AUTO_ADOPT=1: run/migrate adopt tables */
	char *adopt_up_to;         /* adopt --adopt-up-to NAME: the operator's baseline */
	char *shadow_database_url; /* AUZDB_SHADOW_DATABASE_URL(_FILE): empty, wiped */
};

/*
 * Fills cfg from argv and the environment.  On error returns AZ_EXIT_USAGE
 * with a one-line message in *err (caller frees); else AZ_EXIT_OK.
 */
int config_parse(int argc, char **argv, struct config *cfg, char **err) AZ_MUSTCHECK;
void config_free(struct config *cfg);
/*
 * NULL when a missing database may be created under this name, else why
 * (caller frees): a name with a control character (a URL's %0A, a Secret's
 * trailing newline) or over 63 bytes is refused, never created.
 */
char *config_database_name_problem(const char *name);
const char *set_kind_name(enum migration_set_kind k);

#endif
