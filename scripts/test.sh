#!/usr/bin/env bash
# Builds auzdb and runs the whole test suite against a throwaway PostgreSQL 15.
#   scripts/test.sh            dev variant (Debian's shared libraries)
#   scripts/test.sh sanitize   ASan + UBSan build
#   scripts/test.sh static     static musl binary (builds/caches its libraries first)
#   scripts/test.sh all        all three, in that order
# Each variant builds in build-<variant>/ and runs `ctest` there.
set -euo pipefail
cd "$(dirname "$0")/.."
variants=("${@:-dev}")
[ "${variants[0]}" = all ] && variants=(dev sanitize static)

scripts/install-deps.sh
werror=OFF; [ "${CI:-}" = true ] && werror=ON
jobs=$(nproc 2>/dev/null || echo 2)

for v in "${variants[@]}"; do
  dir="build-$v"
  args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DAUZDB_WERROR=$werror)
  case "$v" in
    dev) ;;
    sanitize) args+=(-DAUZDB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug) ;;
    static)
      prefix=$(scripts/build-static-deps.sh | tail -n 1)
      args+=(-DAUZDB_STATIC=ON -DDEPS_PREFIX="$prefix" -DCMAKE_C_COMPILER=musl-gcc -DCMAKE_BUILD_TYPE=Release) ;;
    *) echo "test.sh: unknown variant '$v' (dev, sanitize, static, all)" >&2; exit 2 ;;
  esac
  echo "=== $v: configure and build ($dir)"
  cmake -S . -B "$dir" "${args[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "=== $v: tests"
  (cd "$dir" && ctest --output-on-failure -j 1)
done
