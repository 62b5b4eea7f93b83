# tests/lib.sh - shared helpers for the integration tests (sourced, bash).
# Every test: gets its own databases (newdb), asserts on exit codes, output,
# rows and files, and drops what it made on exit.  Ends with done_testing
# (the line "N passed, 0 failed"), exits 1 at the first failed assertion
# (fail), or skips with skip_test (exit 77).  A script that exits any other
# way - an early `exit 0`, falling off the end, an unset variable - fails
# with a message: see t_exit below.  How to write one: docs/testing.md.
set -uo pipefail
T_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

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

T_PRIVATE=()      # private servers (pg_private_start), stopped on exit
T_DONE=""         # set by done_testing and fail: the script ended on purpose
T_SKIP_REASON=""  # set by skip_test
T_EXIT_HOOK=""    # the test's own `trap CMD EXIT` (see trap below)
T_MAIN_PID=$BASHPID

t_cleanup() {
  local db
  pg_private_stop_all
  # databases were made on the fixture server (pg_use may have switched away)
  if [ "${T_SERVER:-fixture}" != fixture ]; then pg_use fixture; fi
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
  pg_private_stop_all   # before a handler of the test removes $T_TMP
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

# ---- the test kit (docs/testing.md "Adding a test") -----------------------

# t_match FILE PATTERN: PATTERN is an extended regex FILE must match, or
# !REGEX that it must not match; an empty PATTERN checks nothing
t_match() {
  case "$2" in
  '') return 0 ;;
  '!'*) ! grep -qE -- "${2#!}" "$1" ;;
  *) grep -qE -- "$2" "$1" ;;
  esac
}

# az_check NAME EXIT OUT ERR -- ARGS...: runs `auzdb ARGS...` (as az does:
# RC, OUT, ERR are set), checks the exit code and that stdout matches OUT and
# stderr matches ERR (t_match patterns: '' = anything, '!re' = must not
# match, '!.' = empty), and passes NAME.  Like PostgreSQL's TAP
# command_checks_all.  Environment for one run: VAR=value az_check ...
az_check() {
  local name=$1 want=$2 out_re=$3 err_re=$4
  shift 4
  [ "${1:-}" = -- ] && shift
  az "$@"
  [ "$RC" = "$want" ] || fail "$name: expected exit $want, got $RC"
  t_match "$T_TMP/.az_out" "$out_re" || fail "$name: stdout does not match /$out_re/"
  t_match "$T_TMP/.az_err" "$err_re" || fail "$name: stderr does not match /$err_re/"
  pass "$name"
}

# t_ident NAME -> NAME as a quoted SQL identifier
t_ident() { local s=${1//\"/\"\"}; printf '"%s"' "$s"; }

# az_sql_like NAME TARGET PATTERN -- ARGS...: which SQL reached the server.
# Sets log_statement = 'all' for TARGET (a database name, or role=ROLE:
# ALTER DATABASE/ROLE ... SET, new sessions only), runs `auzdb ARGS...` (RC,
# OUT, ERR as az), resets it, and checks the server log written meanwhile
# against PATTERN (a t_match pattern: '!re' = no such statement).  For a
# database only its own log entries count; for a role every entry.  Each
# entry (continuation lines joined) is one line of $SQL_LOG, for more greps.
# Like PostgreSQL's TAP issues_sql_like.  Does not check RC: expect_rc after.
az_sql_like() {
  local name=$1 target=$2 want=$3 kind what log off end
  shift 3
  [ "${1:-}" = -- ] && shift
  case "$target" in role=*) kind=ROLE; what=${target#role=} ;; *) kind=DATABASE; what=$target ;; esac
  log="$PGTEST_BASE/server.log"
  [ -r "$log" ] || fail "$name: cannot read the server log $log"
  q postgres "ALTER $kind $(t_ident "$what") SET log_statement = 'all'" >/dev/null || fail "$name: ALTER $kind $what SET log_statement"
  off=$(stat -c %s "$log")
  az "$@"
  end=$(stat -c %s "$log")
  q postgres "ALTER $kind $(t_ident "$what") RESET log_statement" >/dev/null || fail "$name: ALTER $kind $what RESET log_statement"
  SQL_LOG="$T_TMP/.sql_log"
  # log_line_prefix is '%m [%p] %d ' (tests/pgserver.sh): an entry starts with a timestamp
  tail -c +$((off + 1)) "$log" | head -c $((end - off)) | awk -v db="$what" -v bydb="$([ "$kind" = DATABASE ] && echo 1)" '
    function flush() { if (e != "" && (!bydb || index(e, "] " db " ") > 0)) print e; e = "" }
    /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] / { flush(); e = $0; next }
    { e = e " " $0 }
    END { flush() }' > "$SQL_LOG"
  if ! t_match "$SQL_LOG" "$want"; then
    echo "--- server log entries for $target while auzdb ran (last 40):" >&2
    tail -n 40 "$SQL_LOG" >&2
    fail "$name: the statements sent do not match /$want/"
  fi
  pass "$name"
}

# pg_private_start NAME [SETTING=VALUE...]: a PostgreSQL of the test's own
# (tests/pgserver.sh in $T_TMP/pg-NAME, another port), for settings the
# shared server must not get, or to crash or restart it; the settings are
# applied with ALTER SYSTEM and a restart.  Stopped and deleted on exit.
# Nothing switches to it by itself: pg_use NAME (and pg_use fixture).
pg_private_start() {
  local name=$1 dir="$T_TMP/pg-$1" kv k
  shift
  [[ $name =~ ^[A-Za-z0-9_]+$ ]] || fail "pg_private_start: bad server name '$name'"
  bash "$T_LIBDIR/pgserver.sh" start "$dir" > "$T_TMP/.pg-$name.log" 2>&1 || { cat "$T_TMP/.pg-$name.log" >&2; fail "cannot start private server $name"; }
  T_PRIVATE+=("$dir")
  [ $# -gt 0 ] || return 0
  for kv in "$@"; do
    k=${kv%%=*}
    [[ $k =~ ^[a-z_.]+$ ]] && [ "$k" != "$kv" ] || fail "pg_private_start: expected SETTING=VALUE, got '$kv'"
    (. "$dir/env"; printf "ALTER SYSTEM SET %s = :'v';\n" "$k" | psql -XAtq -v ON_ERROR_STOP=1 -v v="${kv#*=}" -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres) >/dev/null \
      || fail "pg_private_start $name: cannot set $kv"
  done
  (. "$dir/env"; t_as_pg "$PGTEST_BINDIR/pg_ctl" -D "$PGTEST_DATA" -l "$PGTEST_BASE/server.log" -w -t 60 restart) >/dev/null \
    || fail "pg_private_start $name: restart with $* failed"
}
# pg_use NAME | fixture: point PG*, PGTEST_URL, url, q, newdb, az_sql_like at that server
pg_use() {
  local envf="$T_TMP/pg-$1/env"
  [ "$1" = fixture ] && envf="$PGTEST_DIR/env"
  [ -f "$envf" ] || fail "pg_use: no server '$1'"
  # shellcheck disable=SC1090
  . "$envf"
  export PGHOST PGPORT PGUSER
  T_SERVER=$1
}
pg_private_stop_all() {
  local dir
  for dir in "${T_PRIVATE[@]}"; do bash "$T_LIBDIR/pgserver.sh" stop "$dir" >/dev/null 2>&1; done
  T_PRIVATE=()
}
t_as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
