#!/usr/bin/env bash
# Fleet figures (issue 3), from one run on one throwaway server:
#   N tenant databases, empty -> full tenant set:
#   (a) auzdb run with --concurrency 1, 4 and 8 (wall, peak RSS, most
#       connections open at once)
#   (b) the floor: the same SQL with no ledger at all, one `psql -v
#       ON_ERROR_STOP=1` session per tenant running each migration file in
#       its own transaction, 8 tenants at a time (xargs -P 8)
#   (c) what operators run today: a new `psql -1 -f` process per tenant per
#       migration, 8 tenants at a time
#   and a no-op run over NOOP tenants that are all up to date, beside its
#   floor: the same number of new connections (8 psql sessions that \c from
#   tenant to tenant), with SELECT 1 and with a read of the ledger.
#   bench/fleet.sh [N=500] [NOOP=1000] [path/to/auzdb]   (N=0: no-op only)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
NOOP=${2:-1000}
bin=${3:-build-dev/auzdb}
[ -x "$bin" ] || { echo "build first (scripts/test.sh) or pass the binary" >&2; exit 2; }
command -v bc >/dev/null && [ -x /usr/bin/time ] || { echo "needs bc and /usr/bin/time (apt-get install bc time)" >&2; exit 2; }
work=$(mktemp -d /tmp/auzdb-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; bash tests/pgserver.sh stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
bash tests/pgserver.sh start "$work/pg" >/dev/null
# shellcheck disable=SC1091
. "$work/pg/env"; export PGHOST PGPORT PGUSER
export MASTER_DATABASE_URL="$PGTEST_URL/bench_master" AUZDB_LOG_FORMAT=json AUZDB_TENANT_DB_PREFIX=bench_t_
export AUZDB_BACKUP_DIR="$work/backups" AUZDB_TERMINATION_LOG=
createdb bench_master
"$bin" migrate --quiet >/dev/null

make_tenants() { # count: drop every bench tenant, create 1..count empty
  { psql -XAtq -d postgres -c "SELECT 'DROP DATABASE ' || quote_ident(datname) || ';' FROM pg_database WHERE datname LIKE 'bench\_t\_%'"
    for i in $(seq 1 "$1"); do echo "CREATE DATABASE bench_t_$i;"; done; } | psql -XAtq -d postgres >/dev/null
}
now() { date +%s.%N; }
files=$(ls -d migrations/tenant/*/ | sort)
nfiles=$(echo "$files" | wc -l)
floor_one() {
  local args=(-X -q -v ON_ERROR_STOP=1 -d "bench_t_$1")
  for f in $files; do args+=(-c BEGIN -f "$f/migration.sql" -c COMMIT); done
  psql "${args[@]}" >/dev/null
}
today_one() {
  for f in $files; do psql -X -q -v ON_ERROR_STOP=1 -1 -d "bench_t_$1" -f "$f/migration.sql" >/dev/null; done
}
export -f floor_one today_one; export files
# most auzdb connections open at once, sampled every 20 ms
watch_conns() {
  local max=0 n
  while [ ! -f "$work/stop" ]; do
    n=$(psql -XAtq -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'auzdb'" 2>/dev/null || echo 0)
    [ "$n" -gt "$max" ] && max=$n && echo "$max" > "$work/maxconn"
    sleep 0.02
  done
}
row() { printf '%-36s %8.2f s %8.1f tenants/s %6.2fx floor %s\n' "$1" "$2" "$(echo "$3 / $2" | bc -l)" "$(echo "$2 / $floor" | bc -l)" "${4:-}"; }

echo "tenants: $N, migrations per tenant: $nfiles, server: $(psql -XAtc 'SHOW server_version'), cores: $(nproc)"
if [ "$N" -gt 0 ]; then # N=0: only the no-op figures
make_tenants "$N"
t0=$(now); seq 1 "$N" | xargs -P 8 -I{} bash -c 'floor_one {}'; t1=$(now)
floor=$(echo "$t1 - $t0" | bc -l)
row "(b) floor: psql per tenant, -P 8" "$floor" "$N"
make_tenants "$N"
t0=$(now); seq 1 "$N" | xargs -P 8 -I{} bash -c 'today_one {}'; t1=$(now)
row "(c) today: psql -1 -f per file, -P 8" "$(echo "$t1 - $t0" | bc -l)" "$N"
for c in 1 4 8; do
  make_tenants "$N"
  rm -f "$work/stop" "$work/maxconn"; watch_conns & wpid=$!
  t0=$(now)
  /usr/bin/time -f %M -o "$work/rss" "$bin" run --concurrency "$c" > "$work/run.json" || { tail -n 1 "$work/run.json" >&2; exit 1; }
  t1=$(now); touch "$work/stop"; wait $wpid
  grep -q "\"migrations_applied\":$((N * nfiles))" "$work/run.json" || { echo "not every migration applied" >&2; exit 1; }
  row "(a) auzdb run --concurrency $c" "$(echo "$t1 - $t0" | bc -l)" "$N" \
      "peak RSS $(( $(cat "$work/rss") / 1024 )) MiB, max connections $(cat "$work/maxconn" 2>/dev/null || echo '?')"
done

fi

# no-op: NOOP tenants, all up to date.  Its floor is the server's cost of a
# new connection per database: 8 psql sessions that each \c into every 8th
# tenant and run SELECT 1 (no process per tenant), then the same reading the
# ledger the way any Prisma-compatible tool must.
make_tenants "$NOOP"
"$bin" run --concurrency 8 > /dev/null
noop_floor() { # extra SQL per tenant
  local g i
  for g in $(seq 0 7); do
    for i in $(seq $((g + 1)) 8 "$NOOP"); do printf '\\c bench_t_%d\n%s\n' "$i" "$1"; done > "$work/noop$g.sql"
  done
  for g in $(seq 0 7); do # TCP and SCRAM, as auzdb connects
    PGHOST=127.0.0.1 PGPASSWORD=$PGTEST_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -d postgres -f "$work/noop$g.sql" > /dev/null &
  done
  wait
}
t0=$(now); noop_floor 'SELECT 1;'; t1=$(now)
floor=$(echo "$t1 - $t0" | bc -l)
row "no-op floor: connect + SELECT 1, 8 streams" "$floor" "$NOOP"
t0=$(now); noop_floor 'SELECT * FROM public._prisma_migrations ORDER BY started_at;'; t1=$(now)
row "no-op floor: connect + read the ledger" "$(echo "$t1 - $t0" | bc -l)" "$NOOP"
t0=$(now); /usr/bin/time -f %M -o "$work/rss" "$bin" run --concurrency 8 > "$work/noop.json"; t1=$(now)
grep -q '"migrations_applied":0' "$work/noop.json" || { echo "no-op run applied something" >&2; exit 1; }
row "no-op auzdb run --concurrency 8" "$(echo "$t1 - $t0" | bc -l)" "$NOOP" "peak RSS $(( $(cat "$work/rss") / 1024 )) MiB"
