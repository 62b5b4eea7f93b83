#!/usr/bin/env bash
# Timeouts: AUZDB_DDL_LOCK_TIMEOUT makes a migration stuck behind the app's
# long transaction give up (exit 5, retryable, the table and the holder named,
# no ledger row) and the next run applies it; AUZDB_STATEMENT_TIMEOUT bounds a
# migration's statements (a genuine failure: exit 7 and a Prisma-shaped failed
# row); AUZDB_DEADLINE stops the whole run like SIGTERM (exit 10, rolled back),
# also while waiting for an unreachable server; both settings reach the
# migration's session and are reset afterwards; bad values are usage errors.
. "$(dirname "$0")/lib.sh"
export AUZDB_TENANT_DB_PREFIX="tt${RANDOM}_" AUZDB_BACKUP=never AUZDB_LOG_FORMAT=text
tset="$T_TMP/tenant"; mkdir -p "$tset"

# --- AUZDB_DDL_LOCK_TIMEOUT: the app's long transaction holds a lock on accounts
set1="$T_TMP/s1"
mkmig "$set1" 20240101000000_init 'CREATE TABLE accounts (id int PRIMARY KEY, name text);'
mkmig "$set1" 20240102000000_add_email 'ALTER TABLE accounts ADD COLUMN email text;'
db=$(newdb lock)
az migrate --database-url "$(url "$db")" --master-migrations "$set1"
expect_rc 0
q "$db" "DELETE FROM _prisma_migrations WHERE migration_name = '20240102000000_add_email'; ALTER TABLE accounts DROP COLUMN email" >/dev/null
PGAPPNAME=the_app psql -XAtq -d "$db" -c "BEGIN; SELECT count(*) FROM accounts; SELECT pg_sleep(300); COMMIT;" >/dev/null 2>&1 &
app=$!
wait_until "$db" "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'accounts' AND l.granted AND l.pid <> pg_backend_pid())"
before=$(snapshot "$db")
t0=$(ms)
AUZDB_DDL_LOCK_TIMEOUT=300ms az migrate --database-url "$(url "$db")" --master-migrations "$set1"
echo "# gave up after $(($(ms) - t0)) ms"
expect_rc 5 "lock timeout behind the app's transaction"
expect_err "migration 20240102000000_add_email gave up waiting for a lock \(lock_timeout, AUZDB_DDL_LOCK_TIMEOUT\) on table \"accounts\" \(held by pid [0-9]+, application \"the_app\"\)"
expect_err "retried on the next run"
eq "$(snapshot "$db")" "$before" "schema and ledger after the lock timeout"
pass "AUZDB_DDL_LOCK_TIMEOUT: a migration behind the app's transaction gives up, exit 5, names the table and holder, records nothing"
q "$db" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()" >/dev/null
wait $app 2>/dev/null
AUZDB_DDL_LOCK_TIMEOUT=300ms az migrate --database-url "$(url "$db")" --master-migrations "$set1"
expect_rc 0 "retry after the app's transaction ended"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20240102000000_add_email' AND finished_at IS NOT NULL")" 1 "retried migration"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NULL")" 0 "no failed row"
pass "the next run retries it and applies it exactly once"

# --- the settings reach the migration and are reset after it
set2="$T_TMP/s2"
mkmig "$set2" 20240101000000_seen "CREATE TABLE seen AS SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt;"
mkmig "$set2" 20240102000000_seen2 "CREATE TABLE seen2 AS SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt;"
db=$(newdb seen)
AUZDB_STATEMENT_TIMEOUT=2m AUZDB_DDL_LOCK_TIMEOUT=1500ms az migrate --database-url "$(url "$db")" --master-migrations "$set2"
expect_rc 0
eq "$(q "$db" "SELECT st || ' ' || lt FROM seen")" "2min 1500ms" "settings inside the migration"
eq "$(q "$db" "SELECT st || ' ' || lt FROM seen2")" "2min 1500ms" "settings inside the next migration"
db=$(newdb seen0)
AUZDB_STATEMENT_TIMEOUT=45 az migrate --database-url "$(url "$db")" --master-migrations "$set2"
expect_rc 0
eq "$(q "$db" "SELECT st || ' ' || lt FROM seen")" "45s 0" "plain seconds; no lock_timeout unless set"
pass "AUZDB_STATEMENT_TIMEOUT / AUZDB_DDL_LOCK_TIMEOUT (500ms, 30s, 2m, plain seconds) are set for each migration"

# --- AUZDB_STATEMENT_TIMEOUT: a genuine failure with a Prisma-shaped row
set3="$T_TMP/s3"
mkmig "$set3" 20240101000000_slow $'CREATE TABLE slow_t (id int);\nSELECT pg_sleep(30);\n'
db=$(newdb stmt)
AUZDB_STATEMENT_TIMEOUT=1s az migrate --database-url "$(url "$db")" --master-migrations "$set3"
expect_rc 7 "statement timeout"
expect_err "migration 20240101000000_slow failed: ERROR: canceling statement due to statement timeout \(SQLSTATE 57014\)"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename = 'slow_t'")" 0 "rolled back"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NULL AND logs LIKE '%Database error code: 57014%'")" 1 "failed row"
az migrate --database-url "$(url "$db")" --master-migrations "$set3"
expect_rc 8 "the failed row blocks the next run, as in Prisma"
pass "AUZDB_STATEMENT_TIMEOUT: a statement over the limit fails the migration (exit 7, failed row, then exit 8)"

# --- AUZDB_DEADLINE: the whole run, like SIGTERM
db=$(newdb deadline)
t0=$(ms)
AUZDB_DEADLINE=1s az run --database-url "$(url "$db")" --master-migrations "$set3" --tenant-migrations "$tset" --report "$T_TMP/d.json"
lat=$(($(ms) - t0))
echo "# deadline 1s: exit $RC after $lat ms"
expect_rc 10 "deadline"
[ $lat -lt 20000 ] || fail "deadline run took $lat ms"
expect_err "the run deadline \(AUZDB_DEADLINE\) passed"
expect_err "interrupted by deadline and rolled back"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name LIKE '%slow'")" 0 "no row after the deadline"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename = 'slow_t'")" 0 "rolled back at the deadline"
grep -q '"exit_code":10,"result":"interrupted"' "$T_TMP/d.json" || fail "report after the deadline"
pass "AUZDB_DEADLINE: the run stops like on SIGTERM (exit 10, $lat ms), rolled back, reported"

t0=$(ms)
AUZDB_DEADLINE=1 AUZDB_WAIT_TIMEOUT=120 az migrate --database-url "postgresql://postgres@127.0.0.1:1/nothing"
lat=$(($(ms) - t0))
echo "# deadline while waiting for an unreachable server: exit $RC after $lat ms"
expect_rc 10 "deadline while waiting"
expect_err "interrupted by deadline while waiting for the database"
[ $lat -lt 20000 ] || fail "waited $lat ms despite the deadline"
pass "AUZDB_DEADLINE also ends the wait for an unreachable server (exit 10, $lat ms, not AUZDB_WAIT_TIMEOUT=120)"

# --- bad values
for bad in "AUZDB_STATEMENT_TIMEOUT=abc" "AUZDB_STATEMENT_TIMEOUT=-1" "AUZDB_DDL_LOCK_TIMEOUT=10x" \
  "AUZDB_DDL_LOCK_TIMEOUT=1.5s" "AUZDB_DEADLINE=99999999999" "AUZDB_DEADLINE=5 m"; do
  env "$bad" "$AUZDB_BIN" migrate --database-url "$(url "$db")" --master-migrations "$set3" \
    > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null
  RC=$?
  expect_rc 2 "$bad"
  expect_one_line_error "${bad%%=*}="
done
pass "malformed durations are usage errors (exit 2) naming the variable"
done_testing
