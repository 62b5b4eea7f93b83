#!/usr/bin/env bash
# Signals: SIGTERM/SIGINT during a long migration, a backup and a fleet run
# stop auzdb with exit 10: the open transaction is rolled back, the ledger has
# no row for the interrupted migration, the advisory lock is released, no
# backup file sits under a final name, tenants not started are untouched, and
# the report and termination message say "interrupted".  A second signal exits
# at once; a query that swallows the cancel is cut off by the grace period.
# The same holds as PID 1 of a PID namespace (kernel ignores SIG_DFL there).
# Stop latencies are measured and printed; only a loose bound is asserted.
. "$(dirname "$0")/lib.sh"
export AUZDB_TENANT_DB_PREFIX="ts${RANDOM}_" AUZDB_TERMINATION_LOG="$T_TMP/termlog"
P=$AUZDB_TENANT_DB_PREFIX
LOOSE_BOUND_MS=10000

# sleeping DB: a backend of DB is inside pg_sleep
sleeping() { wait_until "$1" "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '$1' AND query ~ 'pg_sleep' AND state = 'active' AND wait_event = 'PgSleep')"; }
# stop_and_wait PID SIG: sends SIG, waits, sets RC and LAT (ms)
stop_and_wait() {
  local t0; t0=$(ms)
  kill -"$2" "$1"
  wait "$1"; RC=$?
  LAT=$(($(ms) - t0))
}
no_lock() { wait_until "$1" "SELECT NOT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.objid = 72707369 AND d.datname = '$1')"; }

# a master set whose second migration sleeps as long as the database says
mset="$T_TMP/master"; tset="$T_TMP/tenant"
mkmig "$mset" 20240101000000_first 'CREATE TABLE first_t (id int);'
mkmig "$mset" 20240102000000_slow $'CREATE TABLE slow_t (id int);\nSELECT pg_sleep(coalesce(nullif(current_setting(\'auzdb_test.sleep\', true), \'\'), \'0\')::float);\n'
mkmig "$tset" 20240101000000_tinit $'CREATE TABLE tenant_t (id int);\nSELECT pg_sleep(coalesce(nullif(current_setting(\'auzdb_test.sleep\', true), \'\'), \'0\')::float);\n'

for sig in TERM INT; do
  master=$(newdb "m$sig")
  q "$master" "ALTER DATABASE \"$master\" SET auzdb_test.sleep = '120'" >/dev/null
  rm -f "$T_TMP/termlog" "$T_TMP/report.json"
  "$AUZDB_BIN" run --database-url "$(url "$master")" --master-migrations "$mset" --tenant-migrations "$tset" \
    --report "$T_TMP/report.json" --log-format text > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null &
  pid=$!
  sleeping "$master"
  stop_and_wait $pid $sig
  echo "# SIG$sig during a long migration: exit $RC after $LAT ms"
  expect_rc 10 "SIG$sig during a migration"
  [ "$LAT" -lt $LOOSE_BOUND_MS ] || fail "SIG$sig: took $LAT ms to stop"
  expect_err "received SIG$sig"
  expect_err "migration 20240102000000_slow interrupted by SIG$sig and rolled back"
  eq "$(q "$master" "SELECT string_agg(migration_name || ':' || (finished_at IS NOT NULL), ',' ORDER BY migration_name) FROM _prisma_migrations")" \
    "20240101000000_first:true" "ledger after SIG$sig"
  eq "$(q "$master" "SELECT count(*) FROM pg_tables WHERE tablename = 'slow_t'")" 0 "slow_t rolled back"
  no_lock "$master"
  grep -q '"exit_code":10,"result":"interrupted"' "$T_TMP/report.json" || fail "report result"
  grep -q '"state_after":"interrupted"' "$T_TMP/report.json" || fail "report state_after"
  eq "$(stat -c %a "$T_TMP/report.json")" 600 "report mode"
  grep -q "^auzdb run: interrupted (exit 10)" "$T_TMP/termlog" || fail "termination message: $(cat "$T_TMP/termlog")"
  q "$master" "ALTER DATABASE \"$master\" SET auzdb_test.sleep = '0'" >/dev/null
  az run --database-url "$(url "$master")" --master-migrations "$mset" --tenant-migrations "$tset"
  expect_rc 0 "the run after SIG$sig"
  eq "$(q "$master" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 2 "ledger after the rerun"
  pass "SIG$sig during a long migration: exit 10 ($LAT ms), rolled back, no ledger row, lock released, report + termination message; the next run finishes"
done

# SIGTERM during `migrate` (no report): same rollback, exit 10
master=$(newdb mmig)
q "$master" "ALTER DATABASE \"$master\" SET auzdb_test.sleep = '120'" >/dev/null
"$AUZDB_BIN" migrate --database-url "$(url "$master")" --master-migrations "$mset" > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null &
pid=$!
sleeping "$master"
stop_and_wait $pid TERM
echo "# SIGTERM during migrate: exit $RC after $LAT ms"
expect_rc 10 "SIGTERM during migrate"
eq "$(q "$master" "SELECT count(*) FROM _prisma_migrations WHERE migration_name LIKE '%slow'")" 0 "no row for the slow migration"
no_lock "$master"
pass "SIGTERM during migrate: exit 10 ($LAT ms), nothing recorded for the interrupted migration"

# SIGTERM during a fleet run: the tenant in progress rolls back, tenants not started are untouched
master=$(newdb mfleet)
for t in a b c d e; do createdb "$P$t" || fail "createdb"; T_DBS+=("$P$t"); q "$P$t" "ALTER DATABASE \"$P$t\" SET auzdb_test.sleep = '120'" >/dev/null; done
declare -A snap
for t in a b c d e; do snap[$t]=$(snapshot "$P$t"); done
rm -f "$T_TMP/report.json"
AUZDB_BACKUP=never "$AUZDB_BIN" run --database-url "$(url "$master")" --master-migrations "$mset" --tenant-migrations "$tset" \
  --concurrency 1 --report "$T_TMP/report.json" > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null &
pid=$!
wait_until postgres "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname LIKE '${P}%' AND wait_event = 'PgSleep')"
busy=$(q postgres "SELECT datname FROM pg_stat_activity WHERE datname LIKE '${P}%' AND wait_event = 'PgSleep'")
stop_and_wait $pid TERM
echo "# SIGTERM during a fleet run: exit $RC after $LAT ms"
expect_rc 10 "SIGTERM during a fleet run"
eq "$(q "$master" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 2 "master migrated before the signal"
untouched=0
for t in a b c d e; do
  if [ "$P$t" = "$busy" ]; then
    eq "$(q "$P$t" "SELECT count(*) FROM _prisma_migrations")" 0 "interrupted tenant's ledger"
    eq "$(q "$P$t" "SELECT count(*) FROM pg_tables WHERE tablename = 'tenant_t'")" 0 "interrupted tenant's table"
  else
    eq "$(snapshot "$P$t")" "${snap[$t]}" "tenant $t not started"
    untouched=$((untouched + 1))
  fi
done
eq "$untouched" 4 "tenants not started"
eq "$(grep -o '"state_after":"not attempted"' "$T_TMP/report.json" | wc -l)" 4 "not attempted in the report"
grep -q '"exit_code":10,"result":"interrupted"' "$T_TMP/report.json" || fail "fleet report result"
pass "SIGTERM during a fleet run: exit 10 ($LAT ms), the running tenant rolled back, the 4 not started are untouched and reported 'not attempted'"

# SIGTERM during a backup: no file under a final name, no temp file left
big=$(newdb big)
q "$big" "CREATE TABLE big AS SELECT i, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text) AS pad FROM generate_series(1, 1500000) i" >/dev/null
bdir="$T_TMP/bk"
AUZDB_BACKUP_DIR="$bdir" AUZDB_BACKUP_COMPRESSION=9 "$AUZDB_BIN" backup --database-url "$(url "$big")" \
  > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null &
pid=$!
for _ in $(seq 1 600); do [ -n "$(find "$bdir" -name '*.tmp' 2>/dev/null)" ] && break; sleep 0.05; done
[ -n "$(find "$bdir" -name '*.tmp' 2>/dev/null)" ] || fail "the backup never started writing"
stop_and_wait $pid TERM
echo "# SIGTERM during a backup: exit $RC after $LAT ms"
expect_rc 10 "SIGTERM during a backup"
eq "$(find "$bdir" -name '*.sql.gz*' | wc -l)" 0 "backup files left (final or temp)"
pass "SIGTERM during a backup: exit 10 ($LAT ms), no backup file under its final name and no temp file"

# a query that swallows the cancel: the grace period ends it; a second signal ends it at once
stubborn="$T_TMP/stubborn"
mkmig "$stubborn" 20240101000000_stubborn $'CREATE TABLE st (id int);\nDO $$ BEGIN LOOP BEGIN PERFORM pg_sleep(60); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$;\n'
for mode in second grace; do
  db=$(newdb "st$mode")
  AUZDB_BACKUP=never "$AUZDB_BIN" migrate --database-url "$(url "$db")" --master-migrations "$stubborn" \
    > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null &
  pid=$!
  sleeping "$db"
  t0=$(ms)
  kill -TERM $pid
  if [ $mode = second ]; then
    sleep 0.5 # the first cancel is swallowed by the migration
    t1=$(ms); kill -TERM $pid
  fi
  wait $pid; RC=$?
  now=$(ms)
  q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db'" >/dev/null
  expect_rc 10 "$mode signal"
  if [ $mode = second ]; then
    echo "# second signal: exit $RC $((now - t1)) ms after it"
    expect_err "second signal: exiting now"
    pass "a second signal exits at once with 10 ($((now - t1)) ms)"
  else
    echo "# cancel swallowed: exit $RC after $((now - t0)) ms (grace period)"
    expect_err "still stopping after the grace period"
    pass "a query that ignores the cancel is cut off by the grace period: exit 10 ($((now - t0)) ms)"
  fi
done

# PID 1 in a PID namespace: the kernel drops signals whose handler is SIG_DFL there
if unshare -fp --mount-proc true 2>/dev/null; then
  master=$(newdb mpid1)
  q "$master" "ALTER DATABASE \"$master\" SET auzdb_test.sleep = '120'" >/dev/null
  unshare -fp --mount-proc "$AUZDB_BIN" migrate --database-url "$(url "$master")" --master-migrations "$mset" \
    > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null &
  upid=$!
  sleeping "$master"
  child=$(pgrep -P $upid | head -1)
  [ -n "$child" ] || fail "no auzdb under unshare"
  eq "$(awk '/^NSpid/ {print $NF}' "/proc/$child/status")" 1 "auzdb's pid inside its namespace"
  t0=$(ms); kill -TERM "$child"; wait $upid; RC=$?; LAT=$(($(ms) - t0))
  echo "# SIGTERM to PID 1: exit $RC after $LAT ms"
  expect_rc 10 "SIGTERM to auzdb as PID 1"
  eq "$(q "$master" "SELECT count(*) FROM _prisma_migrations WHERE migration_name LIKE '%slow'")" 0 "PID 1: no row for the slow migration"
  pass "as PID 1 of a PID namespace SIGTERM is not ignored: exit 10 ($LAT ms), rolled back"
else
  echo "# unshare -fp not permitted here: PID 1 case skipped"
fi
done_testing
