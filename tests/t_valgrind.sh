#!/usr/bin/env bash
# valgrind --leak-check=full is clean on a full `run` (master + two tenants)
# and on the error paths of status.  Only in the dev build (valgrind does not
# mix with ASan; the static binary has no symbols for libc).
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "skip: valgrind not installed"; exit 77; }
file -b "$AUZDB_BIN" | grep -q "dynamically linked" || { echo "skip: not the dev build"; exit 77; }
# (no `| grep -q`: under pipefail nm's SIGPIPE would make the test miss the skip)
case "$(nm -D "$AUZDB_BIN" 2>/dev/null)" in *__asan_init*) echo "skip: sanitizer build"; exit 77 ;; esac
export AUZDB_TENANT_DB_PREFIX="tvg${RANDOM}_" AUZDB_TERMINATION_LOG=
master=$(newdb)
for t in a b; do createdb "$AUZDB_TENANT_DB_PREFIX$t"; T_DBS+=("$AUZDB_TENANT_DB_PREFIX$t"); done
vg() { valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 "$AUZDB_BIN" "$@" >"$T_TMP/.az_out" 2>"$T_TMP/.az_err" </dev/null; RC=$?; }
vg run --database-url "$(url "$master")" --report "$T_TMP/r.json" --log-format json
[ "$RC" = 99 ] && { cat "$T_TMP/.az_err" >&2; fail "valgrind found errors or leaks in run"; }
expect_rc 0
pass "valgrind: run over master + 2 tenants is clean (no errors, no definite/indirect leaks)"
vg status --database-url "$(url "$master")" --log-format text; expect_rc 0
vg migrate --database-url "postgresql://postgres:wrong@127.0.0.1:$PGPORT/$master"; expect_rc 4
vg migrate --database-url "$(url "$master")" --master-migrations "$T_TMP/none"; expect_rc 2
pass "valgrind: status and error paths are clean"
done_testing
