#!/usr/bin/env bash
# The fleet: master + tenants in one run, one report, one exit code.
. "$(dirname "$0")/lib.sh"

export AUZDB_TENANT_DB_PREFIX="tf${RANDOM}_"
P=$AUZDB_TENANT_DB_PREFIX
mk_tenant() { createdb "$P$1" || fail "createdb $P$1"; T_DBS+=("$P$1"); }
partial="$T_TMP/partial"; mkdir -p "$partial"
for d in $(ls "$MIGSRC/tenant" | grep -v toml | head -5); do cp -r "$MIGSRC/tenant/$d" "$partial/"; done

master=$(newdb master)
mk_tenant fresh; mk_tenant behind; mk_tenant current
az migrate --database-url "$(url "$P"behind)" --set tenant --tenant-migrations "$partial"; expect_rc 0
az migrate --database-url "$(url "$P"current)" --set tenant; expect_rc 0

az status --database-url "$(url "$master")" --log-format text
expect_rc 11; expect_out "${P}fresh +tenant +8 pending"; expect_out "${P}behind +tenant +3 pending"
expect_out "${P}current +tenant +up to date"; expect_out "4 databases \(3 tenants from pg_database\)"
pass "status covers master and every tenant; exit 11 while any is pending"

AUZDB_TERMINATION_LOG="$T_TMP/termlog" az run --database-url "$(url "$master")" --report "$T_TMP/report.json" --log-format text
expect_rc 0
expect_out "^${P}behind +tenant +3 pending +-> up to date +3 "
expect_out "4 databases, 0 failed, 19 migrations applied"
for t in fresh behind current; do
  eq "$(q "$P$t" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "ledger of $t"
done
eq "$(q "$master" "SELECT count(*) FROM _prisma_migrations")" 8 "master ledger"
pass "run: master then every tenant brought up to date; summary table"
eq "$(stat -c %a "$T_TMP/report.json")" 600 "report mode"
grep -q '"exit_code":0' "$T_TMP/report.json" || fail "report exit code"
grep -q "\"name\":\"${P}behind\",\"role\":\"tenant\",\"slug\":\"behind\",\"state_before\":\"3 pending\"" "$T_TMP/report.json" || fail "report tenant entry"
grep -q '"name":"20251121100039_tenant_add_user_verification_fields","duration_ms":[0-9]*' "$T_TMP/report.json" || fail "report migration durations"
grep -q '"totals":{"databases":4,"ok":4,"failed":0,"migrations_applied":19}' "$T_TMP/report.json" || fail "report totals"
grep -q "^auzdb run: ok (exit 0): 4 databases, 0 failed, 19 migrations applied" "$T_TMP/termlog" || fail "termination message"
pass "JSON report (0600, per-database migrations with durations, totals) and termination message"

az status --database-url "$(url "$master")" --log-format text; expect_rc 0; expect_out "Database schema is up to date!"
az tenants --database-url "$(url "$master")" --log-format text; expect_rc 0
expect_out "^behind +${P}behind +up to date"
pass "status exit 0 when all up to date; tenants lists slugs and states"

# dry run leaves every database as it was
mk_tenant dry
declare -A snap
for d in "$master" "${P}fresh" "${P}dry"; do snap[$d]=$(snapshot "$d"); done
az run --database-url "$(url "$master")" --dry-run --log-format text
expect_rc 0; expect_out "\[${P}dry\] would apply 20251110005726_tenant_init"
for d in "$master" "${P}fresh" "${P}dry"; do eq "$(snapshot "$d")" "${snap[$d]}" "$d after dry run"; done
pass "--dry-run prints each database's plan and changes nothing"
az run --database-url "$(url "$master")"; expect_rc 0

# a failed row in one tenant, tables without ledger in another: the others still migrate, exit 9
mk_tenant broken; mk_tenant noledger; mk_tenant late
az migrate --database-url "$(url "$P"broken)" --set tenant --tenant-migrations "$partial"; expect_rc 0
q "$P"broken "UPDATE _prisma_migrations SET finished_at = NULL, logs = 'failed by hand' WHERE migration_name LIKE '%19_november'" >/dev/null
q "$P"noledger "CREATE TABLE users (id int)" >/dev/null
az run --database-url "$(url "$master")" --log-format json --report "$T_TMP/r2.json"
expect_rc 9
eq "$(q "$P"late "SELECT count(*) FROM _prisma_migrations")" 8 "late tenant migrated"
eq "$(q "$P"noledger "SELECT count(*) FROM pg_tables WHERE tablename = '_prisma_migrations'")" 0 "noledger untouched"
grep -q "\"name\":\"${P}broken\".*\"exit_code\":8" "$T_TMP/r2.json" || fail "broken tenant in report"
grep -q "\"name\":\"${P}noledger\".*\"error\":{\"code\":8,\"name\":\"needs_action\",\"message\":\"the schema holds 1 table" "$T_TMP/r2.json" || fail "noledger in report"
tail -n 1 "$T_TMP/.az_out" | grep -q '^{"command":"run".*"exit_code":9' || fail "last JSON log line is not the report"
pass "one tenant's failure never stops the others: exit 9, report names them, JSON report is the last log line"

az status --database-url "$(url "$master")"; expect_rc 8
pass "status exit 8 when a tenant needs action"

# --fail-fast with one worker: nothing after the first failure is attempted
mk_tenant zz_after
az run --database-url "$(url "$master")" --concurrency 1 --fail-fast --log-format json
expect_rc 9
expect_out "\"name\":\"${P}zz_after\".*\"state_after\":\"not attempted\""
eq "$(q "$P"zz_after "SELECT count(*) FROM pg_tables WHERE tablename = '_prisma_migrations'")" 0 "zz_after untouched"
pass "--fail-fast stops scheduling new tenants after a failure"
for t in broken noledger zz_after; do dropdb "$P$t"; done

# master failure: no tenant is touched
master2=$(newdb master2)
q "$master2" "CREATE TABLE stray (id int)" >/dev/null
mk_tenant untouched
az run --database-url "$(url "$master2")" --log-format text
expect_rc 8; expect_err "no _prisma_migrations ledger"
eq "$(q "$P"untouched "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "tenant after master failure"
pass "master fails: exit with master's code (8), no tenant touched"
dropdb "$P"untouched

# explicit tenant lists: bad slugs rejected per tenant, duplicates merged, datallowconn=false
createdb "${P}Mixed_Case-1"; T_DBS+=("${P}Mixed_Case-1")
mk_tenant closed; psql -XAtq -d postgres -c "ALTER DATABASE \"${P}closed\" WITH ALLOW_CONNECTIONS false"
long=$(printf 'x%.0s' $(seq 1 70))
az run --database-url "$(url "$master")" --log-format json --concurrency 2 \
   --tenant "Mixed_Case-1" --tenant "Mixed_Case-1" --tenant "o'brien" --tenant 'two words' --tenant "caf$(printf '\xc3\xa9')" \
   --tenant "$long" --tenant 'x;DROP DATABASE postgres' --tenant closed
expect_rc 9
eq "$(q "${P}Mixed_Case-1" "SELECT count(*) FROM _prisma_migrations")" 8 "mixed case tenant"
eq "$(grep -o "\"name\":\"${P}Mixed_Case-1\"" "$T_TMP/.az_out" | wc -l)" 1 "duplicates merged"
expect_out "slug 'o'brien' rejected: contains a quote"
expect_out "slug 'two words' rejected: contains whitespace"
expect_out "rejected: non-ASCII character"
expect_out "rejected: too long"
expect_out "slug 'x;DROP DATABASE postgres' rejected: only letters"
expect_out "\"name\":\"${P}closed\".*not currently accepting connections"
psql -XAtq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'postgres'" | grep -q 1 || fail "postgres database gone"
pass "unsafe slugs rejected with a reason, duplicates merged, a tenant refusing connections fails alone"
psql -XAtq -d postgres -c "ALTER DATABASE \"${P}closed\" WITH ALLOW_CONNECTIONS true"

# AUZDB_TENANTS and AUZDB_TENANT_QUERY; a failing query; no tenants at all
AUZDB_TENANTS="fresh, behind ,fresh" az run --database-url "$(url "$master")" --log-format json; expect_rc 0
expect_out '"totals":\{"databases":3,'
q "$master" "CREATE TABLE companies (slug text); INSERT INTO companies VALUES ('current'), ('late')" >/dev/null
AUZDB_TENANT_QUERY="SELECT slug FROM companies" az run --database-url "$(url "$master")" --log-format json; expect_rc 0
expect_out '"totals":\{"databases":3,'; expect_out "\"name\":\"${P}late\""
AUZDB_TENANT_QUERY="SELECT slug FROM no_such_table" az run --database-url "$(url "$master")" --log-format text
expect_rc 2; expect_err "AUZDB_TENANT_QUERY failed on master: ERROR: relation .no_such_table. does not exist"
AUZDB_TENANT_QUERY="DELETE FROM companies RETURNING slug" az run --database-url "$(url "$master")"; expect_rc 2
eq "$(q "$master" "SELECT count(*) FROM companies")" 2 "companies after a writing query"
AUZDB_TENANT_DB_PREFIX="none_such_prefix_" az run --database-url "$(url "$master")" --log-format json; expect_rc 0
expect_out '"totals":\{"databases":1,'
pass "AUZDB_TENANTS (merged), AUZDB_TENANT_QUERY (read-only; errors exit 2), no tenants at all"

# URL template with {database}
AUZDB_TENANT_URL_TEMPLATE="postgresql://postgres:$PGTEST_PASSWORD@127.0.0.1:$PGPORT/{database}?application_name=tpl" \
  az run --database-url "$(url "$master")" --tenant fresh --log-format json; expect_rc 0
AUZDB_TENANT_URL_TEMPLATE="postgresql://127.0.0.1/{nope}" az run --database-url "$(url "$master")" --tenant fresh
expect_rc 2; expect_one_line_error "unknown placeholder"
pass "AUZDB_TENANT_URL_TEMPLATE expands {database}; unknown placeholders are rejected"

# tenant create
az tenant create acme-corp --database-url "$(url "$master")"; expect_rc 0; T_DBS+=("${P}acme-corp")
eq "$(q "${P}acme-corp" "SELECT count(*) FROM _prisma_migrations")" 8 "new tenant ledger"
az tenant create acme-corp --database-url "$(url "$master")"; expect_rc 0
az tenant create "bad'slug" --database-url "$(url "$master")"; expect_rc 2; expect_one_line_error "rejected: contains a quote"
pass "tenant create makes and migrates a tenant database, idempotently; bad slugs refused"

# a tenant dropped mid-run: discovered, then gone before its turn; it fails alone, the other is migrated
Q="${P}mid_"
createdb "${Q}a" && createdb "${Q}b" || fail "createdb ${Q}a/b"; T_DBS+=("${Q}a" "${Q}b")
for t in a b; do # a Prisma-style runner holds the migration lock on both
  psql -XAtq -d "$Q$t" -c "SELECT pg_advisory_lock(72707369)" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
  eval "holder_$t=\$!"
done
wait_until postgres "SELECT count(*) = 2 FROM pg_locks WHERE locktype = 'advisory' AND objid = 72707369 AND granted"
AUZDB_TENANT_DB_PREFIX=$Q "$AUZDB_BIN" run --database-url "$(url "$master")" --concurrency 1 --log-format json \
  > "$T_TMP/mid.json" 2> "$T_TMP/mid.err" & run_pid=$!
# the run waits on the first tenant's lock; the second is not connected yet: drop it, free the first
wait_until postgres "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'auzdb' AND datname LIKE '${Q}%'"
first=$(q postgres "SELECT datname FROM pg_stat_activity WHERE application_name = 'auzdb' AND datname LIKE '${Q}%'")
case $first in "${Q}a") gone=${Q}b; kill "$holder_b" ;; "${Q}b") gone=${Q}a; kill "$holder_a" ;; *) fail "no auzdb connection to a mid_ tenant ($first)" ;; esac
dropdb --force "$gone" || fail "dropdb $gone"
q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$first' AND application_name <> 'auzdb'" >/dev/null
wait "$run_pid"; RC=$?; cp "$T_TMP/mid.json" "$T_TMP/.az_out"; cp "$T_TMP/mid.err" "$T_TMP/.az_err"; OUT=$(cat "$T_TMP/mid.json")
expect_rc 9 "run with a tenant dropped mid-run"
eq "$(q "$first" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "ledger of the tenant that stayed"
expect_out "\"name\":\"$gone\".*does not exist"
expect_out '"totals":\{"databases":3,"ok":2,"failed":1,'
wait 2>/dev/null
pass "a tenant dropped after discovery fails alone (exit 9, the report names it); the other is migrated"
done_testing
