/* cli.c - see cli.h */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "cmd_adopt.h"
#include "cmd_backup.h"
#include "cmd_migrate.h"
#include "cmd_reset.h"
#include "cmd_restore.h"
#include "cmd_run.h"
#include "exitcodes.h"
#include "log.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#ifndef AUZDB_VERSION
#define AUZDB_VERSION "unknown"
#endif

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

int cli_run(const struct config *cfg)
{
	switch (cfg->cmd) {
	case CMD_NONE:
	case CMD_HELP: cli_usage(); return AZ_EXIT_OK;
	case CMD_VERSION: cli_version(); return AZ_EXIT_OK;
	case CMD_MIGRATE: return cmd_migrate(cfg);
	case CMD_STATUS: return cfg->set_given ? cmd_status_one(cfg) : cmd_fleet_status(cfg, false);
	case CMD_RUN: return cmd_run(cfg);
	case CMD_TENANTS: return cmd_fleet_status(cfg, true);
	case CMD_TENANT_CREATE: return cmd_tenant_create(cfg);
	case CMD_RESOLVE: return cmd_resolve(cfg);
	case CMD_BACKUP: return cmd_backup(cfg);
	case CMD_RESTORE: return cmd_restore(cfg);
	case CMD_RESET:
	case CMD_RESYNC: return reset_run(cfg);
	case CMD_ADOPT: return cmd_adopt(cfg);
	case CMD_VERIFY: return cmd_verify(cfg);
	}
	return AZ_EXIT_INTERNAL;
}
