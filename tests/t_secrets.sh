#!/usr/bin/env bash
# No secret in any output: every command runs with a distinctive password
# (in the URL, in PGPASSWORD, in a _FILE, in the tenant template), and all
# stdout, stderr, reports and termination messages are searched for it.
. "$(dirname "$0")/lib.sh"

secret="Zq9-UNIQUE-s3cret-$RANDOM"
psql -XAtq -d postgres -c "CREATE ROLE auzdb_secret LOGIN SUPERUSER PASSWORD '$secret'" >/dev/null
trap 'psql -XAtq -d postgres -c "DROP ROLE IF EXISTS auzdb_secret" >/dev/null 2>&1; t_cleanup' EXIT
export AUZDB_TENANT_DB_PREFIX="tsec${RANDOM}_" AUZDB_TERMINATION_LOG="$T_TMP/termlog"
db=$(newdb)
createdb "${AUZDB_TENANT_DB_PREFIX}one"; T_DBS+=("${AUZDB_TENANT_DB_PREFIX}one")
good="postgresql://auzdb_secret:$secret@127.0.0.1:$PGPORT/$db"
badpw="postgresql://auzdb_secret:${secret}X@127.0.0.1:$PGPORT/$db"
echo "$good" > "$T_TMP/urlfile"
all="$T_TMP/all-output"; : > "$all"
collect() { cat "$T_TMP/.az_out" "$T_TMP/.az_err" >> "$all"; [ -f "$T_TMP/termlog" ] && cat "$T_TMP/termlog" >> "$all"; [ -f "$T_TMP/report.json" ] && cat "$T_TMP/report.json" >> "$all"; true; }
for fmt in text json; do
  az run --database-url "$good" --log-format "$fmt" --report "$T_TMP/report.json" -v; collect
  az status --database-url "$good" --log-format "$fmt" -v; collect
  az tenants --database-url "$good" --log-format "$fmt"; collect
  az migrate --database-url "$badpw" --log-format "$fmt"; collect
  [ "$RC" = 4 ] || fail "wrong password exit $RC"
  DATABASE_URL_FILE="$T_TMP/urlfile" az status --log-format "$fmt" -v; collect
  PGPASSWORD="$secret" az status --database-url "postgresql://auzdb_secret@127.0.0.1:$PGPORT/$db" --log-format "$fmt" -v; collect
  PGPASSWORD="${secret}X" az status --database-url "postgresql://auzdb_secret@127.0.0.1:$PGPORT/$db" --log-format "$fmt"; collect
  az status --database-url "postgresql://auzdb_secret:$secret@127.0.0.1:$PGPORT/$db?bogus=1" --log-format "$fmt"; collect
  az status --database-url "host=127.0.0.1 port=$PGPORT user=auzdb_secret password=$secret dbname=$db sslmode=nope" --log-format "$fmt"; collect
  AUZDB_TENANT_URL_TEMPLATE="postgresql://auzdb_secret:$secret@127.0.0.1:$PGPORT/{database}" az run --database-url "$good" --log-format "$fmt" --tenant missing -v; collect
  az resolve --applied nope --database-url "$good" --log-format "$fmt"; collect
done
[ -s "$all" ] || fail "no output collected"
if grep -qF -- "$secret" "$all"; then grep -nF -- "$secret" "$all" | head -3 >&2; fail "the password appears in the output"; fi
pass "$(wc -l < "$all") lines of output, reports and termination messages: the password never appears"
[ "$(stat -c %a "$T_TMP/report.json")" = 600 ] || fail "report not 0600"
pass "report file is 0600"
done_testing
