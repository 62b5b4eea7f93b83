#!/usr/bin/env bash
# Starts or stops the throwaway PostgreSQL 15 server the tests run against.
#   tests/pgserver.sh start DIR   initdb into DIR/data, listen on a free port on
#                                 127.0.0.1 and a unix socket, write DIR/env
#   tests/pgserver.sh stop DIR    stop it and delete its files
# As root, the server runs as user postgres.  TCP needs a password (scram);
# the unix socket trusts local users (the tests' psql uses it).
set -euo pipefail
cmd=${1:?usage: pgserver.sh start|stop DIR}
dir=${2:?usage: pgserver.sh start|stop DIR}

bindir=""
for d in /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null || true)"; do
  if [ -x "$d/initdb" ]; then bindir=$d; break; fi
done
[ -n "$bindir" ] || { echo "pgserver: PostgreSQL 15 server binaries not found (apt-get install postgresql-15)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  if [ -f "$dir/env" ]; then
    # a previous run left a server: stop it first
    "$0" stop "$dir" || true
  fi
  mkdir -p "$dir"
  data="$dir/data"
  # The server needs a short socket path and a data dir user postgres can reach.
  base="$dir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir" 2>/dev/null || true
    if ! runuser -u postgres -- test -w "$dir" 2>/dev/null || [ ${#dir} -gt 80 ]; then
      base=$(mktemp -d /tmp/auzdb-pg.XXXXXX); chmod 755 "$base"; chown postgres "$base"
    fi
  elif [ ${#dir} -gt 80 ]; then
    base=$(mktemp -d /tmp/auzdb-pg.XXXXXX)
  fi
  data="$base/data"; sock="$base/sock"
  as_pg mkdir -p "$sock"
  password="pgtest-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  pwfile="$base/pw"
  printf '%s\n' "$password" > "$pwfile"; chmod 644 "$pwfile"
  as_pg "$bindir/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" >"$base/initdb.log" 2>&1 \
    || { cat "$base/initdb.log" >&2; exit 1; }
  rm -f "$pwfile"
  # a free port: ask the kernel by trying to connect to candidates
  port=""
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 12000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
  done
  [ -n "$port" ] || { echo "pgserver: no free port found" >&2; exit 1; }
  cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
CONF
  as_pg "$bindir/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 start >/dev/null \
    || { cat "$base/server.log" >&2; exit 1; }
  cat > "$dir/env" <<ENV
PGTEST_BASE='$base'
PGTEST_BINDIR='$bindir'
PGTEST_DATA='$data'
PGHOST='$sock'
PGPORT='$port'
PGUSER=postgres
PGTEST_PASSWORD='$password'
PGTEST_URL='postgresql://postgres:$password@127.0.0.1:$port'
ENV
  echo "pgserver: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port and $sock (data $data)"
  ;;
stop)
  [ -f "$dir/env" ] || { echo "pgserver: nothing to stop in $dir"; exit 0; }
  # shellcheck disable=SC1091
  . "$dir/env"
  as_pg "$PGTEST_BINDIR/pg_ctl" -D "$PGTEST_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PGTEST_DATA" "$PGTEST_BASE/sock" "$PGTEST_BASE/server.log" "$PGTEST_BASE/initdb.log"
  [ "$PGTEST_BASE" = "$dir" ] || rm -rf "$PGTEST_BASE"
  rm -f "$dir/env"
  echo "pgserver: stopped"
  ;;
*) echo "usage: pgserver.sh start|stop DIR" >&2; exit 2 ;;
esac
