#!/usr/bin/env bash
# auzdb reads every ledger state Prisma can leave behind.  The fixtures are
# the rows Prisma writes (see docs/prisma-compat.md): failed rows, rolled-back
# rows, rows from `resolve --applied`, rows with no local migration, legacy
# checksums, CRLF files.
. "$(dirname "$0")/lib.sh"

set_dir="$T_TMP/set"
mkmig "$set_dir" 20240101000000_a 'CREATE TABLE a (id int);'
mkmig "$set_dir" 20240102000000_b 'CREATE TABLE b (id int);'
mkmig "$set_dir" 20240103000000_c 'CREATE TABLE c (id int);'
sum() { sha256sum "$set_dir/$1/migration.sql" | cut -d' ' -f1; }
ledger_ddl='CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_steps_count INTEGER NOT NULL DEFAULT 0);'
prisma_row() { # db name checksum finished(0/1) rolled_back(0/1) logs
  local fin=NULL rb=NULL
  [ "$4" = 1 ] && fin="now()"; [ "$5" = 1 ] && rb="now()"
  q "$1" "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count) VALUES (gen_random_uuid()::text, '$3', $fin, '$2', $6, $rb, clock_timestamp(), $([ "$4" = 1 ] && echo 1 || echo 0))" >/dev/null
}

# 1. a failed row (Prisma P3018 left it): migrate and status refuse, exit 8
db=$(newdb failed)
q "$db" "$ledger_ddl CREATE TABLE a (id int);" >/dev/null
prisma_row "$db" 20240101000000_a "$(sum 20240101000000_a)" 1 0 NULL
prisma_row "$db" 20240102000000_b "$(sum 20240102000000_b)" 0 0 "'A migration failed to apply.'"
before=$(snapshot "$db")
az migrate --database-url "$(url "$db")" --master-migrations "$set_dir"
expect_rc 8; expect_one_line_error "P3009.*20240102000000_b.*resolve --rolled-back"
eq "$(snapshot "$db")" "$before" "after refused migrate"
az status --database-url "$(url "$db")" --master-migrations "$set_dir" --log-format json
expect_rc 8; expect_out '"detail":"[^"]*failed: 20240102000000_b \(started at'
pass "failed row: migrate refuses (exit 8, nothing changed), status exit 8 names it"

# 2. resolve --rolled-back, then migrate re-applies it as a new row
az resolve --rolled-back 20240102000000_b --database-url "$(url "$db")" --master-migrations "$set_dir"; expect_rc 0
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20240102000000_b' AND rolled_back_at IS NOT NULL AND finished_at IS NULL")" 1 "rolled back row"
az migrate --database-url "$(url "$db")" --master-migrations "$set_dir"; expect_rc 0
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20240102000000_b'")" 2 "rows of b"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 3 "finished rows"
pass "rolled-back row + same name locally: re-applied as a new row"

# 3. rows written by `prisma migrate resolve --applied` count as applied
db=$(newdb resolved)
q "$db" "$ledger_ddl CREATE TABLE a (id int);" >/dev/null
q "$db" "INSERT INTO _prisma_migrations (id, checksum, logs, started_at, finished_at, migration_name) VALUES (gen_random_uuid()::text, '$(sum 20240101000000_a)', '', now(), now(), '20240101000000_a')" >/dev/null
az migrate --database-url "$(url "$db")" --master-migrations "$set_dir" --log-format text
expect_rc 0; expect_out "2 migrations applied"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20240101000000_a'")" 1 "a not re-run"
pass "resolve --applied rows (logs '', steps 0) are treated as applied"

# 4. a row with no local migration: reported, pending ones still applied
db=$(newdb unknown)
q "$db" "$ledger_ddl CREATE TABLE a (id int);" >/dev/null
prisma_row "$db" 20240101000000_a "$(sum 20240101000000_a)" 1 0 NULL
prisma_row "$db" 20231231000000_gone "abc" 1 0 NULL
az migrate --database-url "$(url "$db")" --master-migrations "$set_dir" --log-format text
expect_rc 0; expect_err "20231231000000_gone is recorded as applied but is not in"
az status --database-url "$(url "$db")" --master-migrations "$set_dir" --log-format text
expect_rc 0; expect_out "not found locally: 20231231000000_gone"
pass "rows with no local migration: reported, not fatal"

# 5. legacy checksum (not zero-padded hex) and CRLF/LF edits are not drift
db=$(newdb legacy)
q "$db" "$ledger_ddl CREATE TABLE a (id int); CREATE TABLE b (id int);" >/dev/null
legacy=""; full=$(sha256sum "$set_dir/20240101000000_a/migration.sql" | cut -d' ' -f1)
for ((i = 0; i < 64; i += 2)); do legacy+=$(printf '%x' $((16#${full:i:2}))); done
[ ${#legacy} -lt 64 ] || fail "fixture: this checksum has no byte below 0x10; pick other content"
prisma_row "$db" 20240101000000_a "$legacy" 1 0 NULL
printf 'CREATE TABLE b (id int);\r\n' > "$T_TMP/crlf.sql"
prisma_row "$db" 20240102000000_b "$(sha256sum "$T_TMP/crlf.sql" | cut -d' ' -f1)" 1 0 NULL
mkmig "$T_TMP/set5" 20240101000000_a 'CREATE TABLE a (id int);'
printf 'CREATE TABLE b (id int);\n' > "$T_TMP/set5/lf.sql"; mkdir -p "$T_TMP/set5/20240102000000_b"; mv "$T_TMP/set5/lf.sql" "$T_TMP/set5/20240102000000_b/migration.sql"
az status --database-url "$(url "$db")" --master-migrations "$T_TMP/set5" --log-format text
expect_rc 0; expect_out "drift 0"
pass "legacy short checksums and CRLF->LF conversions are not reported as edits"

# 6. an edited applied file is drift: exit 8, unless --allow-checksum-mismatch
mkmig "$T_TMP/set5" 20240101000000_a 'CREATE TABLE a (id int, extra int);'
before=$(snapshot "$db")
az migrate --database-url "$(url "$db")" --master-migrations "$T_TMP/set5"
expect_rc 8; expect_one_line_error "checksum mismatch.*20240101000000_a"
eq "$(snapshot "$db")" "$before" "after drift refusal"
az status --database-url "$(url "$db")" --master-migrations "$T_TMP/set5" --log-format text
expect_rc 8; expect_out "checksum drift: 20240101000000_a"
az migrate --database-url "$(url "$db")" --master-migrations "$T_TMP/set5" --allow-checksum-mismatch
expect_rc 0; expect_err "edited after it was applied"
pass "edited applied migration: exit 8 unless --allow-checksum-mismatch"

# 7. resolve --applied writes Prisma's row shape and refuses twice / unknown names
db=$(newdb resolve)
az resolve --applied 20240101000000_a --database-url "$(url "$db")" --master-migrations "$set_dir"; expect_rc 0
row=$(q "$db" "SELECT checksum = '$(sum 20240101000000_a)', logs = '', started_at = finished_at, applied_steps_count, rolled_back_at IS NULL FROM _prisma_migrations")
eq "$row" "t|t|t|0|t" "resolve row"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename = 'a'")" 0 "resolve ran no SQL"
az resolve --applied 20240101000000_a --database-url "$(url "$db")" --master-migrations "$set_dir"
expect_rc 2; expect_one_line_error "already recorded as applied"
az resolve --applied 20240109_nope --database-url "$(url "$db")" --master-migrations "$set_dir"
expect_rc 2; expect_one_line_error "20240109_nope is not in"
az resolve --rolled-back 20240101000000_a --database-url "$(url "$db")" --master-migrations "$set_dir"
expect_rc 2; expect_one_line_error "not in a failed state"
az resolve --rolled-back 20240103000000_c --database-url "$(url "$db")" --master-migrations "$set_dir"
expect_rc 2; expect_one_line_error "never applied"
pass "resolve: Prisma's row shape; P3008/P3017/P3011/P3012 cases refused with exit 2"
done_testing
