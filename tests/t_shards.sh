#!/usr/bin/env bash
# Sharding: for N = 1..7 every tenant lands in exactly one shard; two shards
# run at once migrate everything exactly once; shards > 0 wait for master.
. "$(dirname "$0")/lib.sh"

export AUZDB_TENANT_DB_PREFIX="ts${RANDOM}_"
P=$AUZDB_TENANT_DB_PREFIX
master=$(newdb master)
slugs=()
for i in $(seq 1 14); do s="t$i-$RANDOM"; createdb "$P$s"; T_DBS+=("$P$s"); slugs+=("$s"); done

for n in 1 2 3 4 5 6 7; do
  : > "$T_TMP/all"
  for ((i = 0; i < n; i++)); do
    az tenants --database-url "$(url "$master")" --shard "$i/$n" --log-format text; expect_rc 0
    awk '{print $1}' "$T_TMP/.az_out" >> "$T_TMP/all"
  done
  eq "$(sort "$T_TMP/all" | uniq -d | wc -l)" 0 "tenants in two shards (N=$n)"
  eq "$(sort -u "$T_TMP/all" | wc -l)" 14 "tenants covered (N=$n)"
done
pass "N = 1..7: every tenant in exactly one shard"

JOB_COMPLETION_INDEX=1 AUZDB_SHARDS=3 az tenants --database-url "$(url "$master")" --log-format text; expect_rc 0
cp "$T_TMP/.az_out" "$T_TMP/env_shard"
az tenants --database-url "$(url "$master")" --shard 1/3 --log-format text
diff -q "$T_TMP/env_shard" "$T_TMP/.az_out" >/dev/null || fail "JOB_COMPLETION_INDEX/AUZDB_SHARDS differs from --shard"
AUZDB_SHARDS=3 az tenants --database-url "$(url "$master")"; expect_rc 2; expect_one_line_error "JOB_COMPLETION_INDEX"
az tenants --database-url "$(url "$master")" --shard 3/3; expect_rc 2; expect_one_line_error "--shard 3/3"
pass "JOB_COMPLETION_INDEX + AUZDB_SHARDS equals --shard; bad shard settings exit 2"

# shard 1 alone waits for master, bounded
az run --database-url "$(url "$master")" --shard 1/2 --wait-timeout 1
expect_rc 3; expect_one_line_error "master is not up to date after 1s"
eq "$(q "$master" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "master after shard 1 alone"
pass "a shard other than 0 does not migrate master and gives up after the wait (exit 3)"

# two shards at once
"$AUZDB_BIN" run --database-url "$(url "$master")" --shard 1/2 --log-format json >"$T_TMP/s1.out" 2>&1 &
p1=$!
"$AUZDB_BIN" run --database-url "$(url "$master")" --shard 0/2 --log-format json >"$T_TMP/s0.out" 2>&1 &
p0=$!
wait $p0; r0=$?; wait $p1; r1=$?
[ $r0 = 0 ] && [ $r1 = 0 ] || { cat "$T_TMP/s0.out" "$T_TMP/s1.out" >&2; fail "shards exited $r0 and $r1"; }
eq "$(q "$master" "SELECT count(*) FROM _prisma_migrations")" 8 "master rows"
for s in "${slugs[@]}"; do
  eq "$(q "$P$s" "SELECT count(*) || '/' || count(DISTINCT migration_name) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" "8/8" "ledger of $s"
done
pass "two shards run at once: master once, every tenant exactly once"
done_testing
