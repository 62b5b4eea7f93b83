#!/usr/bin/env bash
# No migration without a good backup: an unwritable directory, a full disk,
# the server connection dying mid-dump each end with exit 6, the database
# unmigrated, and no file under the final name.  Writes made while a dump
# runs do not leak into it (one snapshot).
. "$(dirname "$0")/lib.sh"

base="$T_TMP/base"
mkmig "$base" 20240101000000_a 'CREATE TABLE big (id serial PRIMARY KEY, v text); CREATE SEQUENCE side_seq;'
set="$T_TMP/set"; cp -r "$base" "$set"
mkmig "$set" 20240102000000_b 'CREATE TABLE migrated (id int);'
mkdb() {
  local d; d=$(newdb "$1")
  "$AUZDB_BIN" migrate --database-url "$(url "$d")" --master-migrations "$base" --skip-backup >/dev/null 2>&1 || fail "base migration of $d"
  q "$d" "SELECT 1 WHERE false ; INSERT INTO big (v) SELECT md5(random()::text) || md5(random()::text) FROM generate_series(1, ${2:-1000})" >/dev/null
  echo "$d"
}
not_migrated() {
  eq "$(q "$1" "SELECT count(*) FROM pg_tables WHERE tablename = 'migrated'")" 0 "$2: migration ran"
  eq "$(q "$1" "SELECT count(*) FROM _prisma_migrations")" 1 "$2: ledger rows"
}
no_final_file() { # DIR
  [ -z "$(find "$1" -name '*.sql.gz' 2>/dev/null)" ] || fail "a backup file exists under its final name: $(find "$1" -name '*.sql.gz')"
  [ -z "$(find "$1" -name '*.tmp' 2>/dev/null)" ] || fail "a temp file was left: $(find "$1" -name '*.tmp')"
}

# 1. the backup directory cannot be created (a file is in the way)
db=$(mkdb notdir)
touch "$T_TMP/afile"
az migrate --database-url "$(url "$db")" --master-migrations "$set" --backup-dir "$T_TMP/afile/backups"
expect_rc 6; expect_one_line_error "backup of .*$db.* failed: cannot create backup directory .*afile/backups: Not a directory"
not_migrated "$db" "unwritable dir"
pass "backup directory cannot be created: exit 6, one error line, not migrated"

root_mounts=false
if [ "$(id -u)" = 0 ] && mkdir -p "$T_TMP/probe" && mount -t tmpfs -o size=64k tmpfs "$T_TMP/probe" 2>/dev/null; then
  umount "$T_TMP/probe"; root_mounts=true
fi

if $root_mounts; then
  # 2. a read-only file system
  mkdir -p "$T_TMP/ro"; mount -t tmpfs -o ro,size=1m tmpfs "$T_TMP/ro"
  az migrate --database-url "$(url "$db")" --master-migrations "$set" --backup-dir "$T_TMP/ro/b"
  umount "$T_TMP/ro"
  expect_rc 6; expect_one_line_error "Read-only file system"
  not_migrated "$db" "read-only dir"
  pass "read-only backup file system: exit 6, not migrated"

  # 3. the disk fills up in the middle of the file
  big=$(mkdb full 60000)
  mkdir -p "$T_TMP/full"; mount -t tmpfs -o size=512k tmpfs "$T_TMP/full"
  az migrate --database-url "$(url "$big")" --master-migrations "$set" --backup-dir "$T_TMP/full/b" --log-format text
  rc=$RC; left=$(find "$T_TMP/full" -type f | grep -v manifest); umount "$T_TMP/full"
  RC=$rc; expect_rc 6; expect_err "No space left on device"
  [ -z "$left" ] || fail "files left on the full disk: $left"
  not_migrated "$big" "disk full"
  pass "disk full mid-backup: exit 6, temp file removed, nothing under the final name, not migrated"
else
  echo "# skipping read-only and disk-full cases: cannot mount tmpfs here"
fi

# 4. the server connection dies in the middle of the dump: a session holds a
# sequence, so the dump stops after writing the table data; then its backend is killed
hold() { # DB SQL: runs SQL in a transaction that stays open until release
  mkfifo "$T_TMP/hold"
  ( { echo "BEGIN; $2"; cat "$T_TMP/hold"; echo "ROLLBACK;"; } | PGAPPNAME=holder psql -XAtq -d "$1" > "$T_TMP/holder.out" 2>&1 ) &
  holder=$!
  # psql buffers its output to a file, so watch the server instead
  for _ in $(seq 1 200); do
    [ "$(q "$1" "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'holder' AND state = 'idle in transaction'")" = 1 ] && return
    sleep 0.05
  done
  echo > "$T_TMP/hold"
  fail "holder did not start: $(cat "$T_TMP/holder.out")"
}
release() { echo > "$T_TMP/hold"; wait $holder; rm -f "$T_TMP/hold"; }
wait_for_lock_wait() { # DB
  for _ in $(seq 1 200); do
    pid=$(q "$1" "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'auzdb' AND wait_event_type = 'Lock'")
    [ -n "$pid" ] && return
    sleep 0.05
  done
  fail "auzdb never waited for the held sequence"
}

db=$(mkdb dies 20000)
hold "$db" "ALTER SEQUENCE side_seq RENAME TO side_seq_held;"
"$AUZDB_BIN" migrate --database-url "$(url "$db")" --master-migrations "$set" --backup-dir "$T_TMP/dies" --log-format text >"$T_TMP/.az_out" 2>"$T_TMP/.az_err" &
az_pid=$!
wait_for_lock_wait "$db"
tmpfile=$(find "$T_TMP/dies" -name '*.sql.gz.tmp')
[ -n "$tmpfile" ] || fail "no temp file while the dump runs"
q "$db" "SELECT pg_terminate_backend($pid)" >/dev/null
wait $az_pid; RC=$?
release
expect_rc 6; expect_err "backup of .*$db.* failed: reading sequence .*side_seq"
no_final_file "$T_TMP/dies"
not_migrated "$db" "server died"
pass "connection killed mid-dump (after the table data): exit 6, temp file removed, not migrated"

# 5. writes committed while the dump runs are not in it (one REPEATABLE READ snapshot)
db=$(mkdb concurrent 20000)
q "$db" "CREATE TABLE pairs (id int PRIMARY KEY, other int NOT NULL)" >/dev/null
before=$(content_hashes "$db")
hold "$db" "ALTER SEQUENCE side_seq RENAME TO side_seq_held;"
"$AUZDB_BIN" migrate --database-url "$(url "$db")" --master-migrations "$set" --backup-dir "$T_TMP/conc" --log-format text >"$T_TMP/.az_out" 2>"$T_TMP/.az_err" &
az_pid=$!
wait_for_lock_wait "$db"
q "$db" "BEGIN; INSERT INTO big (v) SELECT 'late' FROM generate_series(1, 1000); INSERT INTO pairs SELECT i, i FROM generate_series(1, 1000) i; UPDATE big SET v = 'changed' WHERE id <= 10; DELETE FROM big WHERE id BETWEEN 11 AND 20; COMMIT;" >/dev/null
release
wait $az_pid; RC=$?
expect_rc 0
eq "$(q "$db" "SELECT count(*) FROM migrated")" 0 "migration after the backup"
file=$(find "$T_TMP/conc" -name '*.sql.gz')
restored=$(newdb restored)
az restore "$file" --database "$(url "$restored")"; expect_rc 0
eq "$(content_hashes "$restored")" "$before" "restored data = data when the dump began"
grep -q '"public.big": 20000' "$(dirname "$file")/manifest.json" || fail "manifest counts rows of the snapshot"
pass "writes committed during the dump are not in it: the backup is one consistent snapshot, then the migration runs"
done_testing
