#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) in build-fuzz/ with
# clang-14 and runs each for a bounded time on a copy of its corpus.
#   scripts/fuzz.sh [SECONDS]     seconds per target, default 30
#   FUZZ_TARGETS="fuzz_restore fuzz_names" scripts/fuzz.sh 60   only these
# New interesting inputs stay in the temporary copy (the repository's corpus
# in tests/fuzz/corpus/<name>/ does not grow); crash files are kept in
# FUZZ_ARTIFACTS (default build-fuzz/artifacts/) and their paths printed.
# Exit status: 0 when no target crashed, 1 when one did (or the build failed).
# See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
case "$secs" in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;; esac

for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { echo "fuzz.sh: $p is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

werror=OFF; [ "${CI:-}" = true ] && werror=ON
build=build-fuzz
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang-14 -DAUZDB_FUZZ=ON -DAUZDB_WERROR=$werror \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for src in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
[ -n "${FUZZ_TARGETS:-}" ] && read -r -a targets <<<"$FUZZ_TARGETS"
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target "${targets[@]}"

artifacts=$(realpath -m "${FUZZ_ARTIFACTS:-$build/artifacts}")
mkdir -p "$artifacts"
work=$(mktemp -d /tmp/auzdb-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
summary=()
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  corpus="$work/$name"
  mkdir -p "$corpus"
  [ -d "tests/fuzz/corpus/$name" ] && cp tests/fuzz/corpus/"$name"/* "$corpus"/
  log="$work/$t.log"
  echo "=== $t: ${secs}s on $(find "$corpus" -type f | wc -l) seed(s)"
  dict=(); [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  rc=0
  # -close_fd_mask=3: the code under test prints its one-line errors; libFuzzer's and the
  # sanitizers' own reports still come out.
  "$build/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -close_fd_mask=3 -artifact_prefix="$artifacts/$t-" "${dict[@]}" \
    "$corpus" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | tr -d 'cov: ')
  units=$(find "$corpus" -type f | wc -l)
  if [ "$rc" != 0 ]; then
    tail -n 60 "$log"
    crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    echo "$t: FAILED (exit $rc) after ${execs:-?} executions; input: ${crash:-see the log above}"
    echo "    reproduce: $build/$t ${crash:-<file>}"
    failed+=("$t")
    summary+=("$(printf '%-18s FAILED  %12s execs  %s' "$t" "${execs:-?}" "${crash:-}")")
  else
    echo "$t: ok, ${execs:-?} executions (${rate:-?}/s), coverage ${cov:-?} edges, corpus $units"
    summary+=("$(printf '%-18s ok      %12s execs  %8s/s  cov %5s  corpus %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$units")")
  fi
done

echo "=== fuzz summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${#failed[@]} target(s) crashed: ${failed[*]}; crash inputs in $artifacts" >&2
  exit 1
fi
