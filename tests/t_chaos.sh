#!/usr/bin/env bash
# Crashes: SIGKILL `auzdb run` at random moments, AUZDB_CHAOS_KILLS times
# (default 100), re-running after each.  Invariants checked after every
# kill: no ledger row disagrees with the schema (a finished row's table
# exists; an unfinished migration left nothing behind), no failed rows, and
# no truncated file under a final backup name.  At the end the fleet
# converges to fully migrated.
. "$(dirname "$0")/lib.sh"
KILLS=${AUZDB_CHAOS_KILLS:-100}
export AUZDB_TENANT_DB_PREFIX="tc${RANDOM}_" AUZDB_TERMINATION_LOG= AUZDB_BACKUP_DIR="$T_TMP/backups"
P=$AUZDB_TENANT_DB_PREFIX
set="$T_TMP/tenant"
for i in $(seq 1 12); do
  mkmig "$set" "202401$(printf %02d "$i")000000_m$i" $'CREATE TABLE t'"$i"$' (id int);\nINSERT INTO t'"$i"$' SELECT generate_series(1, 500);\nSELECT pg_sleep(0.01);\nCREATE TABLE t'"$i"$'_done (id int);\n'
done
master=$(newdb master)
for t in a b c; do createdb "$P$t"; T_DBS+=("$P$t"); done

check_invariants() {
  local d bad
  for d in "$P"a "$P"b "$P"c; do
    if [ "$(q "$d" "SELECT count(*) FROM pg_tables WHERE tablename = '_prisma_migrations'")" = 0 ]; then
      eq "$(q "$d" "SELECT count(*) FROM pg_tables WHERE tablename ~ '^t[0-9]'")" 0 "tables without a ledger in $d (kill $1)"
      continue
    fi
    # per migration: finished rows, its table, its last table; all equal and <= 1
    bad=$(q "$d" "SELECT string_agg(format('m%s: rows %s, table %s, done table %s', i, rec, tbl, fin), '; ')
      FROM (SELECT i,
              (SELECT count(*) FROM _prisma_migrations WHERE migration_name LIKE '%\_m' || i AND finished_at IS NOT NULL) AS rec,
              (SELECT count(*) FROM pg_tables WHERE tablename = 't' || i) AS tbl,
              (SELECT count(*) FROM pg_tables WHERE tablename = 't' || i || '_done') AS fin
            FROM generate_series(1, 12) i) x
      WHERE NOT (rec = tbl AND tbl = fin AND rec <= 1)
         OR EXISTS (SELECT 1 FROM _prisma_migrations WHERE finished_at IS NULL AND rolled_back_at IS NULL)")
    [ -z "$bad" ] || fail "kill $1: $d disagrees with its ledger: $bad"
  done
  if [ -d "$AUZDB_BACKUP_DIR" ]; then
    while IFS= read -r f; do gzip -t "$f" 2>/dev/null || fail "kill $1: truncated backup under a final name: $f"; done \
      < <(find "$AUZDB_BACKUP_DIR" -name '*.sql.gz')
  fi
}

for k in $(seq 1 "$KILLS"); do
  "$AUZDB_BIN" run --database-url "$(url "$master")" --tenant-migrations "$set" --lock-timeout 30 > "$T_TMP/run.out" 2>&1 &
  pid=$!
  sleep "0.$(printf %03d $((RANDOM % 400)))"
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  check_invariants "$k"
done
pass "$KILLS SIGKILLs at random moments: no half-applied migration, no failed row, no truncated backup"

az run --database-url "$(url "$master")" --tenant-migrations "$set" --lock-timeout 60
expect_rc 0
for d in "$P"a "$P"b "$P"c; do
  eq "$(q "$d" "SELECT count(*) || '/' || count(DISTINCT migration_name) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" "12/12" "final ledger of $d"
done
eq "$(q "$master" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "master"
pass "after the kills, one more run converges: every migration applied exactly once"
done_testing
