#!/usr/bin/env bash
# ctest's CTEST_CUSTOM_PRE_TEST / POST_TEST hook (CTestCustom.cmake, written by
# CMakeLists.txt): ctest itself shows a skipped test only as "***Skipped", so
#   skip-report.sh reset LOG   empties the skip log before a run
#   skip-report.sh print LOG   prints "SKIP [name]: why" for each test of the
#                              run that skipped (exit 77), after the summary
# The names come from LOG (tests/lib.sh appends "name<TAB>reason" on exit 77)
# and from "SKIP [name]: why" lines in the run's output; a test that exited
# 77 without a reason gets the last line it printed.  Never fails the run.
cmd=${1:-}; log=${2:-}
[ -n "$log" ] || exit 0
case "$cmd" in
reset) mkdir -p "$(dirname "$log")" && : > "$log"; exit 0 ;;
print) ;;
*) exit 0 ;;
esac
# ctest 3.25 writes the run's log to LastTest.log.tmp and renames it after this hook
out="$(dirname "$log")/Temporary/LastTest.log.tmp"
[ -f "$out" ] || out=/dev/null
awk -F '\t' -v out="$out" '
  BEGIN {
    while ((getline line < out) > 0) {
      if (line ~ /^[0-9]+\/[0-9]+ Test: /) { name = line; sub(/^[0-9]+\/[0-9]+ Test: /, "", name); inout = 0; continue }
      if (line == "Output:") { inout = 1; getline line < out; continue }
      if (line == "<end of output>") { inout = 0; continue }
      if (!inout) continue
      if (line ~ /^SKIP \[[^]]*\]: /) { n = line; sub(/^SKIP \[/, "", n); sub(/\].*/, "", n); why[n] = line; order[++k] = n }
      if (line ~ /[^ \t]/) last[name] = line
    }
  }
  NF >= 1 && $1 != "" {
    if (!($1 in why)) { why[$1] = "SKIP [" $1 "]: " ($2 != "" ? $2 : ($1 in last ? last[$1] : "exit 77 (ctest -V -R " $1 " shows why)")); order[++k] = $1 }
  }
  END {
    for (i = 1; i <= k; i++) if (!(order[i] in done)) { done[order[i]] = 1; lines[++m] = why[order[i]] }
    if (m) { print ""; print "Skipped tests, and why:"; for (i = 1; i <= m; i++) print "  " lines[i] }
  }' "$log" 2>/dev/null
exit 0
