#!/usr/bin/env bash
# Bad migration sets, SQL errors, schemas without a ledger, a held lock:
# each gives one error line, the documented exit code, and no partial change.
. "$(dirname "$0")/lib.sh"

good="$T_TMP/good"
mkmig "$good" 20240101000000_a 'CREATE TABLE a (id int);'
mkmig "$good" 20240102000000_b 'CREATE TABLE b (id int);'

# -- sets refused before any database is touched (exit 2, no change)
db=$(newdb sets)
before=$(snapshot "$db")
az migrate --database-url "$(url "$db")" --master-migrations "$T_TMP/none"
expect_rc 2; expect_one_line_error "migrations directory .*/none: No such file"
cp -r "$good" "$T_TMP/nosql"; mkdir -p "$T_TMP/nosql/20240103000000_c"
az migrate --database-url "$(url "$db")" --master-migrations "$T_TMP/nosql"
expect_rc 2; expect_one_line_error "20240103000000_c has no migration.sql"
cp -r "$good" "$T_TMP/latin1"; mkdir -p "$T_TMP/latin1/20240103000000_c"; printf "INSERT INTO a VALUES (1); -- caf\xe9\n" > "$T_TMP/latin1/20240103000000_c/migration.sql"
az migrate --database-url "$(url "$db")" --master-migrations "$T_TMP/latin1"
expect_rc 2; expect_one_line_error "20240103000000_c: migration.sql is not valid UTF-8"
cp -r "$good" "$T_TMP/badname"; mkmig "$T_TMP/badname" "20240103000000_caf$(printf '\xc3\xa9')" 'SELECT 1;'
az migrate --database-url "$(url "$db")" --master-migrations "$T_TMP/badname"
expect_rc 2; expect_one_line_error "outside printable ASCII"
cp -r "$good" "$T_TMP/mysql"; printf 'provider = "mysql"\n' > "$T_TMP/mysql/migration_lock.toml"
az migrate --database-url "$(url "$db")" --master-migrations "$T_TMP/mysql"
expect_rc 2; expect_one_line_error "provider is 'mysql'.*P3019"
eq "$(snapshot "$db")" "$before" "database after refused sets"
pass "missing dir, dir without migration.sql, invalid UTF-8, non-ASCII name, wrong provider: exit 2, no change"

# -- an SQL error in the middle of a multi-statement migration
set="$T_TMP/err"; cp -r "$good" "$set"
mkmig "$set" 20240103000000_c $'CREATE TABLE c1 (id int);\nINSERT INTO c1 VALUES (1);\nINSERT INTO nonexistent VALUES (1);\nCREATE TABLE c2 (id int);\n'
mkmig "$set" 20240104000000_d 'CREATE TABLE d (id int);'
db=$(newdb sqlerr)
az migrate --database-url "$(url "$db")" --master-migrations "$set"
expect_rc 7; expect_one_line_error "20240103000000_c failed at line 3: ERROR: relation .{1,2}nonexistent.{1,2} does not exist \(SQLSTATE 42P01\)"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename IN ('c1', 'c2', 'd')")" 0 "tables of the failed migration"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename IN ('a', 'b')")" 2 "earlier migrations"
row=$(q "$db" "SELECT finished_at IS NULL, rolled_back_at IS NULL, applied_steps_count, logs LIKE 'A migration failed to apply.%Migration name: 20240103000000_c%Database error code: 42P01%relation \"nonexistent\" does not exist%' FROM _prisma_migrations WHERE migration_name = '20240103000000_c'")
eq "$row" "t|t|0|t" "failed row"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20240104000000_d'")" 0 "later migration"
pass "SQL error mid-migration: nothing of it remains, Prisma-shaped failed row, later ones untouched, exit 7"

before=$(snapshot "$db")
az migrate --database-url "$(url "$db")" --master-migrations "$set"
expect_rc 8; expect_one_line_error "P3009.*20240103000000_c"
eq "$(snapshot "$db")" "$before" "after the refused re-run"
pass "next run after a failure: exit 8, no change"

mkmig "$set" 20240103000000_c $'CREATE TABLE c1 (id int);\nINSERT INTO c1 VALUES (1);\nCREATE TABLE c2 (id int);\n'
az resolve --rolled-back 20240103000000_c --database-url "$(url "$db")" --master-migrations "$set"; expect_rc 0
az migrate --database-url "$(url "$db")" --master-migrations "$set"; expect_rc 0
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename IN ('c1', 'c2', 'd')")" 3 "tables after the fix"
az status --database-url "$(url "$db")" --master-migrations "$set"; expect_rc 0
pass "resolve --rolled-back + fixed file: re-applied, status up to date"

# -- tables but no ledger (Prisma P3005): refused, no ledger created
db=$(newdb noledger)
q "$db" "CREATE TABLE users (id int); CREATE TABLE policies (id int);" >/dev/null
before=$(snapshot "$db")
az migrate --database-url "$(url "$db")" --master-migrations "$good"
expect_rc 8; expect_one_line_error "2 tables \(policies, users\) but no _prisma_migrations ledger"
eq "$(snapshot "$db")" "$before" "after P3005 refusal"
az status --database-url "$(url "$db")" --master-migrations "$good"; expect_rc 8
pass "non-empty schema without a ledger: exit 8, nothing created"
# views and tables in other schemas do not count (as in Prisma)
db=$(newdb views)
q "$db" "CREATE VIEW v AS SELECT 1 AS x; CREATE SCHEMA other; CREATE TABLE other.t (id int);" >/dev/null
az migrate --database-url "$(url "$db")" --master-migrations "$good"; expect_rc 0
pass "views and other schemas' tables do not block a fresh ledger"

# -- the lock held by another session: exit 5 after the wait, nothing applied
db=$(newdb lock)
mkfifo "$T_TMP/hold"
( { echo "SELECT pg_advisory_lock(72707369);"; echo "SELECT 'locked';"; cat "$T_TMP/hold"; } | psql -XAtq -d "$db" > "$T_TMP/holder.out" ) &
holder=$!
for _ in $(seq 1 50); do grep -q locked "$T_TMP/holder.out" 2>/dev/null && break; sleep 0.1; done
start=$(date +%s)
az migrate --database-url "$(url "$db")" --master-migrations "$good" --lock-timeout 2
end=$(date +%s)
expect_rc 5; expect_one_line_error "migration lock 72707369 .* not acquired within 2s \(held by pid [0-9]+"
[ $((end - start)) -ge 2 ] || fail "gave up after $((end - start))s, before the timeout"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "tables while locked"
echo > "$T_TMP/hold"; wait $holder
az migrate --database-url "$(url "$db")" --master-migrations "$good"; expect_rc 0
pass "lock held by another session: exit 5 after --lock-timeout, nothing applied; next run succeeds"

# auzdb releases its lock: a second run right after never waits
az migrate --database-url "$(url "$db")" --master-migrations "$good" --lock-timeout 0; expect_rc 0
pass "lock released at the end of a run"
done_testing
