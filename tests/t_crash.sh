#!/usr/bin/env bash
# Crash safety: auzdb killed with SIGKILL inside a migration leaves neither
# the migration's changes nor its ledger row; the next run applies it once.
. "$(dirname "$0")/lib.sh"

set="$T_TMP/set"
mkmig "$set" 20240101000000_a 'CREATE TABLE a (id int);'
mkmig "$set" 20240102000000_slow $'CREATE TABLE slow (id int);\nINSERT INTO slow VALUES (1);\nSELECT pg_sleep(2);\nCREATE TABLE slow2 (id int);\n'
mkmig "$set" 20240103000000_c 'CREATE TABLE c (id int);'
db=$(newdb)

"$AUZDB_BIN" migrate --database-url "$(url "$db")" --master-migrations "$set" >"$T_TMP/bg.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  [ "$(q "$db" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid()")" = 1 ] && break
  sleep 0.05
done
kill -9 $pid; wait $pid 2>/dev/null
# what another session sees right after the kill
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename IN ('slow', 'slow2', 'c')")" 0 "tables after kill"
eq "$(q "$db" "SELECT string_agg(migration_name, ',') FROM _prisma_migrations")" "20240101000000_a" "ledger after kill"
pass "SIGKILL inside a migration: no partial schema, no ledger row for it"

# the orphaned server session still holds the lock until it notices; the next run waits for it
az migrate --database-url "$(url "$db")" --master-migrations "$set" --lock-timeout 30 --log-format text
expect_rc 0; expect_out "2 migrations applied"
eq "$(q "$db" "SELECT count(*) FROM slow")" 1 "rows in slow"
eq "$(q "$db" "SELECT string_agg(migration_name || ':' || applied_steps_count, ',' ORDER BY started_at) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" \
   "20240101000000_a:1,20240102000000_slow:1,20240103000000_c:1" "ledger after re-run"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NULL")" 0 "failed rows"
pass "the next run applies the interrupted migration exactly once"
done_testing
