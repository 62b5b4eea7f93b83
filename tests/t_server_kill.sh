#!/usr/bin/env bash
# The server dies mid-run (`pg_ctl stop -m immediate`, i.e. a crash) while
# auzdb is inside a long migration, and while a fleet run is inside a
# tenant: auzdb exits with the retryable code 3 (in the fleet run every
# unreachable tenant is reported as 3, and the run exits 3, not 9), nothing half-applied survives crash recovery, no
# failed row is left behind, and once the server is back the next run
# finishes the job with every migration recorded exactly once.
# The test kills a private server of its own (tests/pgserver.sh in its temp
# dir), so the shared fixture server is never touched; a trap stops and
# deletes the private one whatever happens.
. "$(dirname "$0")/lib.sh"
PRIV="$T_TMP/pg"
bash "$(dirname "$0")/pgserver.sh" start "$PRIV" >/dev/null || fail "cannot start a private server"
priv_cleanup() { bash "$(dirname "$0")/pgserver.sh" stop "$PRIV" >/dev/null 2>&1; rm -rf "$T_TMP"; }
trap priv_cleanup EXIT
# shellcheck disable=SC1091
. "$PRIV/env"
export PGHOST PGPORT PGUSER
# the fixture trades durability for speed (synchronous_commit = off): a crash
# could then lose commits the test has seen, so this server commits for real
psql -XAtq -d postgres -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null || fail "synchronous_commit"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
crash() { as_pg "$PGTEST_BINDIR/pg_ctl" -D "$PGTEST_DATA" -m immediate -w stop >/dev/null 2>&1 || fail "pg_ctl stop"; }
restart() { as_pg "$PGTEST_BINDIR/pg_ctl" -D "$PGTEST_DATA" -l "$PGTEST_BASE/server.log" -w -t 60 start >/dev/null || fail "pg_ctl start"; }
export AUZDB_TENANT_DB_PREFIX="tk${RANDOM}_" AUZDB_LOG_FORMAT=text AUZDB_WAIT_TIMEOUT=2 AUZDB_TERMINATION_LOG=
P=$AUZDB_TENANT_DB_PREFIX
SLEEP="SELECT pg_sleep(coalesce(nullif(current_setting('auzdb_test.sleep', true), ''), '0')::float);"
mset="$T_TMP/master"; tset="$T_TMP/tenant"
mkmig "$mset" 20240101000000_first 'CREATE TABLE first_t (id int);'
mkmig "$mset" 20240102000000_slow "CREATE TABLE slow_t (id int); INSERT INTO slow_t SELECT generate_series(1, 1000); $SLEEP"
mkmig "$mset" 20240103000000_last 'CREATE TABLE last_t (id int);'
mkmig "$tset" 20240101000000_t1 'CREATE TABLE t1 (id int);'
mkmig "$tset" 20240102000000_t2 "CREATE TABLE t2 (id int); $SLEEP"

consistent() { # DB NMIG: every finished row's table exists, nothing else, no failed row
  eq "$(q "$1" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NULL")" 0 "$1: unfinished or failed rows"
  eq "$(q "$1" "SELECT count(*) || '/' || count(DISTINCT migration_name) FROM _prisma_migrations")" "$2/$2" "$1: ledger rows"
}

# 1. crash inside a long master migration
master=$(newdb master)
q "$master" "ALTER DATABASE \"$master\" SET auzdb_test.sleep = '120'" >/dev/null
"$AUZDB_BIN" run --database-url "$PGTEST_URL/$master" --master-migrations "$mset" --tenant-migrations "$tset" \
  > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null &
pid=$!
wait_until "$master" "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '$master' AND wait_event = 'PgSleep')"
crash
wait $pid; RC=$?
expect_rc 3 "server crashed during a migration"
expect_err "20240102000000_slow"
pass "server crash inside a migration: auzdb exits 3 (retryable) naming the migration"
restart
eq "$(q "$master" "SELECT count(*) FROM pg_tables WHERE tablename = 'slow_t'")" 0 "slow_t after crash recovery"
eq "$(q "$master" "SELECT string_agg(migration_name, ',' ORDER BY migration_name) FROM _prisma_migrations")" "20240101000000_first" "ledger after the crash"
consistent "$master" 1
pass "after crash recovery: the interrupted migration left nothing, the ledger agrees with the schema"
q "$master" "ALTER DATABASE \"$master\" SET auzdb_test.sleep = '0'" >/dev/null
az run --database-url "$PGTEST_URL/$master" --master-migrations "$mset" --tenant-migrations "$tset"
expect_rc 0 "the run after the crash"
consistent "$master" 3
eq "$(q "$master" "SELECT count(*) FROM slow_t")" 1000 "slow_t rows"
pass "the next run finishes the job: every migration applied exactly once"

# 2. crash while a fleet run is in a tenant: the unreachable rest are reported, exit 9; the next run converges
master=$(newdb fleet)
for t in a b c d; do createdb "$P$t" || fail createdb; T_DBS+=("$P$t"); done
q "$P"b "ALTER DATABASE \"${P}b\" SET auzdb_test.sleep = '120'" >/dev/null
"$AUZDB_BIN" run --database-url "$PGTEST_URL/$master" --master-migrations "$mset" --tenant-migrations "$tset" \
  --concurrency 1 --report "$T_TMP/r.json" > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null &
pid=$!
wait_until "${P}b" "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '${P}b' AND wait_event = 'PgSleep')"
crash
wait $pid; RC=$?
expect_rc 3 "server crashed during a fleet run"
grep -q "\"name\":\"${P}b\".*\"exit_code\":3" "$T_TMP/r.json" || fail "tenant b reported unreachable"
grep -q "\"name\":\"${P}d\".*\"exit_code\":3" "$T_TMP/r.json" || fail "tenant d reported unreachable"
pass "server crash in a fleet run: exit 3 (every failed tenant failed retryably), the interrupted and the remaining tenants reported unreachable (3)"
restart
consistent "$P"a 2
consistent "$P"b 1
for t in c d; do eq "$(q "$P$t" "SELECT count(*) FROM pg_tables WHERE tablename = '_prisma_migrations'")" 0 "tenant $t untouched"; done
q "$P"b "ALTER DATABASE \"${P}b\" SET auzdb_test.sleep = '0'" >/dev/null
az run --database-url "$PGTEST_URL/$master" --master-migrations "$mset" --tenant-migrations "$tset"
expect_rc 0 "fleet run after the crash"
for t in a b c d; do consistent "$P$t" 2; done
consistent "$master" 3
pass "after restart the next fleet run converges: master 3/3, every tenant 2/2, no failed rows"
done_testing
