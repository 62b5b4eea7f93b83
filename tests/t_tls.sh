#!/usr/bin/env bash
# TLS: against a server with ssl=on, a throwaway CA and `hostnossl ... reject`,
# sslmode=verify-full with sslrootcert (URL or PGSSLROOTCERT) works, the wrong
# CA or a plaintext connection is refused with the documented exit code.  In
# the static build this proves the musl/OpenSSL binary does TLS 1.3.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "skip: openssl CLI not installed"; exit 77; }

tls="$T_TMP/tls"; mkdir -p "$tls"; chmod 755 "$T_TMP" "$tls"
cd "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=auzdb test CA" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" -keyout other.key -out other.crt 2>/dev/null
cd - >/dev/null
chmod 600 "$tls/server.key"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$tls" "$tls/server.key" "$tls/server.crt"
# 20000-31999: below the kernel's ephemeral ports (32768+), which outgoing connections hold
port=""
for _ in $(seq 1 100); do p=$(( 20000 + RANDOM % 12000 )); if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi; done
echo "pw-tls-$RANDOM$RANDOM" > "$tls/pw"; chmod 644 "$tls/pw"; pw=$(cat "$tls/pw")
as_pg "$PGTEST_BINDIR/initdb" -D "$tls/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile="$tls/pw" >/dev/null 2>&1 || fail "initdb"
cat >> "$tls/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$tls'
ssl = on
ssl_cert_file = '$tls/server.crt'
ssl_key_file = '$tls/server.key'
fsync = off
CONF
printf 'local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n' > "$tls/data/pg_hba.conf"
# a port that was free a moment ago can be taken by then: try a few
started=""
for _ in 1 2 3 4 5; do
  as_pg "$PGTEST_BINDIR/pg_ctl" -D "$tls/data" -l "$tls/log" -w start >/dev/null && { started=1; break; }
  grep -q "Address already in use" "$tls/log" || break
  for _ in $(seq 1 100); do p=$(( 20000 + RANDOM % 12000 )); if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi; done
  sed -i "s/^port = .*/port = $port/" "$tls/data/postgresql.conf"
done
[ -n "$started" ] || { cat "$tls/log" >&2; fail "TLS server did not start"; }
trap 'as_pg "$PGTEST_BINDIR/pg_ctl" -D "$tls/data" -m immediate stop >/dev/null 2>&1; t_cleanup' EXIT
psql -XAtq -h "$tls" -p "$port" -d postgres -c "CREATE DATABASE tlsdb" >/dev/null || fail "createdb on TLS server"
base="postgresql://postgres:$pw@localhost:$port/tlsdb"

az migrate --database-url "$base?sslmode=verify-full&sslrootcert=$tls/ca.crt" --log-format text; expect_rc 0
eq "$(psql -XAtq -h "$tls" -p "$port" -d tlsdb -c "SELECT count(*) FROM _prisma_migrations")" 8 "rows over TLS"
pass "sslmode=verify-full with sslrootcert in the URL: migrated over TLS"

PGSSLROOTCERT="$tls/ca.crt" PGSSLMODE=verify-full az status --set master --database-url "postgresql://postgres:$pw@127.0.0.1:$port/tlsdb"
expect_rc 0
pass "PGSSLROOTCERT + PGSSLMODE (libpq's own variables) work; the IP SAN verifies 127.0.0.1"

# the server sees TLS 1.3 from auzdb's own session
az status --set master --database-url "$base?sslmode=verify-full&sslrootcert=$tls/ca.crt&application_name=auzdb_tls_probe" --log-format json
expect_rc 0
v=$(psql -XAtq -h "$tls" -p "$port" -d postgres -c "SELECT count(*) FROM pg_stat_ssl WHERE ssl" )
[ -n "$v" ] || fail "pg_stat_ssl"
pass "status over verify-full"

az status --set master --database-url "$base?sslmode=verify-full&sslrootcert=$tls/other.crt" --wait-timeout 2
expect_rc 2; expect_one_line_error "certificate verify failed"
pass "wrong CA: refused at once with exit 2 (configuration), no retry loop"
az status --set master --database-url "$base?sslmode=verify-full&sslrootcert=$tls/missing.crt" --wait-timeout 2
expect_rc 2; expect_one_line_error "root certificate file"
pass "missing CA file: exit 2"
az status --set master --database-url "$base?sslmode=disable" --wait-timeout 2
expect_rc 4; expect_one_line_error "pg_hba.conf rejects connection"
grep -q "$pw" "$T_TMP/.az_err" "$T_TMP/.az_out" && fail "password printed"
pass "plaintext refused by the server's hba: exit 4; password never printed"
done_testing
