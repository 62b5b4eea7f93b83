#!/usr/bin/env bash
# Issue 2 figures: a cold `auzdb status` on an up-to-date database (the
# master set), wall time and peak RSS, median of RUNS runs, side by side in
# the same run with `prisma migrate status` when Prisma is installed
# (scripts/install-prisma.sh) and with a bare `psql` reading the ledger (the
# floor: one process, one connection, one query). Also the binaries' sizes.
#   bench/status.sh [RUNS=11] [path/to/auzdb ...]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
RUNS=${1:-11}; shift || true
bins=("$@")
[ ${#bins[@]} -gt 0 ] || for b in build-dev/auzdb build-static/auzdb; do [ -x "$b" ] && bins+=("$b"); done
[ ${#bins[@]} -gt 0 ] || { echo "build first (scripts/test.sh) or pass binaries" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
work=$(mktemp -d /tmp/auzdb-bench.XXXXXX)
trap 'bash tests/pgserver.sh stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
bash tests/pgserver.sh start "$work/pg" >/dev/null
# shellcheck disable=SC1091
. "$work/pg/env"; export PGHOST PGPORT PGUSER
url="$PGTEST_URL/bench_status"
createdb bench_status
"${bins[0]}" migrate --quiet --database-url "$url" --log-format json >/dev/null

# measure LABEL CMD...: median wall ms and median peak RSS KiB over RUNS runs
measure() {
  local label=$1; shift
  local walls=() rsss=() i t0 t1
  for ((i = 0; i < RUNS; i++)); do
    t0=$(date +%s%N)
    /usr/bin/time -f %M -o "$work/rss" "$@" >"$work/cmd.out" 2>&1 || { echo "$label failed:" >&2; tail -n 5 "$work/cmd.out" >&2; exit 1; }
    t1=$(date +%s%N)
    walls+=($(( (t1 - t0) / 1000 ))); rsss+=("$(tail -n 1 "$work/rss")")
  done
  local mw mr
  mw=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  mr=$(printf '%s\n' "${rsss[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  echo "$label|$mw|$mr"
}

results=()
for b in "${bins[@]}"; do
  results+=("$(measure "auzdb status ($b)" env DATABASE_URL="$url" "$b" status --set master --log-format json)")
done
results+=("$(measure "psql: SELECT from the ledger" psql -XAtq -d "$url" -c 'SELECT migration_name, checksum FROM _prisma_migrations')")
prisma=""
if [ -x scripts/install-prisma.sh ] && prisma=$(scripts/install-prisma.sh 2>/dev/null | tail -n 1) && [ -x "$prisma" ]; then
  generic="$(dirname "$(dirname "$prisma")")/generic/prisma.config.ts"
  results+=("$(cd "$work" && DATABASE_URL="$url" PRISMA_MIGRATIONS_DIR="$repo/migrations/master" \
               measure "prisma migrate status (7.10.1, wasm engine)" "$prisma" migrate status --config "$generic")")
else
  echo "(prisma not installed: scripts/install-prisma.sh to compare)"
fi
base=$(echo "${results[0]}" | cut -d'|' -f2)
printf '%-52s %12s %10s %14s\n' "command (median of $RUNS cold runs)" "wall" "vs first" "peak RSS"
for r in "${results[@]}"; do
  IFS='|' read -r l w m <<<"$r"
  printf '%-52s %9.1f ms %9.2fx %10.1f MiB\n' "$l" "$(echo "$w / 1000" | bc -l)" "$(echo "$w / $base" | bc -l)" "$(echo "$m / 1024" | bc -l)"
done
echo
for b in "${bins[@]}"; do
  strip -o "$work/stripped" "$b" 2>/dev/null || cp "$b" "$work/stripped"
  printf '%-40s %9d bytes on disk, %9d stripped  (%s)\n' "$b" "$(stat -c %s "$b")" "$(stat -c %s "$work/stripped")" "$(file -b "$b" | cut -d, -f1-5)"
done
