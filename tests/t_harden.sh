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
#     is refused before anything is dropped (a pipe, read once: rolled back
#     in the restore's transaction); no statement is refused without --clean
#  4. AUZDB_TENANT_QUERY is one read-only statement: "COMMIT; CREATE ..."
#     changes nothing on master
#  5. a FIFO, a device or an oversized file as a *_FILE, migration.sql or
#     migration_lock.toml is refused at once (it used to hang or eat memory)
#  6. restore bombs (NUL bytes, blank lines, a huge line or statement) are
#     refused as they are read, in bounded memory
#  7. two tenants with the same database name on two servers get a backup
#     file each; a manifest's "set" is its directory's name
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

# --- 2. control characters in URLs, names and prefixes
# dbs_like NAME: the databases whose name starts with NAME (a newline included)
dbs_like() { psql -XAtq -d postgres -c "SELECT string_agg(quote_ident(datname), ' ' ORDER BY datname) FROM pg_database WHERE starts_with(datname, \$x\$$1\$x\$)"; }
m2=$(newdb m2); M2=$(url "$m2")
T_DBS+=("$m2"$'\n' "$m2"$'\n\n' "$m2"$'\x7fx') # what the defect created: dropped on exit
for nl in $'\n' $'\r\n'; do
  MASTER_DATABASE_URL="$M2$nl" az migrate
  expect_rc 0 "migrate with MASTER_DATABASE_URL ending in $(printf %q "$nl")"
  eq "$(dbs_like "$m2")" "$m2" "databases named like $m2 (no second one with a newline)"
  eq "$(q "$m2" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "ledger of $m2"
done
pass "one trailing newline (or CR LF) in MASTER_DATABASE_URL is taken off: the named database is migrated, no other is created"
# refused: one error line naming the variable, the byte and where; nothing changed
refused() { # WHO REGEX COMMAND...
  local who=$1 re=$2 before; shift 2
  before=$(snapshot "$m2"; dbs_like "$m2"; dbs_like "$P")
  "$@" > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null; RC=$?
  expect_rc 2 "$who"
  expect_one_line_error "$re"
  eq "$(snapshot "$m2"; dbs_like "$m2"; dbs_like "$P")" "$before" "databases after $who"
}
n=${#M2}
refused "two trailing newlines" "MASTER_DATABASE_URL contains a control character \(0x0a\) at byte $n" \
  env MASTER_DATABASE_URL="$M2"$'\n\n' "$A" migrate
refused "a tab inside" "DATABASE_URL contains a control character \(0x09\) at byte $n" \
  env DATABASE_URL="$M2"$'\tx' "$A" migrate
refused "a flag value" "--database-url contains a control character \(0x0a\) at byte $n" \
  "$A" migrate --database-url "$M2"$'\n'
printf '%s\x1bx\n' "$M2" > "$T_TMP/urlfile"
refused "an escape in a _FILE" "MASTER_DATABASE_URL_FILE=$T_TMP/urlfile contains a control character \(0x1b\) at byte $n" \
  env MASTER_DATABASE_URL_FILE="$T_TMP/urlfile" "$A" migrate
refused "a template" "AUZDB_TENANT_URL_TEMPLATE contains a control character \(0x07\)" \
  env AUZDB_TENANT_URL_TEMPLATE=$'postgresql://127.0.0.1/{database}\a' "$A" run --database-url "$M2"
refused "a prefix" "AUZDB_TENANT_DB_PREFIX contains a control character \(0x0a\) at byte 2" \
  env AUZDB_TENANT_DB_PREFIX=$'ab\ncd' "$A" run --database-url "$M2"
refused "a percent-encoded newline in a database to create" "will not create database .*: its name contains a control character \(0x0a\) at byte ${#m2}" \
  "$A" migrate --database-url "$M2%0A"
refused "a percent-encoded DEL in a database to create" "will not create database .*: its name contains a control character \(0x7f\) at byte ${#m2}" \
  "$A" migrate --database-url "$M2%7Fx"
pass "any other control character in a URL (flag, variable, _FILE), template, prefix or a database to create: exit 2, one line naming it, nothing created"

# --- 3. restore --clean of a script that restores nothing
tgt=$(newdb target); TG=$(url "$tgt")
q "$tgt" "CREATE SCHEMA keep; CREATE TABLE keep.rows AS SELECT i FROM generate_series(1, 100) i; CREATE TABLE public.t (id int); INSERT INTO t VALUES (1)" >/dev/null
R="$T_TMP/restore"; mkdir -p "$R"
: > "$R/empty.sql"
printf '\n  \n-- nothing here\n/* nor\n here */\n' > "$R/comments.sql"
gzip -c < "$R/comments.sql" > "$R/comments.sql.gz"
printf 'SET statement_timeout = 0;\nSELECT pg_catalog.set_config(%s, %s, false);\n-- no CREATE, no COPY\n' "'search_path'" "''" > "$R/sets.sql"
tgt_state() { snapshot "$tgt"; content_hashes "$tgt"; }
before=$(tgt_state)
for f in empty.sql comments.sql comments.sql.gz sets.sql; do
  for how in file stdin pipe; do
    case $how in
      file) "$A" restore "$R/$f" --database "$TG" --clean > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null ;;
      stdin) "$A" restore - --database "$TG" --clean > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < "$R/$f" ;;
      pipe) "$A" restore <(cat "$R/$f") --database "$TG" --clean > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null ;;
    esac
    RC=$?
    expect_rc 2 "restore --clean of $f ($how)"
    case $f in
      sets.sql) expect_one_line_error "no CREATE or COPY" ;;
      *) expect_one_line_error "no SQL statement" ;;
    esac
    eq "$(tgt_state)" "$before" "target after restore --clean of $f ($how)"
  done
done
# a script read through a pipe is read once, and still restores with --clean
pg_dump -d "$tgt" > "$R/dump.sql" || fail "pg_dump"
"$A" restore <(cat "$R/dump.sql") --database "$TG" --clean > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null; RC=$?
expect_rc 0 "restore --clean through a pipe"
eq "$(tgt_state)" "$before" "target after restore --clean of its own dump through a pipe"
empty_tgt=$(newdb emptytarget)
az restore "$R/comments.sql" --database "$(url "$empty_tgt")"
expect_rc 2 "restore of a comment-only script without --clean"; expect_one_line_error "no SQL statement: nothing to restore into"
pass "restore --clean of an empty, comment-only (plain or gzip) or CREATE-less script: exit 2, one line, nothing dropped (a file, standard input, a pipe); without --clean a script of no statement is refused too"

# --- 4. AUZDB_TENANT_QUERY is one statement, read-only
before=$(snapshot "$master")
for tq in "COMMIT; CREATE TABLE pwned (i int); SELECT 'a'" \
          "SELECT 'a'; CREATE TABLE pwned (i int)" \
          "ROLLBACK; CREATE TABLE pwned (i int); SELECT 'a'" \
          "COMMIT"; do
  AUZDB_TENANT_QUERY="$tq" az run --database-url "$M"
  expect_rc 2 "AUZDB_TENANT_QUERY=$tq"
  expect_one_line_error "AUZDB_TENANT_QUERY"
  eq "$(q "$master" "SELECT count(*) FROM pg_class WHERE relname = 'pwned'")" 0 "table pwned after AUZDB_TENANT_QUERY=$tq"
  eq "$(snapshot "$master")" "$before" "master after AUZDB_TENANT_QUERY=$tq"
done
createdb "${P}xy" || fail "createdb ${P}xy"; T_DBS+=("${P}xy")
AUZDB_TENANT_QUERY="SELECT 'x' || 'y' UNION ALL SELECT NULL" az tenants --database-url "$M"
expect_rc 0 "a one-statement tenant query"; expect_out "xy"
pass "AUZDB_TENANT_QUERY runs as one read-only statement: COMMIT; CREATE ... and a second statement are refused (exit 2), master unchanged"

# --- 5. only regular files are read, with a size cap
# A FIFO used to hang forever, /dev/zero to read until out of memory.  Each
# is refused at once (timeout 30 catches a hang: exit 124) with exit 2.
mkfifo "$T_TMP/fifo" || fail "mkfifo"
before=$(snapshot "$master")
nofile() { # WHO REGEX COMMAND...
  local who=$1 re=$2; shift 2
  timeout 30 "$@" > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null; RC=$?
  expect_rc 2 "$who"
  expect_one_line_error "$re"
  eq "$(snapshot "$master")" "$before" "master after $who"
}
nofile "a FIFO as MASTER_DATABASE_URL_FILE" "MASTER_DATABASE_URL_FILE=$T_TMP/fifo: not a regular file" \
  env MASTER_DATABASE_URL_FILE="$T_TMP/fifo" "$A" migrate
nofile "/dev/zero as MASTER_DATABASE_URL_FILE" "MASTER_DATABASE_URL_FILE=/dev/zero: not a regular file" \
  env MASTER_DATABASE_URL_FILE=/dev/zero "$A" migrate
head -c 70000 /dev/zero | tr '\0' x > "$T_TMP/bigsecret"
nofile "a 70 kB MASTER_DATABASE_URL_FILE" "MASTER_DATABASE_URL_FILE=$T_TMP/bigsecret: larger than .*64 KiB" \
  env MASTER_DATABASE_URL_FILE="$T_TMP/bigsecret" "$A" migrate
# a copy of the master set with one file replaced
mset() { rm -rf "$T_TMP/mset"; mkdir -p "$T_TMP/mset"; cp -r "$AUZDB_SRC/migrations/master" "$T_TMP/mset/master"; cp -r "$AUZDB_SRC/migrations/tenant" "$T_TMP/mset/tenant"; }
first=$(cd "$AUZDB_SRC/migrations/master" && ls -d 2*/ | head -n 1); first=${first%/}
mset; rm "$T_TMP/mset/master/$first/migration.sql"; mkfifo "$T_TMP/mset/master/$first/migration.sql"
nofile "a FIFO as migration.sql" "$first/migration.sql: not a regular file" "$A" migrate --database-url "$M" --migrations "$T_TMP/mset"
mset; rm "$T_TMP/mset/master/$first/migration.sql"; ln -s /dev/zero "$T_TMP/mset/master/$first/migration.sql"
nofile "a link to /dev/zero as migration.sql" "$first/migration.sql: not a regular file" "$A" migrate --database-url "$M" --migrations "$T_TMP/mset"
mset; truncate -s 65M "$T_TMP/mset/master/$first/migration.sql"
nofile "a 65 MiB migration.sql" "$first/migration.sql: larger than .*64 MiB per migration" "$A" migrate --database-url "$M" --migrations "$T_TMP/mset"
if [ -e "$AUZDB_SRC/migrations/master/migration_lock.toml" ]; then
  mset; rm "$T_TMP/mset/master/migration_lock.toml"; mkfifo "$T_TMP/mset/master/migration_lock.toml"
  nofile "a FIFO as migration_lock.toml" "migration_lock.toml: not a regular file" "$A" migrate --database-url "$M" --migrations "$T_TMP/mset"
fi
mset; az migrate --database-url "$M" --migrations "$T_TMP/mset"; expect_rc 0 "the same set with regular files"
pass "a FIFO, a device (also through a link) or an oversized file as a *_FILE, migration.sql or migration_lock.toml: exit 2 at once, one line, nothing changed"

# --- 6. restore memory bombs: checked while reading, bounded memory
# 1 GiB of NUL bytes (1 MB gzipped) was read whole before the NUL check (out
# of memory at 3 GiB); 50 MB of blank lines were all kept (RSS 1:1 with the
# input).  Each is refused with exit 2, the target unchanged, peak RSS
# <= 32 MB (GNU time; not checked on a sanitizer build).
san=false
nm -D "$A" 2>/dev/null | grep __asan_init >/dev/null && san=true
head -c 1G /dev/zero | gzip -1 > "$R/nul.sql.gz"
head -c 50M /dev/zero | tr '\0' '\n' | gzip -1 > "$R/blank.sql.gz"
{ printf "SELECT '"; head -c 20M /dev/zero | tr '\0' x; printf "';\n"; } | gzip -1 > "$R/longline.sql.gz"
{ printf "SELECT '\n"; yes 'a line inside one long string' | head -n 400000; printf "';\n"; } | gzip -1 > "$R/longstmt.sql.gz"
{ printf "/*\n"; head -c 20M /dev/zero | tr '\0' '\n'; printf "*/\n"; } | gzip -1 > "$R/longcomment.sql.gz"
before=$(tgt_state)
for f in nul blank longline longstmt longcomment; do
  case $f in
    nul) re="line 1: NUL byte in the script" ;;
    blank) re="no SQL statement" ;;
    longline) re="line 1: a line longer than 8 MiB" ;;
    *) re="line 1: a statement longer than 8 MiB" ;;
  esac
  /usr/bin/time -f %M -o "$T_TMP/rss" "$A" restore "$R/$f.sql.gz" --database "$TG" --clean > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null; RC=$?
  expect_rc 2 "restore --clean of $f.sql.gz"
  expect_one_line_error "$re"
  rss=$(tail -n 1 "$T_TMP/rss")
  $san || [ "$rss" -le $((32 * 1024)) ] || fail "restore of $f.sql.gz: peak RSS $rss kB > 32 MB"
  echo "# $f.sql.gz ($(stat -c %s "$R/$f.sql.gz") bytes gzipped): peak RSS $rss kB"
  eq "$(tgt_state)" "$before" "target after restore --clean of $f.sql.gz"
done
pass "restore bombs (1 GiB of NUL, 50 MB of blank lines, a 20 MB line, an 11 MB statement, a 20 MB comment): exit 2, one line, nothing dropped, peak RSS <= 32 MB"

# --- 7. tenants of the same database name on two servers: a backup each
# With a URL template spreading tenants over servers, backup files were named
# by the database alone: at concurrency 1 the second tenant's dump replaced
# the first's (manifest listing "app" twice), at 4 both failed (exit 6).
pg_private_start sa; pg_private_start sb
pa=$(. "$T_TMP/pg-sa/env"; echo "$PGPORT"); pb=$(. "$T_TMP/pg-sb/env"; echo "$PGPORT")
pg_user=$(. "$T_TMP/pg-sa/env"; echo "${PGUSER:-postgres}")
two_tenants() { # fresh 'sameapp' on both servers, each with its own marker
  local srv
  for srv in sa sb; do
    (. "$T_TMP/pg-$srv/env"; export PGHOST PGPORT PGUSER
     psql -XAtq -d postgres -c "ALTER ROLE $PGUSER PASSWORD 'same-pw-7'" &&
     dropdb --if-exists sameapp 2>/dev/null && createdb sameapp &&
     psql -XAtq -v ON_ERROR_STOP=1 -d sameapp -c "CREATE SCHEMA mk; CREATE TABLE mk.marker (v text); INSERT INTO mk.marker VALUES ('server-$srv')") >/dev/null || fail "sameapp on $srv"
  done
}
for conc in 1 4; do
  two_tenants
  bk="$T_TMP/bk-same-$conc"
  AUZDB_TENANTS="$pa,$pb" AUZDB_TENANT_URL_TEMPLATE="postgresql://$pg_user:same-pw-7@127.0.0.1:{slug}/sameapp" \
    az run --database-url "$M" --backup-dir "$bk" --concurrency $conc
  expect_rc 0 "run over two tenants named sameapp on two servers (concurrency $conc)"
  man=$(find "$bk" -name manifest.json | head -n 1)
  eq "$(grep -o '"file": "sameapp[^"]*"' "$man" | sort -u | wc -l)" 2 "distinct sameapp files in the manifest (concurrency $conc)"
  files=$(find "$bk" -name 'sameapp*.sql.gz' | sort)
  eq "$(echo "$files" | wc -l)" 2 "sameapp backup files (concurrency $conc)"
  eq "$(for f in $files; do zcat "$f" | grep -o "^server-s[ab]"; done | sort | tr '\n' ' ')" "server-sa server-sb " "each file holds its own tenant's rows (concurrency $conc)"
  eq "$(find "$bk" -name '*.tmp' | wc -l)" 0 "temp files left (concurrency $conc)"
  for f in $files; do
    grep -q "\"file\": \"$(basename "$f")\", \"connection\": \"$pg_user@127.0.0.1:\(${pa}\|${pb}\)/sameapp\"" "$man" || fail "manifest entry of $(basename "$f") names its server: $(cat "$man")"
  done
done
pass "two tenants named sameapp on two servers: two backup files, each with its own rows and its server in the manifest, at concurrency 1 and 4"
# a set made in the same second as another is named ...Z-2, and its manifest says so
for i in 1 2 3; do az backup --database-url "$M" --backup-dir "$T_TMP/bk-sec"; expect_rc 0 "backup $i"; done
for d in "$T_TMP"/bk-sec/*/; do
  d=${d%/}
  grep -q "\"set\": \"$(basename "$d")\"" "$d/manifest.json" || fail "manifest of $(basename "$d") names another set: $(grep '"set"' "$d/manifest.json")"
done
echo "# sets: $(cd "$T_TMP/bk-sec" && ls | tr '\n' ' ')"
pass "every manifest's \"set\" is the name of its own directory (also ...Z-2)"

# --- 8. a crafted script cannot end the restore's transaction
# "CREATE FUNCTION begin() ...; COMMIT; SELECT 1 AS end;" used to be one
# chunk to the splitter: PQexec ran the hidden COMMIT, the old tables were
# gone for good and "half" existed after the failure.  Each statement now
# goes through the extended protocol (one statement or none) and the
# transaction is checked after it.
printf '%s\n' "CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS 'SELECT 1'; COMMIT; SELECT 1 AS end;" \
  "CREATE TABLE half (i int);" "SELECT 1/0;" > "$R/crafted1.sql"
printf '%s\n' "CREATE DOMAIN atomic AS int;" "CREATE TABLE t1 (begin atomic); COMMIT; CREATE TABLE half (i int);" "SELECT 1/0;" > "$R/crafted2.sql"
printf '%s\n' "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; COMMIT; CREATE TABLE half (i int);" "SELECT 1/0;" > "$R/crafted3.sql"
before=$(tgt_state)
for f in crafted1 crafted2 crafted3; do
  az restore "$R/$f.sql" --database "$TG" --clean
  [ "$RC" = 2 ] || [ "$RC" = 7 ] || fail "restore --clean of $f.sql: exit $RC, expected 2 or 7"
  expect_one_line_error "restore"
  eq "$(q "$tgt" "SELECT count(*) FROM pg_class WHERE relname IN ('half', 't1')")" 0 "tables half, t1 after $f.sql"
  eq "$(tgt_state)" "$before" "target after restore --clean of $f.sql"
done
pass "crafted scripts that hide a COMMIT (begin(), a column called begin of type atomic, a BEGIN ATOMIC body): refused, the transaction never ended, target unchanged"

done_testing
