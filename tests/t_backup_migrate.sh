#!/usr/bin/env bash
# Backups inside migrate and run: a database is backed up before it is
# migrated when it has pending migrations (or always / --backup-only), the
# backup is the state before the migration, and it restores.  Covers the
# AuzGuard schema with seeded data, retention, --skip-backup and the report.
. "$(dirname "$0")/lib.sh"

dir="$T_TMP/sets"
export AUZDB_BACKUP_DIR="$dir"
partial="$T_TMP/partial"; mkdir -p "$partial"
for d in $(ls "$MIGSRC/master" | grep -v toml | head -5); do cp -r "$MIGSRC/master/$d" "$partial/"; done

# AuzGuard master schema, 5 of 8 migrations, with seeded data
db=$(newdb auzguard)
az migrate --database-url "$(url "$db")" --master-migrations "$partial"; expect_rc 0
first_set=$(backup_files "$dir"); [ -n "$first_set" ] || fail "no backup before the first migration"
q "$db" "INSERT INTO policies (policy_key, version, title, jurisdiction, status, evaluation_strategy, rules, published_at)
  SELECT 'key-' || i, 'v' || (i % 3), E'Policy \"' || i || E'\"\\ttab\\nline', CASE WHEN i % 2 = 0 THEN 'EU' ELSE 'US' END,
         (ARRAY['DRAFT', 'PUBLISHED', 'ARCHIVED'])[1 + i % 3]::\"PolicyStatus\", jsonb_build_object('mode', 'all', 'i', i),
         jsonb_build_array(jsonb_build_object('id', 'r' || i, 'text', repeat('ü', i % 50))), CASE WHEN i % 4 = 0 THEN now() END
  FROM generate_series(1, 3000) i;
  INSERT INTO audit_log (rule_id, effect, payload_hash, prev_hash, redacted_payload, org_id)
  SELECT 'rule-' || i, (ARRAY['ALLOW', 'BLOCK', 'ROUTE']::\"AuditDecision\"[])[1 + i % 3], md5(i::text) || md5(i::text), repeat('0', 64),
         CASE WHEN i % 5 = 0 THEN NULL ELSE jsonb_build_object('n', i, 's', E'back\\\\slash') END, NULL
  FROM generate_series(1, 5000) i;
  INSERT INTO model_pools (name, region, tags) SELECT 'pool ' || i, 'eu-' || i, '[\"a\", \"b\"]' FROM generate_series(1, 50) i;" >/dev/null
before_schema=$(schema_dump "$db"); before_data=$(content_hashes "$db")

az migrate --database-url "$(url "$db")" --log-format text; expect_rc 0; expect_out "3 migrations applied"
expect_out "backing up to .*/$db\.sql\.gz"
file=$(backup_files "$dir" | grep -v -F "$first_set")
[ "$(echo "$file" | wc -l)" = 1 ] || fail "expected one new backup, got: $file"
grep -q '"public.policies": 3000' "$(dirname "$file")/manifest.json" || fail "manifest row count of policies"
restored=$(newdb restored)
az restore "$file" --database "$(url "$restored")"; expect_rc 0 "restore of the AuzGuard backup"
eq "$(schema_dump "$restored")" "$before_schema" "restored schema = schema before the migration"
eq "$(content_hashes "$restored")" "$before_data" "restored data = data before the migration"
az status --database-url "$(url "$restored")"; expect_rc 11
pass "AuzGuard schema with seeded data: the backup taken before migrating restores the exact pre-migration state"

# nothing pending: no backup; AUZDB_BACKUP=always: a backup anyway
n=$(backup_files "$dir" | wc -l)
az migrate --database-url "$(url "$db")"; expect_rc 0
eq "$(backup_files "$dir" | wc -l)" "$n" "backups after an up-to-date migrate"
AUZDB_BACKUP=always az migrate --database-url "$(url "$db")"; expect_rc 0
eq "$(backup_files "$dir" | wc -l)" "$((n + 1))" "backups with AUZDB_BACKUP=always"
pass "a database with nothing pending is not backed up; AUZDB_BACKUP=always backs it up anyway"

# --backup-only: every database of the fleet, nothing migrated; one set per run
export AUZDB_TENANT_DB_PREFIX="tbm${RANDOM}_"
P=$AUZDB_TENANT_DB_PREFIX
for t in one two; do createdb "$P$t"; T_DBS+=("$P$t"); done
n=$(ls "$dir" | wc -l)
az run --database-url "$(url "$db")" --backup-only --report "$T_TMP/r.json"; expect_rc 0
eq "$(q "${P}one" "SELECT count(*) FROM pg_tables WHERE tablename = '_prisma_migrations'")" 0 "tenant migrated by --backup-only"
eq "$(ls "$dir" | wc -l)" "$((n + 1))" "sets after one run"
set=$(ls -d "$dir"/[0-9]* | LC_ALL=C sort | tail -n 1)
eq "$(ls "$set" | LC_ALL=C sort | tr '\n' ' ')" "manifest.json $db.sql.gz ${P}one.sql.gz ${P}two.sql.gz " "files of the --backup-only set"
grep -q "\"backup_file\":\"$set/${P}two.sql.gz\"" "$T_TMP/r.json" || fail "report backup_file"
pass "run --backup-only backs up master and every tenant into one set, migrates nothing; the report names each file"

# run: tenants with pending migrations are backed up, then migrated
az run --database-url "$(url "$db")" --report "$T_TMP/r2.json"; expect_rc 0
eq "$(q "${P}two" "SELECT count(*) FROM _prisma_migrations")" 8 "tenant migrated"
set=$(ls -d "$dir"/[0-9]* | LC_ALL=C sort | tail -n 1)
eq "$(ls "$set" | LC_ALL=C sort | tr '\n' ' ')" "manifest.json ${P}one.sql.gz ${P}two.sql.gz " "files of the run's set (master had nothing pending)"
grep -q "\"name\":\"$db\".*\"backup_file\":null" "$T_TMP/r2.json" || fail "master backup_file in report"
pass "run backs up each tenant with pending migrations before migrating it; up-to-date master is not backed up"

# --skip-backup: loud, and nothing written
createdb "${P}three"; T_DBS+=("${P}three")
n=$(backup_files "$dir" | wc -l)
az run --database-url "$(url "$db")" --skip-backup --log-format text; expect_rc 0
expect_err "BACKUPS ARE OFF \(--skip-backup\)"
eq "$(backup_files "$dir" | wc -l)" "$n" "backups with --skip-backup"
az migrate --skip-backup --backup-only; expect_rc 2; expect_one_line_error "--backup-only with --skip-backup"
az status --skip-backup; expect_rc 2; expect_one_line_error "--skip-backup belongs to"
AUZDB_BACKUP=sometimes az migrate; expect_rc 2; expect_one_line_error "AUZDB_BACKUP=sometimes"
AUZDB_BACKUP_COMPRESSION=10 az migrate; expect_rc 2; expect_one_line_error "AUZDB_BACKUP_COMPRESSION=10"
pass "--skip-backup migrates without a backup and says so on stderr; bad backup settings exit 2"

# retention: AUZDB_BACKUP_KEEP=2 keeps the newest two sets, and leaves foreign files alone
mkdir -p "$dir/not-a-set"; touch "$dir/keep-me.txt"
sets() { ls "$dir" | grep '^[0-9]\{8\}T[0-9]\{6\}Z' | LC_ALL=C sort; }
# an unfinished set (no manifest.json, say a run killed mid-backup) is not counted and not removed
mkdir -p "$dir/20000101T000000Z"; touch "$dir/20000101T000000Z/x.sql.gz.tmp"
made=""
for i in 1 2 3; do
  AUZDB_BACKUP=always AUZDB_BACKUP_KEEP=2 az migrate --database-url "$(url "$db")"; expect_rc 0
  made="$made $(sets | grep -v '^20000101T000000Z$' | tail -n 1)"
  [ "$i" -lt 3 ] && sleep 1 # distinct UTC second stamps, so each run makes its own set
done
eq "$(sets | grep -v '^20000101T000000Z$' | tr '\n' ' ')" "$(echo "$made" | tr ' ' '\n' | tail -n 2 | tr '\n' ' ')" "the two sets kept are the two newest runs'"
[ -f "$dir/20000101T000000Z/x.sql.gz.tmp" ] || fail "retention removed an unfinished set"
[ -d "$dir/not-a-set" ] && [ -f "$dir/keep-me.txt" ] || fail "retention removed something that is not a set"
AUZDB_BACKUP=always AUZDB_BACKUP_KEEP=1 az migrate --database-url "$(url "$db")"; expect_rc 0
eq "$(sets | grep -vc '^20000101T000000Z$')" 1 "sets kept with AUZDB_BACKUP_KEEP=1"
AUZDB_BACKUP=always AUZDB_BACKUP_KEEP=0 az migrate --database-url "$(url "$db")"; expect_rc 0
eq "$(sets | grep -vc '^20000101T000000Z$')" 2 "sets kept with AUZDB_BACKUP_KEEP=0 (all)"
for bad in -1 two 1.5; do
  AUZDB_BACKUP=always AUZDB_BACKUP_KEEP=$bad az migrate --database-url "$(url "$db")"; expect_rc 2; expect_one_line_error "AUZDB_BACKUP_KEEP=$bad"
done
eq "$(sets | grep -vc '^20000101T000000Z$')" 2 "sets after refused AUZDB_BACKUP_KEEP values"
pass "AUZDB_BACKUP_KEEP=N keeps the N newest complete sets (2, then 1; 0 keeps all), leaves unfinished sets and foreign files alone; bad values exit 2"
done_testing
