#!/usr/bin/env bash
# Connection failures map to the documented exit codes, quickly and without
# printing passwords.
. "$(dirname "$0")/lib.sh"

db=$(newdb)
bad="postgresql://postgres:WRONG-pw-123@127.0.0.1:$PGPORT/$db"
az migrate --database-url "$bad"
expect_rc 4; expect_one_line_error "password authentication failed"
grep -q 'WRONG-pw-123' "$T_TMP/.az_err" "$T_TMP/.az_out" && fail "password printed"
pass "wrong password: exit 4 at once, password redacted"

# a port nothing listens on
port=1
for p in 1 9 19 29; do if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then port=$p; break; fi; done
start=$(date +%s)
az migrate --database-url "postgresql://postgres:x@127.0.0.1:$port/$db" --wait-timeout 2
end=$(date +%s)
expect_rc 3; expect_one_line_error "unreachable after [0-9]+ attempts"
[ $((end - start)) -le 10 ] || fail "wait took $((end - start))s"
pass "unreachable host: retried with backoff until the wait deadline, exit 3"

az migrate --database-url "postgresql://nosuchrole:pw@127.0.0.1:$PGPORT/$db"
expect_rc 4
pass "unknown role: exit 4"

# a database that does not exist: migrate creates it, as prisma migrate deploy does
newname=$(dbname_only created)
az status --database-url "$(url "$newname")"
expect_rc 2; expect_one_line_error "does not exist"
az migrate --database-url "$(url "$newname")" --log-format json
expect_rc 0; expect_out 'created database'
eq "$(q "$newname" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "rows"
pass "migrate creates a missing database; status reports it missing (exit 2)"

# libpq's own PG* variables work when no URL is given
PGDATABASE=$db az status; expect_rc 11; expect_out "\"name\":\"$db\""
pass "no URL: libpq PG* variables are used"
done_testing
