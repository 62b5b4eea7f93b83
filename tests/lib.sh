# tests/lib.sh - shared helpers for the integration tests (sourced, bash).
# Every test: gets its own databases (newdb), asserts on exit codes, output,
# rows and files, and drops what it made on exit.  Ends with done_testing
# (the line "N passed, 0 failed"), exits 1 at the first failed assertion
# (fail), or skips with skip_test (exit 77).  A script that exits any other
# way - an early `exit 0`, falling off the end, an unset variable - fails
# with a message: see t_exit below.  How to write one: docs/testing.md.
set -uo pipefail

: "${AUZDB_BIN:?AUZDB_BIN is not set (run through ctest)}"
: "${PGTEST_DIR:?PGTEST_DIR is not set (run through ctest)}"
[ -f "$PGTEST_DIR/env" ] || { echo "no test server: $PGTEST_DIR/env missing (pg_start fixture)"; exit 1; }
# shellcheck disable=SC1091
. "$PGTEST_DIR/env"
export PGHOST PGPORT PGUSER
unset PGDATABASE PGPASSWORD DATABASE_URL MASTER_DATABASE_URL DATABASE_URL_FILE MASTER_DATABASE_URL_FILE
unset AUZDB_MIGRATIONS_DIR AUZDB_MASTER_MIGRATIONS_DIR AUZDB_TENANT_MIGRATIONS_DIR AUZDB_LOG_FORMAT

T_NAME=$(basename "$0" .sh); T_NAME=${T_NAME#t_}
T_PASSED=0
T_DBS=()
T_TMP=$(mktemp -d "/tmp/auzdb-test-${T_NAME}.XXXXXX")
MIGSRC="${AUZDB_SRC:-$(cd "$(dirname "$0")/.." && pwd)}/migrations"
# backups taken before migrations land in the test's own directory
unset AUZDB_BACKUP AUZDB_BACKUP_KEEP AUZDB_BACKUP_COMPRESSION
export AUZDB_BACKUP_DIR="$T_TMP/backups"

T_DONE=""         # set by done_testing and fail: the script ended on purpose
T_SKIP_REASON=""  # set by skip_test
T_EXIT_HOOK=""    # the test's own `trap CMD EXIT` (see trap below)
T_MAIN_PID=$BASHPID

t_cleanup() {
  local db
  # newdb runs in $(...) subshells, so the names also go to a file
  [ -f "$T_TMP/.dbs" ] && mapfile -t -O "${#T_DBS[@]}" T_DBS < "$T_TMP/.dbs"
  for db in "${T_DBS[@]}"; do
    psql -XAtq -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()" >/dev/null 2>&1
    dropdb --if-exists "$db" >/dev/null 2>&1
  done
  T_DBS=(); rm -f "$T_TMP/.dbs"
  rm -rf "$T_TMP"
}

# The EXIT trap.  Runs the test's own EXIT handler if it set one (else
# t_cleanup), then: exit 77 stays a skip (its reason goes to AUZDB_SKIP_LOG,
# which ctest prints after its summary); a script that ends before
# done_testing or fail fails, whatever its exit status was, with a message
# naming the last command - today's scripts would otherwise pass silently.
t_exit() {
  local rc=$? last=$1
  if [ -n "$T_EXIT_HOOK" ]; then eval "$T_EXIT_HOOK"; else t_cleanup; fi
  if [ "$rc" = 77 ]; then
    [ -n "${AUZDB_SKIP_LOG:-}" ] && printf '%s\t%s\n' "$T_NAME" "$T_SKIP_REASON" >> "$AUZDB_SKIP_LOG" 2>/dev/null
    exit 77
  fi
  if [ -z "$T_DONE" ]; then
    echo "FAIL [$T_NAME]: the script ended (exit $rc, last command: $last) before done_testing" >&2
    echo "$T_PASSED passed, 1 failed"
    [ "$rc" = 0 ] && rc=1
  fi
  exit "$rc"
}
builtin trap 't_exit "$BASH_COMMAND"' EXIT

# A test that sets its own EXIT trap (to drop roles, stop a server...) gets
# it run by t_exit instead of replacing it, so the check above still holds;
# `trap - EXIT` goes back to t_cleanup.  Other signals, other forms (-p, -l)
# and subshells go straight to the builtin.
trap() {
  local action sig rest=()
  if [ "$BASHPID" != "$T_MAIN_PID" ] || [ $# -lt 2 ] || { [[ $1 == -* ]] && [ "$1" != - ] && [ "$1" != -- ]; }; then
    builtin trap "$@"; return
  fi
  [ "$1" = -- ] && shift
  action=$1; shift
  for sig in "$@"; do
    case "$sig" in
    EXIT|exit|SIGEXIT|0) if [ "$action" = - ]; then T_EXIT_HOOK=""; else T_EXIT_HOOK=$action; fi ;;
    *) rest+=("$sig") ;;
    esac
  done
  [ ${#rest[@]} -eq 0 ] || builtin trap -- "$action" "${rest[@]}"
}

fail() {
  T_DONE=failed
  echo "FAIL [$T_NAME]: $*" >&2
  if [ -f "$T_TMP/.az_out" ]; then echo "--- stdout of last auzdb:" >&2; tail -c 3000 "$T_TMP/.az_out" >&2; fi
  if [ -f "$T_TMP/.az_err" ]; then echo "--- stderr of last auzdb:" >&2; tail -c 3000 "$T_TMP/.az_err" >&2; fi
  echo "$T_PASSED passed, 1 failed"
  exit 1
}
pass() { T_PASSED=$((T_PASSED + 1)); echo "ok $T_PASSED - $*"; }
done_testing() { T_DONE=passed; echo "$T_PASSED passed, 0 failed"; exit 0; }
# skip_test REASON: the whole test does not apply here (CTest's skip, exit 77);
# the reason is printed as "SKIP [name]: REASON" and listed after ctest's summary
skip_test() {
  T_SKIP_REASON=$*
  echo "SKIP [$T_NAME]: $*" >&2
  exit 77
}

# newdb [suffix] -> prints a fresh database's name, dropped on exit
newdb() {
  local name="t_${T_NAME}_${1:-db}_$RANDOM$RANDOM"
  name=${name:0:63}
  createdb "$name" || fail "createdb $name"
  T_DBS+=("$name"); echo "$name" >> "$T_TMP/.dbs"
  echo "$name"
}
# a name that will be dropped on exit but is not created
dbname_only() { local name="t_${T_NAME}_${1:-db}_$RANDOM$RANDOM"; name=${name:0:63}; T_DBS+=("$name"); echo "$name" >> "$T_TMP/.dbs"; echo "$name"; }
url() { echo "$PGTEST_URL/$1"; }

# q DB SQL -> rows, '|' separated
q() { psql -XAtq -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

# az ARGS... : runs auzdb with text logs; sets RC, OUT, ERR
az() {
  "$AUZDB_BIN" "$@" >"$T_TMP/.az_out" 2>"$T_TMP/.az_err" </dev/null
  RC=$?
  OUT=$(cat "$T_TMP/.az_out"); ERR=$(cat "$T_TMP/.az_err")
  return 0
}
expect_rc() { [ "$RC" = "$1" ] || fail "${2:-auzdb}: expected exit $1, got $RC"; }
expect_out() { grep -qE -- "$1" "$T_TMP/.az_out" || fail "${2:-stdout} does not match /$1/"; }
expect_err() { grep -qE -- "$1" "$T_TMP/.az_err" || fail "${2:-stderr} does not match /$1/"; }
# exactly one line on stderr, and it is an error naming $1
expect_one_line_error() {
  local n; n=$(grep -c '' "$T_TMP/.az_err")
  [ "$n" = 1 ] || fail "expected one stderr line, got $n"
  grep -qE -- "error.*$1" "$T_TMP/.az_err" || fail "stderr error does not name /$1/"
}
eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }

# snapshot DB -> a text picture of schema + ledger, to prove "no change"
snapshot() {
  pg_dump --schema-only --no-owner -d "$1" 2>/dev/null | grep -v -e '^--' -e '^$' -e '^\\restrict' -e '^\\unrestrict'
  psql -XAtq -d "$1" -c "SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count FROM _prisma_migrations ORDER BY started_at, id" 2>/dev/null
}

# mkmig SETDIR NAME SQL : writes SETDIR/NAME/migration.sql
mkmig() { mkdir -p "$1/$2"; printf '%s' "$3" > "$1/$2/migration.sql"; }

# schema_dump DB -> `pg_dump --schema-only`, minus comments and \restrict lines
schema_dump() { pg_dump --schema-only -d "$1" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict'; }
# content_hashes DB -> one line per table / populated materialized view
# (row count and a hash of its rows) and per sequence (last_value, is_called)
content_hashes() {
  local t k
  psql -XAtq -d "$1" -c "SELECT format('%I.%I', n.nspname, c.relname), c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE (c.relkind IN ('r', 'S') OR (c.relkind = 'm' AND c.relispopulated)) AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' ORDER BY 1" |
  while IFS='|' read -r t k; do
    if [ "$k" = S ]; then
      echo "$t $(psql -XAtq -d "$1" -c "SELECT last_value, is_called FROM $t")"
    else
      echo "$t $(psql -XAtq -d "$1" -c "SELECT count(*), md5(coalesce(string_agg(md5(x::text), '' ORDER BY md5(x::text)), '')) FROM $t x")"
    fi
  done
}
# same_db A B WHAT: schema and every table's content are identical
same_db() {
  diff <(schema_dump "$1") <(schema_dump "$2") > "$T_TMP/.schema_diff" || { head -40 "$T_TMP/.schema_diff" >&2; fail "${3:-restore}: pg_dump --schema-only of $1 and $2 differ"; }
  diff <(content_hashes "$1") <(content_hashes "$2") > "$T_TMP/.data_diff" || { head -40 "$T_TMP/.data_diff" >&2; fail "${3:-restore}: table contents of $1 and $2 differ"; }
}
# backup_files DIR -> the .sql.gz files under a backup directory, oldest set first
backup_files() { find "$1" -name '*.sql.gz' 2>/dev/null | sort; }
# ms -> milliseconds since the epoch (for figures tests print, never assert)
ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_until DB SQL: polls (up to 60 s) until SQL returns t
wait_until() {
  local i
  for i in $(seq 1 600); do
    [ "$(q "$1" "$2" 2>/dev/null)" = t ] && return 0
    sleep 0.1
  done
  fail "timed out waiting for: $2"
}

