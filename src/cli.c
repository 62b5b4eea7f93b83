/* cli.c - see cli.h */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "adopt.h"
#include "apply.h"
#include "cmd_reset.h"
#include "exitcodes.h"
#include "fleet.h"
#include "ledger.h"
#include "log.h"
#include "migset.h"
#include "restore.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#ifndef AUZDB_VERSION
#define AUZDB_VERSION "unknown"
#endif

const char *az_exit_name(int code)
{
	switch (code) {
	case AZ_EXIT_OK: return "ok";
	case AZ_EXIT_INTERNAL: return "internal_error";
	case AZ_EXIT_USAGE: return "usage_error";
	case AZ_EXIT_UNREACHABLE: return "unreachable";
	case AZ_EXIT_AUTH: return "auth_or_permission";
	case AZ_EXIT_LOCK: return "lock_timeout";
	case AZ_EXIT_BACKUP: return "backup_failed";
	case AZ_EXIT_MIGRATION: return "migration_failed";
	case AZ_EXIT_NEEDS_ACTION: return "needs_action";
	case AZ_EXIT_TENANTS_FAILED: return "tenants_failed";
	case AZ_EXIT_INTERRUPTED: return "interrupted";
	case AZ_EXIT_PENDING: return "pending";
	}
	return "unknown";
}

void cli_usage(void)
{
	fputs("usage: auzdb <command> [options]\n"
	      "\n"
	      "Keeps PostgreSQL databases on the latest schema, sharing Prisma Migrate's\n"
	      "_prisma_migrations ledger.\n"
	      "\n"
	      "commands:\n"
	      "  migrate (deploy)        apply pending migrations to the database\n"
	      "  status                  show applied, pending, failed and edited migrations\n"
	      "                          (exit 0 up to date, 11 pending, 8 needs action)\n"
	      "  resolve --applied NAME  record NAME as applied without running it\n"
	      "  resolve --rolled-back NAME\n"
	      "                          mark NAME's failed row as rolled back so it is retried\n"
	      "  adopt                   baseline a database with tables but no (or a short)\n"
	      "                          ledger: record the migrations whose schema it already\n"
	      "                          has as applied, then apply the rest (--adopt-up-to\n"
	      "                          NAME: baseline at NAME; --dry-run: only say what)\n"
	      "  verify                  compare each database's schema with what its applied\n"
	      "                          migrations make (exit 0 identical, 8 drift)\n"
	      "  backup [-]              back up the database now (to the backup directory,\n"
	      "                          or to standard output with -)\n"
	      "  restore FILE            play a backup (.sql.gz or plain, auzdb's or pg_dump's)\n"
	      "                          into an empty database; FILE - reads standard input\n"
	      "  reset                   DELETES ALL DATA: back up, drop everything in the\n"
	      "                          database's schema, apply every migration again\n"
	      "  resync                  back up, reset, then reload the backup's rows into the\n"
	      "                          new schema by table and column name (undone if a row\n"
	      "                          does not fit)\n"
	      "  help, version\n"
	      "\n"
	      "options (flags override environment variables):\n"
	      "  --database-url URL            MASTER_DATABASE_URL, DATABASE_URL (or *_FILE)\n"
	      "  --migrations DIR              AUZDB_MIGRATIONS_DIR (holds master/ and tenant/)\n"
	      "  --master-migrations DIR       AUZDB_MASTER_MIGRATIONS_DIR\n"
	      "  --tenant-migrations DIR       AUZDB_TENANT_MIGRATIONS_DIR\n"
	      "  --set master|tenant           which migration set to use (default master)\n"
	      "  --lock-timeout SEC            AUZDB_LOCK_TIMEOUT (default 60)\n"
	      "  --wait-timeout SEC            AUZDB_WAIT_TIMEOUT (default 60)\n"
	      "                                AUZDB_CONNECT_TIMEOUT per attempt (default 10)\n"
	      "  --log-format text|json        AUZDB_LOG_FORMAT (default: text on a TTY)\n"
	      "  --allow-checksum-mismatch     migrate even if applied files were edited\n"
	      "  --dry-run                     print the plan, change nothing\n"
	      "\n"
	      "adopt and verify (expected schemas come from a throwaway shadow database\n"
	      "built from the migrations; it needs CREATEDB):\n"
	      "  --adopt-up-to NAME            adopt: record the migrations up to NAME as\n"
	      "                                applied, whatever the schema (operator's call)\n"
	      "                                AUZDB_AUTO_ADOPT=1: run/migrate adopt tables\n"
	      "                                without a ledger (default 0: exit 8, finding)\n"
	      "                                AUZDB_SHADOW_DATABASE_URL(_FILE): an empty\n"
	      "                                database to use as the shadow (wiped)\n"
	      "\n"
	      "backups (migrate and run back up each database that has pending migrations\n"
	      "first; a failed backup means no migration and exit 6):\n"
	      "  --backup-dir DIR              AUZDB_BACKUP_DIR (default ./backups); sets are\n"
	      "                                DIR/<UTC timestamp>/<database>.sql.gz + "
	      "manifest.json\n"
	      "  --compress-level 0-9          AUZDB_BACKUP_COMPRESSION (default 6)\n"
	      "  --with-owners                 AUZDB_BACKUP_OWNERS=1: keep owners and GRANTs\n"
	      "                                (default: none, like pg_dump --no-owner\n"
	      "                                --no-privileges)\n"
	      "  --backup-only                 back up every database, migrate nothing\n"
	      "  --skip-backup                 migrate without a backup (logged as a warning)\n"
	      "                                AUZDB_BACKUP=auto|always|never (default auto)\n"
	      "                                AUZDB_BACKUP_KEEP=N keeps the newest N sets\n"
	      "  restore: --database URL (or --database-url), --clean (drop what the target\n"
	      "           holds first), --create (create the target database)\n"
	      "\n"
	      "reset and resync (one database: the URL's with --set, or --tenant SLUG; never\n"
	      "part of run; always back up first, exit 6 and nothing dropped if that fails):\n"
	      "  --force                       required, together with\n"
	      "                                AUZDB_ALLOW_RESET=delete-all-data (else exit 2)\n"
	      "  -v, --verbose / -q, --quiet\n"
	      "  -h, --help / --version\n"
	      "\n"
	      "Without a URL, libpq's PG* variables apply.  Exit codes: see README.\n",
	      stdout);
}

void cli_version(void)
{
	int v = PQlibVersion();
	printf("auzdb %s (libpq %d.%d, %s, zlib %s)\n", AUZDB_VERSION, v / 10000, v % 100,
	       OpenSSL_version(OPENSSL_VERSION), zlibVersion());
}

static int fail(int rc, const char *db, char *err)
{
	log_at(LOG_ERROR, &(struct log_ctx){db, NULL, -1}, "%s", err ? err : az_exit_name(rc));
	free(err);
	return rc;
}

static int cmd_migrate(const struct config *cfg)
{
	struct migset set;
	struct dbconn db;
	struct db_outcome out = {0};
	char *err = NULL;
	int rc;

	rc = migset_load(cfg, cfg->set, &set, &err);
	if (rc)
		return fail(rc, NULL, err);
	log_debug("loaded %zu %s migrations from %s", set.count, set_kind_name(set.kind),
	          set.source);
	rc = db_connect(cfg, cfg->database_url, NULL, !cfg->dry_run, &db, &err);
	if (rc) {
		migset_free(&set);
		return fail(rc, NULL, err);
	}
	log_at(LOG_INFO, &(struct log_ctx){db.dbname, NULL, -1},
	       "connected to %s; %zu migrations in %s", db.where, set.count, set.source);
	warn_if_no_backup(cfg);
	{
		struct backup_set *bs =
		    cfg->backup_mode != BACKUP_NEVER && !cfg->dry_run ? backup_set_new(cfg) : NULL;
		rc = migrate_database(cfg, &db, &set, bs, &out);
		backup_set_close(bs);
	}
	outcome_free(&out);
	db_close(&db);
	migset_free(&set);
	return rc;
}

static void print_list(const char *dbname, const char *what, char **names, size_t n)
{
	struct strbuf sb;
	if (!n)
		return;
	sb_init(&sb);
	for (size_t i = 0; i < n; i++)
		sb_addf(&sb, "%s%s", i ? ", " : "", names[i]);
	out_line("  %s %s: %s", dbname, what, sb.buf);
	sb_free(&sb);
}

static void json_list(struct strbuf *sb, const char *key, char **names, size_t n)
{
	sb_addf(sb, ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		sb_adds(sb, i ? ",\"" : "\"");
		sb_add_json(sb, names[i]);
		sb_adds(sb, "\"");
	}
	sb_adds(sb, "]");
}

static int cmd_status(const struct config *cfg)
{
	struct migset set;
	struct dbconn db;
	struct plan p;
	char *err = NULL, *state;
	char **pending;
	int rc;

	rc = migset_load(cfg, cfg->set, &set, &err);
	if (rc)
		return fail(rc, NULL, err);
	rc = db_connect(cfg, cfg->database_url, NULL, false, &db, &err);
	if (rc) {
		migset_free(&set);
		return fail(rc, NULL, err);
	}
	rc = plan_build(&db, &set, &p, &err);
	if (rc) {
		rc = fail(rc, db.dbname, err);
		db_close(&db);
		migset_free(&set);
		return rc;
	}
	state = plan_state(&p);
	pending = xcalloc(p.npending ? p.npending : 1, sizeof *pending);
	for (size_t i = 0; i < p.npending; i++)
		pending[i] = set.items[p.pending[i]].name;

	rc = plan_blocker(&p, false, &err);
	if (rc == AZ_EXIT_OK && p.npending)
		rc = AZ_EXIT_PENDING;

	if (log_get_format() == LOG_JSON) {
		struct strbuf sb;
		sb_init(&sb);
		sb_adds(&sb, "{\"database\":\"");
		sb_add_json(&sb, db.dbname);
		sb_addf(&sb,
		        "\",\"set\":\"%s\",\"state\":\"%s\",\"ledger\":%s,\"applied\":%zu,"
		        "\"pending_count\":%zu",
		        set_kind_name(set.kind), state, p.ledger_exists ? "true" : "false",
		        p.applied, p.npending);
		json_list(&sb, "pending", pending, p.npending);
		json_list(&sb, "failed", p.failed, p.nfailed);
		json_list(&sb, "checksum_drift", p.drifted, p.ndrifted);
		json_list(&sb, "not_found_locally", p.unknown, p.nunknown);
		sb_addf(&sb, ",\"exit_code\":%d}", rc);
		out_line("%s", sb.buf);
		sb_free(&sb);
	} else {
		out_line("%-24s %-7s %-14s applied %zu/%zu  pending %zu  failed %zu  drift %zu",
		         db.dbname, set_kind_name(set.kind), state, p.applied, set.count,
		         p.npending, p.nfailed, p.ndrifted);
		print_list(db.dbname, "pending", pending, p.npending);
		print_list(db.dbname, "failed", p.failed, p.nfailed);
		print_list(db.dbname, "checksum drift", p.drifted, p.ndrifted);
		print_list(db.dbname, "not found locally", p.unknown, p.nunknown);
		if (rc == AZ_EXIT_OK)
			out_line("Database schema is up to date!");
	}
	if (err) {
		log_at(LOG_WARN, &(struct log_ctx){db.dbname, NULL, -1}, "%s", err);
		free(err);
	}
	free(pending);
	free(state);
	plan_free(&p);
	db_close(&db);
	migset_free(&set);
	return rc;
}

static int resolve_applied(struct dbconn *db, const struct migration *m, char **err)
{
	struct ledger l;
	long n = 0;
	int rc = ledger_load(db, &l, err);

	if (rc)
		return rc;
	if (!l.exists) {
		rc = ledger_create(db, err);
		if (rc) {
			ledger_free(&l);
			return rc;
		}
	}
	for (size_t i = 0; i < l.count; i++) {
		if (strcmp(l.rows[i].migration_name, m->name) == 0 && l.rows[i].finished_at) {
			*err = xasprintf(
			    "migration %s is already recorded as applied (Prisma P3008)", m->name);
			ledger_free(&l);
			return AZ_EXIT_USAGE;
		}
	}
	ledger_free(&l);
	if (!db_command(db, "BEGIN", 0, NULL, err))
		return AZ_EXIT_UNREACHABLE;
	rc = ledger_roll_back_failed(db, m->name, &n, err);
	if (!rc)
		rc = ledger_insert_resolved(db, m->checksum, m->name, err);
	if (!rc && !db_command(db, "COMMIT", 0, NULL, err))
		rc = AZ_EXIT_INTERNAL;
	if (rc) {
		PGresult *r = PQexec(db->pg, "ROLLBACK");
		PQclear(r);
		return rc;
	}
	if (n)
		log_at(LOG_INFO, &(struct log_ctx){db->dbname, m->name, -1},
		       "marked %ld failed row%s of %s as rolled back", n, n == 1 ? "" : "s",
		       m->name);
	return AZ_EXIT_OK;
}

static int resolve_rolled_back(struct dbconn *db, const char *name, char **err)
{
	struct ledger l;
	size_t rows = 0, failed = 0;
	long n = 0;
	int rc = ledger_load(db, &l, err);

	if (rc)
		return rc;
	if (!l.exists) {
		ledger_free(&l);
		*err = xasprintf(
		    "database \"%s\" has no _prisma_migrations ledger; nothing to roll back",
		    db->dbname);
		return AZ_EXIT_USAGE;
	}
	for (size_t i = 0; i < l.count; i++) {
		if (strcmp(l.rows[i].migration_name, name) != 0)
			continue;
		rows++;
		failed += ledger_row_failed(&l.rows[i]);
	}
	ledger_free(&l);
	if (!rows) {
		*err = xasprintf(
		    "migration %s cannot be rolled back: it was never applied to database "
		    "\"%s\" (Prisma P3011)",
		    name, db->dbname);
		return AZ_EXIT_USAGE;
	}
	if (!failed) {
		*err = xasprintf(
		    "migration %s cannot be rolled back: it is not in a failed state (Prisma "
		    "P3012)",
		    name);
		return AZ_EXIT_USAGE;
	}
	return ledger_roll_back_failed(db, name, &n, err);
}

static int cmd_resolve(const struct config *cfg)
{
	const char *name = cfg->resolve_applied ? cfg->resolve_applied : cfg->resolve_rolled_back;
	const struct migration *m = NULL;
	const char *problem = migration_name_problem(name);
	struct migset set;
	struct dbconn db;
	char *err = NULL;
	int rc;

	if (problem)
		return fail(AZ_EXIT_USAGE, NULL,
		            xasprintf("resolve: migration name '%s': %s", name, problem));
	rc = migset_load(cfg, cfg->set, &set, &err);
	if (rc)
		return fail(rc, NULL, err);
	if (cfg->resolve_applied && !(m = migset_find(&set, name))) {
		err = xasprintf(
		    "migration %s is not in %s; pass the whole directory name (Prisma P3017)", name,
		    set.source);
		migset_free(&set);
		return fail(AZ_EXIT_USAGE, NULL, err);
	}
	rc = db_connect(cfg, cfg->database_url, NULL, false, &db, &err);
	if (rc) {
		migset_free(&set);
		return fail(rc, NULL, err);
	}
	rc = db_lock(&db, cfg->lock_timeout_s, &err);
	if (!rc)
		rc = m ? resolve_applied(&db, m, &err) : resolve_rolled_back(&db, name, &err);
	if (rc) {
		rc = fail(rc, db.dbname, err);
	} else {
		log_at(LOG_INFO, &(struct log_ctx){db.dbname, name, -1},
		       "migration %s marked as %s", name, m ? "applied" : "rolled back");
	}
	db_close(&db);
	migset_free(&set);
	return rc;
}

/* `auzdb backup [-]`: one database, now, whatever its migrations. */
static int cmd_backup(const struct config *cfg)
{
	struct dbconn db;
	char *err = NULL, *file = NULL;
	int rc;

	if (cfg->backup_stdout && isatty(STDOUT_FILENO))
		return fail(
		    AZ_EXIT_USAGE, NULL,
		    xstrdup("backup -: standard output is a terminal; redirect it to a file "
		            "or a pipe"));
	rc = db_connect(cfg, cfg->database_url, NULL, false, &db, &err);
	if (rc)
		return fail(rc, NULL, err);
	if (cfg->backup_stdout) {
		rc = backup_to_fd(cfg, &db, STDOUT_FILENO, &err);
	} else {
		struct backup_set *bs = backup_set_new(cfg);
		rc = backup_database(bs, &db, &file, &err);
		backup_set_close(bs);
		if (!rc)
			out_line("%s", file);
		free(file);
	}
	if (rc)
		rc = fail(rc, db.dbname, err);
	db_close(&db);
	return rc;
}

int cli_run(const struct config *cfg)
{
	switch (cfg->cmd) {
	case CMD_NONE:
	case CMD_HELP: cli_usage(); return AZ_EXIT_OK;
	case CMD_VERSION: cli_version(); return AZ_EXIT_OK;
	case CMD_MIGRATE: return cmd_migrate(cfg);
	case CMD_STATUS: return cfg->set_given ? cmd_status(cfg) : fleet_status(cfg, false);
	case CMD_RUN: return fleet_run(cfg);
	case CMD_TENANTS: return fleet_status(cfg, true);
	case CMD_TENANT_CREATE: return fleet_tenant_create(cfg);
	case CMD_RESOLVE: return cmd_resolve(cfg);
	case CMD_BACKUP: return cmd_backup(cfg);
	case CMD_RESTORE: return restore_run(cfg);
	case CMD_RESET:
	case CMD_RESYNC: return reset_run(cfg);
	case CMD_ADOPT: return adopt_command(cfg);
	case CMD_VERIFY: return verify_command(cfg);
	}
	return AZ_EXIT_INTERNAL;
}
