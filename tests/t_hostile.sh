#!/usr/bin/env bash
# Hostile input: a table of bad inputs (environment, flags, URLs, templates,
# slugs, migration names and contents, restore files, report paths).  Each
# gives exactly one error line on stderr naming the culprit, its documented
# exit code, and changes nothing: every database (schema + ledger + data
# snapshot, and the list of databases) and every file under the test's
# directory are compared before and after each case.  Then tenant databases
# whose names hold ' " ; space = % newline and unicode are migrated through
# the master URL and PG* variables: each gets exactly its own ledger and no
# other database is touched (no SQL or conninfo injection); through a URL
# template they are refused one by one (exit 9) and never connected to.
. "$(dirname "$0")/lib.sh"
export AUZDB_LOG_FORMAT=text AUZDB_TERMINATION_LOG= AUZDB_TENANT_DB_PREFIX="th${RANDOM}_"
P=$AUZDB_TENANT_DB_PREFIX
F="$T_TMP/files"; mkdir -p "$F"
export AUZDB_BACKUP_DIR="$F/backups"

master=$(newdb master); M=$(url "$master")
createdb "${P}ok" || fail createdb; T_DBS+=("${P}ok")
target=$(newdb target); R=$(url "$target")
az run --database-url "$M"; expect_rc 0
# a backup with some rows, then damaged copies of it
q "$master" "CREATE SCHEMA extra; CREATE TABLE extra.rows AS SELECT i, md5(i::text) AS h FROM generate_series(1, 20000) i" >/dev/null
AUZDB_BACKUP_DIR="$T_TMP/bk" az backup --database-url "$M"; expect_rc 0
good=$(backup_files "$T_TMP/bk" | head -1); [ -n "$good" ] || fail "no backup"
size=$(stat -c %s "$good")
head -c $((size / 2)) "$good" > "$F/truncated.sql.gz"
printf '\x1f\x8b\x08\x00garbage-after-a-gzip-magic' > "$F/badgzip.sql.gz"
# deterministic binary noise (AES-CTR of zeros), so the case's outcome is stable
head -c 4000 /dev/zero | openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 > "$F/random.sql" ||
  fail "openssl enc"
printf 'CREATE TABLE pwn (id int);\n\\! touch %s/pwned\n' "$F" > "$F/meta.sql"
printf 'CREATE TABLE pwn2 (id int);\n\\copy pwn2 from program %s\n' "'touch $F/pwned'" > "$F/metacopy.sql"
printf 'CREATE TABLE c (id int);\nCOPY c (id) FROM stdin;\n1\n2\n' > "$F/copy_unterminated.sql"
printf 'CREATE TABLE c (id int);\nCOPY c (id) FROM stdin;\n1\n\\.\nCOPY c (id) FROM stdin;\nnot-a-number\n\\.\n' > "$F/copy_bad_row.sql"
printf 'CREATE TABLE ok_then (id int);\nCOMMIT;\nDROP TABLE ok_then;\n' > "$F/commit.sql"
printf '\xff\xfe bad utf8' > "$F/latin.sql"
# migration sets, each bad in one way
good_set="$T_TMP/good"; mkmig "$good_set" 20240101000000_a 'CREATE TABLE a (id int);'
badset() { local d="$F/sets/$1"; mkdir -p "$d"; echo "$d"; }
s_tab=$(badset tab); mkmig "$s_tab" $'2024\ttab' 'SELECT 1;'
s_nl=$(badset nl); mkmig "$s_nl" $'2024\nnewline' 'SELECT 1;'
s_uni=$(badset uni); mkmig "$s_uni" "2024_caf$(printf '\xc3\xa9')" 'SELECT 1;'
s_nosql=$(badset nosql); mkdir -p "$s_nosql/20240101000000_empty"
s_utf=$(badset utf); mkdir -p "$s_utf/20240101000000_x"; printf 'CREATE TABLE x (t text DEFAULT \xff);' > "$s_utf/20240101000000_x/migration.sql"
s_prov=$(badset prov); mkmig "$s_prov" 20240101000000_x 'SELECT 1;'; printf 'provider = "mysql"\n' > "$s_prov/migration_lock.toml"
s_dirsql=$(badset dirsql); mkdir -p "$s_dirsql/20240101000000_x/migration.sql"
mkdir -p "$F/ro"
chmod -R a+rX "$T_TMP"; chmod 0555 "$F/ro"

# FP_SQL: one query - catalog (columns, constraints, indexes, functions,
# schemas) and the content of every table, the ledger included
FP_SQL=$(cat <<'SQL'
SELECT current_database() || ' ' || md5(coalesce(string_agg(x, E'\n' ORDER BY x), '')) FROM (
  SELECT format('col %s.%s %s %s %s %s', n.nspname, c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull) AS x
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
   WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL SELECT format('rel %s.%s %s', n.nspname, c.relname, c.relkind) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL SELECT format('con %s %s', conname, pg_get_constraintdef(oid)) FROM pg_constraint WHERE connamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname ~ '^pg_' OR nspname = 'information_schema')
  UNION ALL SELECT format('idx %s', pg_get_indexdef(indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL SELECT format('fn %s %s', p.proname, md5(p.prosrc)) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL SELECT format('nsp %s', nspname) FROM pg_namespace
  UNION ALL SELECT format('data %s %s', c.oid::regclass,
      (xpath('/row/h/text()', query_to_xml(format('SELECT md5(coalesce(string_agg(t::text, %L ORDER BY t::text), %L)) AS h FROM %s t', ',', '', c.oid::regclass), false, true, '')))[1]::text)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
) s;
SQL
)
# snap_all: this test's databases (and any a case might have created; other
# tests may run alongside), each one's fingerprint, and every file's size,
# mode and md5 - in one psql session
snap_all() {
  {
    echo "SELECT datname FROM pg_database WHERE datname LIKE 't\\_hostile%' OR datname LIKE '${P}%' OR datname IN ('postgres', 'probe') ORDER BY 1;"
    local d; for d in "$master" "${P}ok" "$target"; do echo "\\c \"$d\""; echo "$FP_SQL"; done
  } | psql -XAtq -v ON_ERROR_STOP=1 -d postgres
  find "$T_TMP" \( -name .az_out -o -name .az_err \) -prune -o -printf '%p %s %m\n' | sort
  find "$T_TMP" -type f ! -name '.az_*' -exec md5sum {} + | sort
}
N=0
# bad RC CULPRIT_REGEX COMMAND...: one case of the table
bad() {
  local rc=$1 culprit=$2; shift 2
  local after
  "$@" > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" < /dev/null
  RC=$?
  N=$((N + 1))
  expect_rc "$rc" "case $N ($culprit)"
  expect_one_line_error "$culprit"
  after=$(snap_all)
  [ "$BASE" = "$after" ] || { diff <(echo "$BASE") <(echo "$after") | head -20 >&2; fail "case $N ($culprit) changed something"; }
  [ ! -e "$F/pwned" ] || fail "case $N: a meta-command ran"
  echo "ok - case $N: exit $rc, $(cat "$T_TMP/.az_err")"
}
A=$AUZDB_BIN
BASE=$(snap_all) # nothing may differ from this after any case
# --- environment
bad 2 "AUZDB_LOCK_TIMEOUT=abc" env AUZDB_LOCK_TIMEOUT=abc "$A" run --database-url "$M"
bad 2 "AUZDB_WAIT_TIMEOUT=-1" env AUZDB_WAIT_TIMEOUT=-1 "$A" run --database-url "$M"
bad 2 "AUZDB_STATEMENT_TIMEOUT=1;" env "AUZDB_STATEMENT_TIMEOUT=1; DROP TABLE x" "$A" run --database-url "$M"
bad 2 "AUZDB_DDL_LOCK_TIMEOUT=" env $'AUZDB_DDL_LOCK_TIMEOUT=5\n0' "$A" run --database-url "$M"
bad 2 "AUZDB_DEADLINE=" env AUZDB_DEADLINE=tomorrow "$A" run --database-url "$M"
bad 2 "AUZDB_LOG_FORMAT" env AUZDB_LOG_FORMAT=xml "$A" run --database-url "$M"
bad 2 "AUZDB_CONCURRENCY=0" env AUZDB_CONCURRENCY=0 "$A" run --database-url "$M"
bad 2 "AUZDB_SHARDS" env AUZDB_SHARDS=x "$A" run --database-url "$M"
bad 2 "AUZDB_BACKUP" env AUZDB_BACKUP=sometimes "$A" run --database-url "$M"
bad 2 "AUZDB_BACKUP_COMPRESSION" env AUZDB_BACKUP_COMPRESSION=10 "$A" run --database-url "$M"
bad 2 "AUZDB_TENANT_DB_PREFIX" env AUZDB_TENANT_DB_PREFIX="$(printf 'p%.0s' $(seq 1 70))" "$A" run --database-url "$M"
bad 2 "DATABASE_URL" env DATABASE_URL="$M" DATABASE_URL_FILE="$F/nofile" "$A" migrate
bad 2 "DATABASE_URL_FILE" env DATABASE_URL_FILE="$F/nofile" "$A" migrate
# --- flags
bad 2 "--frobnicate" "$A" run --database-url "$M" --frobnicate
bad 2 "migrat" "$A" migrat
bad 2 "--database-url" "$A" migrate --database-url
bad 2 "concurrency" "$A" run --database-url "$M" --concurrency 0
bad 2 "--shard" "$A" run --database-url "$M" --shard 3/2
bad 2 "--set" "$A" migrate --database-url "$M" --set both
bad 2 "--lock-timeout" "$A" migrate --database-url "$M" --lock-timeout -5
bad 2 "--compress-level" "$A" run --database-url "$M" --compress-level 99
# --- URLs
bad 2 "port" "$A" migrate --database-url "postgresql://postgres@127.0.0.1:notaport/db"
bad 2 "IPv6" "$A" migrate --database-url "postgresql://[::1"
bad 2 "sslmode" "$A" migrate --database-url "$M?sslmode=bogus"
bad 2 "nosuchkey" "$A" migrate --database-url "nosuchkey=1"
bad 2 "invalid command-line argument" "$A" migrate --database-url "$M?options=%27"
bad 2 "unrecognized configuration parameter" "$A" migrate --database-url "$M?options=-c%20nosuch.x%3D1%20-c%20nosuch%3D1"
# --- templates
bad 2 "unknown placeholder" env AUZDB_TENANT_URL_TEMPLATE='postgresql://127.0.0.1/{slugg}' "$A" run --database-url "$M"
bad 2 "unknown placeholder" env AUZDB_TENANT_URL_TEMPLATE='postgresql://127.0.0.1/{slug' "$A" run --database-url "$M" --tenant ok
# --- slugs (tenant create refuses before touching anything; in a run the bad tenant fails alone: 9)
bad 2 "contains a quote" "$A" tenant create "o'brien" --database-url "$M"
bad 2 "contains a quote" "$A" tenant create 'x"y' --database-url "$M"
bad 2 "slug 'x;DROP DATABASE postgres'" "$A" tenant create 'x;DROP DATABASE postgres' --database-url "$M"
bad 2 "whitespace" "$A" tenant create 'two words' --database-url "$M"
bad 2 "whitespace" "$A" tenant create $'line\nbreak' --database-url "$M"
bad 2 "slug 'a=b'" "$A" tenant create 'a=b' --database-url "$M"
bad 2 "slug '%27'" "$A" tenant create '%27' --database-url "$M"
bad 2 "non-ASCII" "$A" tenant create "caf$(printf '\xc3\xa9')" --database-url "$M"
bad 9 "slug 'x dbname=postgres'" "$A" run --database-url "$M" --tenant 'x dbname=postgres'
bad 9 "slug 'a'b'" env AUZDB_TENANTS="a'b" "$A" run --database-url "$M"
# --- migration names and contents
bad 2 "2024 tab" "$A" migrate --database-url "$M" --master-migrations "$s_tab"
bad 2 "newline" "$A" migrate --database-url "$M" --master-migrations "$s_nl"
bad 2 "2024_caf" "$A" migrate --database-url "$M" --master-migrations "$s_uni"
bad 2 "20240101000000_empty" "$A" migrate --database-url "$M" --master-migrations "$s_nosql"
bad 2 "20240101000000_x.*UTF-8" "$A" migrate --database-url "$M" --master-migrations "$s_utf"
bad 2 "mysql" "$A" migrate --database-url "$M" --master-migrations "$s_prov"
bad 2 "20240101000000_x" "$A" migrate --database-url "$M" --master-migrations "$s_dirsql"
bad 2 "nothere" "$A" migrate --database-url "$M" --master-migrations "$F/nothere"
# --- restore files
bad 2 "truncated.sql.gz: .*unexpected end of file" "$A" restore "$F/truncated.sql.gz" --database "$R"
bad 2 "badgzip.sql.gz" "$A" restore "$F/badgzip.sql.gz" --database "$R"
bad 7 "restore: line 1: ERROR: syntax error" "$A" restore "$F/random.sql" --database "$R"
bad 2 'meta-command \\!' "$A" restore "$F/meta.sql" --database "$R"
bad 2 'meta-command \\copy' "$A" restore "$F/metacopy.sql" --database "$R"
bad 2 "no \\\\. line" "$A" restore "$F/copy_unterminated.sql" --database "$R"
bad 7 "line 6.*not-a-number|line 6.*invalid input" "$A" restore "$F/copy_bad_row.sql" --database "$R"
bad 2 "line 2: COMMIT cannot run inside the restore's single transaction" "$A" restore "$F/commit.sql" --database "$R"
bad 2 "line 1" "$A" restore "$F/latin.sql" --database "$R"
bad 2 "cannot open $F/none.sql" "$A" restore "$F/none.sql" --database "$R"
bad 2 "Is a directory" "$A" restore "$F" --database "$R"
# --- report paths
bad 2 "report file $F: is a directory" "$A" run --database-url "$M" --report "$F"
bad 2 "report file $F/no/such/r.json: its directory does not exist" "$A" run --database-url "$M" --report "$F/no/such/r.json"
bad 2 "report file $F/meta.sql/r.json: its directory is not a directory" "$A" run --database-url "$M" --report "$F/meta.sql/r.json"
bad 2 "report file $F/ro/r.json: its directory is not writable" setpriv --reuid=65532 --regid=65532 --clear-groups "$A" run --database-url "$M" --report "$F/ro/r.json"
[ "$N" -ge 30 ] || fail "only $N cases"
pass "$N hostile inputs: one error line naming the culprit, the documented exit code, no database or file changed"

# --- names that would inject SQL or conninfo parameters are only ever values
weird=("q'uote" 'dq"uote' 'semi;colon' 'sp ace' 'eq=ual host=nowhere' 'pct%27%20' $'new\nline' "uni$(printf '\xc3\xa9\xe2\x82\xac')" "x' OR '1'='1")
for w in "${weird[@]}"; do
  q postgres "CREATE DATABASE $(psql -XAtq -d postgres -c "SELECT quote_ident('$P' || \$w\$$w\$w\$)")" >/dev/null || fail "create $w"
  T_DBS+=("$P$w")
done
others_before=$(for d in postgres "$target"; do snapshot "$d"; done)
for mode in url pgenv template; do
  case $mode in
    url) az run --database-url "$M" ;;
    pgenv) PGDATABASE="$master" PGPASSWORD="$PGTEST_PASSWORD" PGHOST=127.0.0.1 az run ;;
    template) AUZDB_TENANT_URL_TEMPLATE="postgresql://postgres:$PGTEST_PASSWORD@127.0.0.1:$PGPORT/{database}" az run --database-url "$M" ;;
  esac
  if [ "$mode" = template ]; then
    # a name that is not a safe slug is never expanded into a URL template
    # (in the host it could pick the server the password goes to): each such
    # tenant fails alone, untouched, and the others still migrate
    expect_rc 9 "run with weird tenant names ($mode)"
    [ "$(grep -c "rejected: .*AUZDB_TENANT_URL_TEMPLATE only when it is a safe slug" "$T_TMP/.az_err")" = "${#weird[@]}" ] ||
      fail "each weird tenant is rejected by name ($mode)"
    for w in "${weird[@]}"; do
      eq "$(PGDATABASE="$P$w" psql -XAtq -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "tenant '$w' untouched ($mode)"
    done
    eq "$(PGDATABASE="${P}ok" psql -XAtq -c "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "ledger of tenant 'ok' ($mode)"
  else
    expect_rc 0 "run with weird tenant names ($mode)"
    for w in "${weird[@]}"; do
      d="$P$w"
      n=$(PGDATABASE="$d" psql -XAtq -c "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")
      eq "$n" 8 "ledger of tenant '$w' ($mode)"
    done
  fi
  eq "$(for d in postgres "$target"; do snapshot "$d"; done)" "$others_before" "other databases after the $mode run"
  # reset the tenants for the next mode
  for w in "${weird[@]}"; do PGDATABASE="$P$w" psql -XAtq -c "DROP TABLE _prisma_migrations; DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null 2>&1; done
done
# migration names are printable ASCII, quotes included: only ever a parameter value
qset="$T_TMP/qset"
mkmig "$qset" "20240101000000_o'brien\"; DROP TABLE x; --" 'CREATE TABLE x (id int);'
mkmig "$qset" "20240102000000_a b %27 = ;" 'CREATE TABLE y (id int);'
qdb=$(newdb qnames)
az migrate --database-url "$(url "$qdb")" --master-migrations "$qset"
expect_rc 0 "quoted migration names"
eq "$(q "$qdb" "SELECT string_agg(migration_name, '|' ORDER BY migration_name) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" \
  "20240101000000_o'brien\"; DROP TABLE x; --|20240102000000_a b %27 = ;" "ledger names"
eq "$(q "$qdb" "SELECT count(*) FROM pg_tables WHERE tablename IN ('x', 'y')")" 2 "tables"
az status --database-url "$(url "$qdb")" --master-migrations "$qset" --set master
expect_rc 0 "status with quoted names"
pass "tenant databases named with ' \" ; space = % newline and unicode migrate through the URL and PG* variables, and are refused (never expanded) by a template: no injection"
done_testing
