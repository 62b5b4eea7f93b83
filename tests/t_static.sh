#!/usr/bin/env bash
# The release artifact: a fully static binary that needs nothing on disk.
# Runs only in the static build (skipped elsewhere, exit 77).
. "$(dirname "$0")/lib.sh"
case "${AUZDB_STATIC_BUILD:-0}" in 1|ON|on|TRUE|true) ;; *) echo "skip: not the static build"; exit 77 ;; esac

file -b "$AUZDB_BIN" | grep -q "statically linked" || fail "file(1) does not say statically linked: $(file -b "$AUZDB_BIN")"
readelf -lW "$AUZDB_BIN" | grep -q "program interpreter" && fail "binary has a program interpreter"
pass "file says statically linked; no program interpreter"

out=$(env -i "$AUZDB_BIN" --version) || fail "env -i --version failed"
echo "$out" | grep -qE "libpq 15\.[0-9]+, OpenSSL 3\.[0-9.]+.*zlib 1\." || fail "version: $out"
pass "runs under env -i and names the linked libpq, OpenSSL and zlib"

# an empty root: only the binary; user and IP host in the URL, no /etc at all
[ "$(id -u)" = 0 ] || { echo "skip chroot part: not root"; done_testing; }
root="$T_TMP/root"; mkdir -p "$root"; cp "$AUZDB_BIN" "$root/auzdb"
db=$(newdb chroot)
env -i "$(command -v chroot)" "$root" /auzdb migrate --database-url "postgresql://postgres:$PGTEST_PASSWORD@127.0.0.1:$PGPORT/$db" --log-format json > "$T_TMP/chroot.out" 2>&1 \
  || { cat "$T_TMP/chroot.out" >&2; fail "migrate inside an empty chroot failed"; }
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "rows written from the chroot"
grep -q "$PGTEST_PASSWORD" "$T_TMP/chroot.out" && fail "password printed"
pass "migrates a database from an empty chroot with an empty environment (embedded migrations)"
done_testing
