#!/usr/bin/env bash
# Migration files Prisma accepts that need care: empty files, a UTF-8 BOM,
# CREATE INDEX CONCURRENTLY, scripts with their own BEGIN/COMMIT, session
# settings that must not leak, and Prisma's (locale-aware) order.
. "$(dirname "$0")/lib.sh"

set="$T_TMP/set"
mkmig "$set" 20240101000000_a 'CREATE TABLE a (id int, v text);'
mkmig "$set" 20240102000000_empty ''
printf '\xef\xbb\xbfCREATE TABLE bom (id int);\n' > "$T_TMP/bom.sql"; mkdir -p "$set/20240103000000_bom"; cp "$T_TMP/bom.sql" "$set/20240103000000_bom/migration.sql"
mkmig "$set" 20240104000000_idx 'CREATE INDEX CONCURRENTLY a_v_idx ON a (v);'
mkmig "$set" 20240105000000_own $'BEGIN;\nCREATE TABLE own1 (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE own2 (id int);\nCOMMIT;\n'
mkmig "$set" 20240106000000_settings $'SET lock_timeout = \'1234ms\';\nSET search_path = pg_catalog;\nCREATE TABLE public.s1 (id int);\n'
mkmig "$set" 20240107000000_after 'CREATE TABLE leak AS SELECT current_setting($$lock_timeout$$) AS lt, current_setting($$search_path$$) AS sp;'
mkmig "$set" 20240108000000_func $'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$;\nCREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n'
db=$(newdb)
az migrate --database-url "$(url "$db")" --master-migrations "$set" --log-format text
expect_rc 0
expect_out "applying 20240104000000_idx outside a transaction \(CONCURRENTLY\)"
expect_out "applying 20240105000000_own outside a transaction \(BEGIN\)"
grep -q "20240108000000_func outside" "$T_TMP/.az_out" && fail "dollar-quoted BEGIN/END taken as transaction control"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND applied_steps_count = 1")" 8 "finished rows"
pass "empty, BOM, CONCURRENTLY, own BEGIN/COMMIT and function bodies all apply"

eq "$(q "$db" "SELECT checksum FROM _prisma_migrations WHERE migration_name = '20240102000000_empty'")" \
   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "empty checksum"
pass "empty migration.sql is recorded with sha256 of nothing"
eq "$(q "$db" "SELECT checksum FROM _prisma_migrations WHERE migration_name = '20240103000000_bom'")" \
   "$(sha256sum "$T_TMP/bom.sql" | cut -d' ' -f1)" "BOM checksum"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename = 'bom'")" 1 "bom table"
pass "BOM file: checksum over the file's bytes, BOM not sent to the server"
eq "$(q "$db" "SELECT indisvalid FROM pg_index WHERE indexrelid = 'a_v_idx'::regclass")" t "concurrent index"
pass "a lone CREATE INDEX CONCURRENTLY builds a valid index"
eq "$(q "$db" "SELECT lt || '|' || sp FROM leak")" '0|"public"' "settings seen by the next migration"
pass "SET in one migration does not leak into the next (RESET ALL between migrations)"

# a failing own-transaction script is recorded as failed and leaves the session usable
set2="$T_TMP/set2"; cp -r "$set" "$set2"
mkmig "$set2" 20240109000000_bad $'BEGIN;\nCREATE TABLE half (id int);\nSELECT 1/0;\nCOMMIT;\n'
az migrate --database-url "$(url "$db")" --master-migrations "$set2"
expect_rc 7; expect_one_line_error "20240109000000_bad failed.*division by zero"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename = 'half'")" 0 "half table"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20240109000000_bad' AND finished_at IS NULL AND logs LIKE '%22012%'")" 1 "failed row"
pass "own-transaction script failing inside BEGIN: rolled back, failed row recorded, exit 7"

# Prisma's order: ICU collation, not bytes (names from the reference's examples)
ord="$T_TMP/order"
names=("2024010100000_short" "20240101000000 copy" "20240101000000_a" "20240101000000_A" "20240101000000_a copy" "20240101000000_a_b" "20240101000000_ab" "20240101000000-x" "20250625_x" "20250625123456_y")
mkmig "$ord" 00000000000000_init 'CREATE TABLE seen (n serial, name text);'
for i in 9 3 7 0 5 1 8 2 6 4; do
  mkmig "$ord" "${names[$i]}" "INSERT INTO seen (name) VALUES ('${names[$i]}');"
done
db=$(newdb order)
az migrate --database-url "$(url "$db")" --master-migrations "$ord"; expect_rc 0
got=$(q "$db" "SELECT string_agg(name, '/' ORDER BY n) FROM seen")
want=$(IFS=/; echo "${names[*]}")
eq "$got" "$want" "order"
pass "migrations run in Prisma's order (locale-aware: '_' < '-' < digits < letters, lowercase first)"
done_testing
