#!/usr/bin/env bash
# The test kit itself (tests/lib.sh), against the real server: a script that
# ends before done_testing fails (an early exit 0, falling off the end, an
# unset variable) while fail, skip_test and exit 77 keep their meaning and a
# test's own EXIT trap still runs; az_check catches a wrong exit code or
# output; az_sql_like sees the statements auzdb sent (and only the target
# database's); a private server gets its settings and is stopped at exit.
# The failing cases run as child scripts, since a failure ends a script.
. "$(dirname "$0")/lib.sh"
export AUZDB_LOG_FORMAT=text

KIT="$T_TMP/kit"; mkdir -p "$KIT"
# child NAME BODY: runs BODY as the test script t_NAME.sh (sourcing this
# lib.sh); sets CRC, and its stdout/stderr in $KIT/NAME.out / .err
child() {
  { printf '. %q\n' "$T_LIBDIR/lib.sh"; printf '%s\n' "$2"; } > "$KIT/t_$1.sh"
  AUZDB_SKIP_LOG="$KIT/skips" bash "$KIT/t_$1.sh" > "$KIT/$1.out" 2> "$KIT/$1.err"
  CRC=$?
}
# child_is NAME EXIT OUT ERR: the last child's exit code and output (t_match patterns)
child_is() {
  [ "$CRC" = "$2" ] || { cat "$KIT/$1.out" "$KIT/$1.err" >&2; fail "child $1: expected exit $2, got $CRC"; }
  t_match "$KIT/$1.out" "$3" || { cat "$KIT/$1.out" >&2; fail "child $1: stdout does not match /$3/"; }
  t_match "$KIT/$1.err" "$4" || { cat "$KIT/$1.err" >&2; fail "child $1: stderr does not match /$4/"; }
}
exists() { q postgres "SELECT count(*) FROM pg_database WHERE datname = '$1'"; }

# ---- the EXIT trap
child kit_done 'pass one; done_testing'
child_is kit_done 0 '^1 passed, 0 failed$' '!.'
child kit_early 'pass one; exit 0; pass two; done_testing'
child_is kit_early 1 '^1 passed, 1 failed$' 'FAIL \[kit_early\]: the script ended \(exit 0, last command: exit 0\) before done_testing'
child kit_end 'pass one; true'
child_is kit_end 1 '1 passed, 1 failed' 'ended \(exit 0, last command: true\) before done_testing'
child kit_unset 'pass one; echo "$no_such_variable"; done_testing'
child_is kit_unset 1 '1 passed, 1 failed' 'no_such_variable: unbound variable'
child kit_exit3 'exit 3'
child_is kit_exit3 3 '0 passed, 1 failed' 'ended \(exit 3'
pass "a script that ends before done_testing fails: an early exit 0 (exit 1), falling off the end, an unset variable, exit 3 (kept)"

child kit_fail 'pass one; fail "boom"; done_testing'
child_is kit_fail 1 '^1 passed, 1 failed$' 'FAIL \[kit_fail\]: boom'
t_match "$KIT/kit_fail.err" '!before done_testing' || fail "fail also got the early-exit message"
child kit_raw77 'echo "skip: no widget here"; exit 77'
child_is kit_raw77 77 '^skip: no widget here$' '!.'
child kit_skip 'skip_test "needs a widget"; done_testing'
child_is kit_skip 77 '!.' '^SKIP \[kit_skip\]: needs a widget$'
eq "$(cat "$KIT/skips")" "$(printf 'kit_raw77\t\nkit_skip\tneeds a widget')" "skip log"
pass "fail exits 1 with its message only; exit 77 and skip_test stay skips (exit 77), logged for ctest's summary"

child kit_hook 'db=$(newdb); echo "db=$db"; trap '\''echo "hook ran"; t_cleanup'\'' EXIT INT; trap -p INT; pass one; done_testing'
child_is kit_hook 0 '^hook ran$' '!.'
grep -q "^trap -- 'echo \"hook ran\"; t_cleanup' SIGINT" "$KIT/kit_hook.out" || fail "trap CMD EXIT INT: INT not passed to the builtin"
db=$(sed -n 's/^db=//p' "$KIT/kit_hook.out")
eq "$(exists "$db")" 0 "database of a child whose hook calls t_cleanup"
child kit_hook_early 'db=$(newdb); echo "db=$db"; trap '\''echo "hook ran"; t_cleanup'\'' EXIT; exit 0'
child_is kit_hook_early 1 '^hook ran$' 'before done_testing'
eq "$(exists "$(sed -n 's/^db=//p' "$KIT/kit_hook_early.out")")" 0 "database of a child that exited early"
child kit_nohook 'db=$(newdb); echo "db=$db"; trap '\''echo "hook ran"'\'' EXIT; trap - EXIT; exit 0'
child_is kit_nohook 1 '!hook ran' 'before done_testing'
db=$(sed -n 's/^db=//p' "$KIT/kit_nohook.out")
eq "$(exists "$db")" 0 "database of a child that exited early (trap - EXIT: t_cleanup again)"
child kit_sub '( trap "echo subshell exit trap" EXIT; exit 0 ); x=$( trap "" EXIT; echo inner ); echo "$x"; pass one; done_testing'
child_is kit_sub 0 'subshell exit trap' '!.'
pass "a test's own EXIT trap runs and the early-exit check still holds; trap - EXIT restores t_cleanup; subshells keep their own traps"

# ---- az_check
az_check "az_check: --version (exit 0, stdout, empty stderr)" 0 '^auzdb [0-9]+\.[0-9]+' '!.' -- --version
AUZDB_CONCURRENCY=0 az_check "az_check: VAR=value for one run" 2 '' 'AUZDB_CONCURRENCY=0' -- status
child kit_rc 'az_check "version" 5 "" "" -- --version; done_testing'
child_is kit_rc 1 '0 passed, 1 failed' 'FAIL \[kit_rc\]: version: expected exit 5, got 0'
child kit_out 'az_check "version" 0 "^nonsense" "" -- --version; done_testing'
child_is kit_out 1 '' 'version: stdout does not match /\^nonsense/'
child kit_err 'az_check "frob" 2 "" "!." -- frob; done_testing'
child_is kit_err 1 '' "frob: stderr does not match /!\./"
pass "az_check catches a wrong exit code, stdout and a non-empty stderr, with the output of auzdb"

# ---- az_sql_like
db=$(newdb sql); other=$(newdb other)
marker="kit_marker_$RANDOM$RANDOM"
mkmig "$T_TMP/set" 20240101000000_marker "CREATE TABLE $marker (id int);"
az_sql_like "az_sql_like: migrate sends the migration's statement" "$db" "statement: CREATE TABLE $marker" -- \
  migrate --database-url "$(url "$db")" --master-migrations "$T_TMP/set" --skip-backup
expect_rc 0
grep -q 'execute <unnamed>: SELECT pg_catalog.pg_try_advisory_lock' "$SQL_LOG" || fail "SQL_LOG: no advisory lock"
az_sql_like "az_sql_like: only the target database's statements count" "$db" "!$marker" -- \
  migrate --database-url "$(url "$other")" --master-migrations "$T_TMP/set" --skip-backup
expect_rc 0
eq "$(q "$other" "SELECT count(*) FROM $marker")" 0 "the other database was migrated"
az_sql_like "az_sql_like: status sends no DDL" "$db" '!(CREATE|ALTER|DROP) ' -- status --database-url "$(url "$db")" --master-migrations "$T_TMP/set"
expect_rc 0
eq "$(q postgres "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = '$db'")" 0 "settings left on $db"

role="kit_role_$RANDOM"; pw="kit-$RANDOM$RANDOM"
q postgres "CREATE ROLE $role LOGIN SUPERUSER PASSWORD '$pw'" >/dev/null || fail "create role"
trap 'q postgres "DROP ROLE IF EXISTS '"$role"'" >/dev/null 2>&1; t_cleanup' EXIT
az_sql_like "az_sql_like role=: every session of the role" "role=$role" '_prisma_migrations' -- \
  status --database-url "postgresql://$role:$pw@127.0.0.1:$PGPORT/$db" --master-migrations "$T_TMP/set"
expect_rc 0
eq "$(q postgres "SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = '$role'")" 0 "settings left on $role"
child kit_sql "db=\$(newdb); az_sql_like 'no such statement' \"\$db\" 'DROP TABLE kit_never' -- status --database-url \"\$(url \"\$db\")\"; done_testing"
child_is kit_sql 1 '' "no such statement: the statements sent do not match /DROP TABLE kit_never/"
pass "az_sql_like: a statement that was not sent fails the test, with the log entries"

# ---- private servers
pg_private_start kit log_statement=all max_connections=40
fixture_port=$PGPORT
pg_use kit
[ "$PGPORT" != "$fixture_port" ] || fail "pg_use kit: still the fixture's port"
eq "$(q postgres "SHOW log_statement")" all "log_statement on the private server"
eq "$(q postgres "SHOW max_connections")" 40 "max_connections (needs the restart)"
pdb=$(newdb priv)
az migrate --database-url "$(url "$pdb")" --master-migrations "$T_TMP/set" --skip-backup; expect_rc 0
grep -q "\] $pdb LOG:  statement: CREATE TABLE $marker" "$PGTEST_BASE/server.log" || fail "private server log: no CREATE TABLE"
pg_use fixture
eq "$PGPORT" "$fixture_port" "pg_use fixture"
eq "$(exists "$pdb")" 0 "the private server's database on the fixture"
pass "pg_private_start: its own server with log_statement=all and max_connections=40 (restart), pg_use switches to it and back"

child kit_priv 'pg_private_start p; pg_use p; echo "pid=$(head -n 1 "$PGTEST_DATA/postmaster.pid") data=$PGTEST_DATA"; exit 0'
child_is kit_priv 1 '^pid=[0-9]+ data=' 'before done_testing'
pid=$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$KIT/kit_priv.out"); data=$(sed -n 's/.* data=//p' "$KIT/kit_priv.out")
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "the private server of an exited child still runs (pid $pid)"
[ -e "$data" ] && fail "the private server's data directory $data is left"
pass "a private server is stopped and deleted when its test exits, even early"

done_testing
