#!/usr/bin/env bash
# Racing runners: 16 auzdb processes started at once against master + 50
# tenants, one of whose migrations is a lone CREATE INDEX CONCURRENTLY, plus a
# Prisma-style session holding key 72707369 on master for a moment.  Every
# migration is applied exactly once, every process exits 0, no deadlock.
. "$(dirname "$0")/lib.sh"

export AUZDB_TENANT_DB_PREFIX="tr${RANDOM}_" AUZDB_TERMINATION_LOG=
P=$AUZDB_TENANT_DB_PREFIX
set="$T_TMP/tenant"
mkmig "$set" 20240101000000_a $'CREATE TABLE items (id serial PRIMARY KEY, v text);\nINSERT INTO items (v) SELECT md5(i::text) FROM generate_series(1, 2000) i;\n'
mkmig "$set" 20240102000000_cic 'CREATE INDEX CONCURRENTLY items_v_idx ON items (v);'
mkmig "$set" 20240103000000_b 'ALTER TABLE items ADD COLUMN w int;'
mkmig "$set" 20240104000000_c 'CREATE TABLE audit (id int);'
master=$(newdb master)
for i in $(seq 1 50); do createdb "$P$i" || fail "createdb"; T_DBS+=("$P$i"); done

# a "prisma migrate deploy" stand-in holding Prisma's lock on master for 1 s
psql -XAtq -d "$master" -c "SELECT pg_advisory_lock(72707369), pg_sleep(1)" >/dev/null &
holder=$!
pids=()
for r in $(seq 1 16); do
  "$AUZDB_BIN" run --database-url "$(url "$master")" --tenant-migrations "$set" --concurrency 4 \
    --lock-timeout 120 --log-format json > "$T_TMP/r$r.out" 2>&1 &
  pids+=($!)
done
wait $holder
fails=0
for r in $(seq 1 16); do
  wait "${pids[$((r - 1))]}"; rc=$?
  [ $rc = 0 ] || { echo "runner $r exited $rc:" >&2; tail -n 3 "$T_TMP/r$r.out" >&2; fails=$((fails + 1)); }
done
[ $fails = 0 ] || fail "$fails of 16 runners did not exit 0"
pass "16 runners at once (plus a session holding the Prisma lock): all exit 0"

eq "$(q "$master" "SELECT count(*) || '/' || count(DISTINCT migration_name) FROM _prisma_migrations")" "8/8" "master ledger"
bad=0
for i in $(seq 1 50); do
  got=$(q "$P$i" "SELECT count(*) || '/' || count(DISTINCT migration_name) || '/' || count(finished_at) FROM _prisma_migrations")
  [ "$got" = "4/4/4" ] || { echo "tenant $i ledger: $got" >&2; bad=$((bad + 1)); }
  [ "$(q "$P$i" "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_v_idx'::regclass")" = t ] || bad=$((bad + 1))
done
[ $bad = 0 ] || fail "$bad tenants with a wrong ledger or an invalid index"
applied=$(cat "$T_TMP"/r*.out | grep -o '"migrations_applied":[0-9]*' | cut -d: -f2 | paste -sd+ | bc)
eq "$applied" $((8 + 50 * 4)) "migrations applied across all runners"
pass "every migration applied exactly once (master 8, 50 tenants x 4), concurrent indexes valid"
done_testing
