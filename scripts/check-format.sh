#!/usr/bin/env bash
# Fails when a C file under src/ is not formatted as .clang-format says.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format not installed" >&2; exit 1; }
bad=0
for f in src/*.c src/*.h; do
  if ! clang-format --style=file "$f" | cmp -s - "$f"; then echo "not clang-formatted: $f"; bad=1; fi
done
[ $bad = 0 ] && echo "check-format: src/ is clang-formatted"
exit $bad
