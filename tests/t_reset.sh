#!/usr/bin/env bash
# auzdb reset: refused without BOTH guards (each one missing on its own, a
# wrong value, backups turned off), with nothing dropped and no backup
# written; exit 6 and nothing dropped when the backup cannot be written;
# with both guards: a 0600 backup holding the old rows, the schema equal to a
# freshly migrated database, the data gone, other schemas and their
# extensions kept.  A failing migration rolls the whole reset back; with a
# migration that needs its own transaction, the reset still works, and a
# failure there plays the backup back; an enum value used by a later
# migration (55P04) falls back to that path.  --tenant resets one tenant
# database.  SIGTERM mid-reset: exit 10, everything rolled back.
. "$(dirname "$0")/lib.sh"

set1="$T_TMP/set1"
mkmig "$set1" 20240101000000_init 'CREATE TYPE "Role" AS ENUM ('"'"'USER'"'"', '"'"'ADMIN'"'"');
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, role "Role" NOT NULL DEFAULT '"'"'USER'"'"');
CREATE SEQUENCE invoice_no START 1000;'
mkmig "$set1" 20240102000000_posts 'CREATE TABLE posts (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users (id), title text);
CREATE VIEW post_titles AS SELECT title FROM posts;
CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 42 $$;'

# a database on set1 with rows, a hand-made table, and an extension in another schema
mkdb() {
  local d; d=$(newdb "$1")
  "$AUZDB_BIN" migrate --database-url "$(url "$d")" --master-migrations "$set1" --skip-backup >/dev/null 2>&1 || fail "migration of $d"
  q "$d" "INSERT INTO users (email) VALUES ('a@x'), ('b@x'); INSERT INTO posts (user_id, title) VALUES (1, 'hello');
          SELECT nextval('invoice_no'); CREATE TABLE junk (v text); INSERT INTO junk VALUES ('old');
          CREATE SCHEMA ext; CREATE TABLE ext.keep (v int); INSERT INTO ext.keep VALUES (7)" >/dev/null || fail "rows of $d"
  if $have_hstore; then q "$d" "CREATE EXTENSION hstore SCHEMA ext" >/dev/null || fail "extension in $d"; fi
  echo "$d"
}
have_hstore=false
[ "$(q postgres "SELECT count(*) FROM pg_available_extensions WHERE name = 'hstore'")" = 1 ] && have_hstore=true

unchanged() { # DB BEFORE-SNAPSHOT BEFORE-HASHES WHAT
  diff <(snapshot "$1") "$2" >/dev/null || fail "$4: the schema or ledger changed"
  diff <(content_hashes "$1") "$3" >/dev/null || fail "$4: the data changed"
}

db=$(mkdb guards)
snapshot "$db" > "$T_TMP/snap"; content_hashes "$db" > "$T_TMP/hash"
U=$(url "$db")

# 1. the guards, each missing on its own
unset AUZDB_ALLOW_RESET
az reset --database-url "$U" --master-migrations "$set1"
expect_rc 2; expect_one_line_error "reset refused: --force and AUZDB_ALLOW_RESET=delete-all-data are both missing"
unchanged "$db" "$T_TMP/snap" "$T_TMP/hash" "no guard"
az reset --force --database-url "$U" --master-migrations "$set1"
expect_rc 2; expect_one_line_error "reset refused: AUZDB_ALLOW_RESET=delete-all-data is missing \(--force was given\)"
unchanged "$db" "$T_TMP/snap" "$T_TMP/hash" "--force only"
AUZDB_ALLOW_RESET=delete-all-data az reset --database-url "$U" --master-migrations "$set1"
expect_rc 2; expect_one_line_error "reset refused: --force is missing \(AUZDB_ALLOW_RESET is set\)"
unchanged "$db" "$T_TMP/snap" "$T_TMP/hash" "env only"
AUZDB_ALLOW_RESET=yes az reset --force --database-url "$U" --master-migrations "$set1"
expect_rc 2; expect_one_line_error "AUZDB_ALLOW_RESET is 'yes'; it must be exactly 'delete-all-data'"
unchanged "$db" "$T_TMP/snap" "$T_TMP/hash" "wrong env value"
AUZDB_ALLOW_RESET=delete-all-data az resync --database-url "$U" --master-migrations "$set1"
expect_rc 2; expect_one_line_error "resync refused: --force is missing"
unchanged "$db" "$T_TMP/snap" "$T_TMP/hash" "resync without --force"
[ -z "$(backup_files "$AUZDB_BACKUP_DIR")" ] || fail "a refused reset wrote a backup"
pass "reset and resync refused without both guards (each missing alone, wrong value): exit 2, one line, nothing dropped, no backup"

# 2. backups cannot be turned off
export AUZDB_ALLOW_RESET=delete-all-data
AUZDB_BACKUP=never az reset --force --database-url "$U" --master-migrations "$set1"
expect_rc 2; expect_one_line_error "auzdb reset always takes a backup first; it cannot run with AUZDB_BACKUP=never"
az reset --force --skip-backup --database-url "$U" --master-migrations "$set1"
expect_rc 2; expect_one_line_error "cannot run with --skip-backup"
unchanged "$db" "$T_TMP/snap" "$T_TMP/hash" "backups off"
az migrate --force --database-url "$U" --master-migrations "$set1"
expect_rc 2; expect_one_line_error "--force belongs to 'auzdb reset' and 'auzdb resync'"
pass "reset refuses AUZDB_BACKUP=never and --skip-backup (exit 2); --force elsewhere is a usage error"

# 3. the backup cannot be written: exit 6, nothing dropped
touch "$T_TMP/afile"
az reset --force --database-url "$U" --master-migrations "$set1" --backup-dir "$T_TMP/afile/b"
expect_rc 6; expect_err "nothing was dropped"
unchanged "$db" "$T_TMP/snap" "$T_TMP/hash" "failed backup"
pass "reset with an unwritable backup directory: exit 6, nothing dropped"

# 4. the reset itself
fresh=$(newdb fresh)
"$AUZDB_BIN" migrate --database-url "$(url "$fresh")" --master-migrations "$set1" --skip-backup >/dev/null 2>&1 || fail "fresh migration"
az reset --force --database-url "$U" --master-migrations "$set1" --report "$T_TMP/report.json"
expect_rc 0 "reset"
file=$(backup_files "$AUZDB_BACKUP_DIR")
[ -n "$file" ] && [ "$(echo "$file" | wc -l)" = 1 ] || fail "expected one backup file, got: $file"
eq "$(stat -c %a "$file")" 600 "backup file mode"
zcat "$file" | grep -q '^2	b@x	USER$' || fail "the backup does not hold the old rows"
zcat "$file" | grep -q 'CREATE TABLE public.junk' || fail "the backup does not hold the hand-made table"
diff <(pg_dump --schema-only -n public "$db" | grep -v -e "^--" -e "^\\\\") <(pg_dump --schema-only -n public "$fresh" | grep -v -e "^--" -e "^\\\\") > "$T_TMP/diff" || { head -30 "$T_TMP/diff" >&2; fail "reset schema differs from a freshly migrated one"; }
eq "$(q "$db" "SELECT count(*) FROM users")" 0 "users after reset"
eq "$(q "$db" "SELECT count(*) FROM posts")" 0 "posts after reset"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename = 'junk'")" 0 "hand-made table after reset"
eq "$(q "$db" "SELECT nextval('invoice_no')")" 1000 "sequence after reset"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL")" 2 "ledger rows"
eq "$(q "$db" "SELECT v FROM ext.keep")" 7 "other schema kept"
if $have_hstore; then eq "$(q "$db" "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'hstore'")" ext "extension in another schema kept"; fi
eq "$(stat -c %a "$T_TMP/report.json")" 600 "report mode"
grep -q '"command":"reset"' "$T_TMP/report.json" && grep -q '"result":"done"' "$T_TMP/report.json" \
  && grep -q '"transactional":true' "$T_TMP/report.json" && grep -qF "\"backup_file\":\"$file\"" "$T_TMP/report.json" || fail "report: $(cat "$T_TMP/report.json")"
az status --set master --database-url "$U" --master-migrations "$set1"
expect_rc 0 "status after reset"
pass "reset with both guards: 0600 backup with the old rows, schema equal to a fresh migration, data gone, other schemas kept, status 0"

# 5. a failing migration rolls the whole reset back
bad="$T_TMP/bad"; cp -r "$set1" "$bad"
mkmig "$bad" 20240103000000_boom 'CREATE TABLE half (id int); SELECT 1/0;'
db2=$(mkdb rollback)
snapshot "$db2" > "$T_TMP/snap2"; content_hashes "$db2" > "$T_TMP/hash2"
az reset --force --database-url "$(url "$db2")" --master-migrations "$bad"
expect_rc 7; expect_err "migration 20240103000000_boom failed: .*division by zero.*reset rolled back, the database is as it was"
unchanged "$db2" "$T_TMP/snap2" "$T_TMP/hash2" "failed migration"
pass "a failing migration: exit 7, the whole reset rolled back (schema, ledger and rows as before)"

# 6. migrations that need their own transaction: drop, migrate as 'migrate' does
own="$T_TMP/own"; cp -r "$set1" "$own"
mkmig "$own" 20240103000000_idx 'CREATE INDEX CONCURRENTLY posts_title_idx ON posts (title);'
db3=$(mkdb own)
"$AUZDB_BIN" migrate --database-url "$(url "$db3")" --master-migrations "$own" --skip-backup >/dev/null 2>&1 || fail "own migration"
az reset --force --database-url "$(url "$db3")" --master-migrations "$own" --log-format json
expect_rc 0 "reset with an own-transaction migration"
expect_out '"transactional":false'
eq "$(q "$db3" "SELECT count(*) FROM users")" 0 "users after own-transaction reset"
eq "$(q "$db3" "SELECT count(*) FROM pg_indexes WHERE indexname = 'posts_title_idx'")" 1 "concurrent index"
eq "$(q "$db3" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 3 "ledger rows"
pass "reset with a CREATE INDEX CONCURRENTLY migration: runs it outside a transaction, ends up to date"

# 7. ... and when such a reset fails, the backup is played back
ownbad="$T_TMP/ownbad"; cp -r "$own" "$ownbad"
mkmig "$ownbad" 20240104000000_boom 'SELECT 1/0;'
snapshot "$db3" > /dev/null
q "$db3" "INSERT INTO users (email) VALUES ('c@x'); INSERT INTO posts (user_id, title) VALUES (1, 'again')" >/dev/null
schema_dump "$db3" > "$T_TMP/schema3"; content_hashes "$db3" > "$T_TMP/hash3"
az reset --force --database-url "$(url "$db3")" --master-migrations "$ownbad" --log-format json
expect_rc 7; expect_err "division by zero.*restored from the backup"
expect_out '"result":"restored from backup"'
diff <(schema_dump "$db3") "$T_TMP/schema3" > "$T_TMP/diff" || { head -30 "$T_TMP/diff" >&2; fail "schema after the restore differs"; }
diff <(content_hashes "$db3") "$T_TMP/hash3" || fail "data after the restore differs"
pass "a failed reset past the drop (own-transaction set): exit 7, the backup played back, schema and rows as before"

# 8. --tenant SLUG resets that tenant's database with the tenant set
export AUZDB_TENANT_DB_PREFIX="t_reset_tn${RANDOM}_"
tdb="${AUZDB_TENANT_DB_PREFIX}acme"; createdb "$tdb" || fail "createdb $tdb"; T_DBS+=("$tdb")
"$AUZDB_BIN" migrate --database-url "$(url "$tdb")" --master-migrations "$set1" --skip-backup >/dev/null 2>&1 || fail "tenant migration"
q "$tdb" "INSERT INTO users (email) VALUES ('t@x')" >/dev/null
content_hashes "$db2" > "$T_TMP/hash2"
az reset --force --tenant acme --database-url "$(url "$db2")" --tenant-migrations "$set1"
expect_rc 0 "tenant reset"
eq "$(q "$tdb" "SELECT count(*) FROM users")" 0 "tenant rows after reset"
diff <(content_hashes "$db2") "$T_TMP/hash2" >/dev/null || fail "master changed by a tenant reset"
az reset --force --tenant 'a b' --database-url "$(url "$db2")" --tenant-migrations "$set1"
expect_rc 2; expect_one_line_error "tenant slug 'a b' rejected"
pass "reset --tenant SLUG resets only that tenant's database; a bad slug is exit 2"

# 10. a migration uses an enum value an earlier one added: only separate transactions can do that
enum="$T_TMP/enum"
mkmig "$enum" 20240101000000_a 'CREATE TYPE "Tier" AS ENUM ('"'"'FREE'"'"');'
mkmig "$enum" 20240102000000_b 'ALTER TYPE "Tier" ADD VALUE '"'"'PRO'"'"';'
mkmig "$enum" 20240103000000_c 'CREATE TABLE plans (tier "Tier" NOT NULL DEFAULT '"'"'PRO'"'"'); INSERT INTO plans DEFAULT VALUES;'
db5=$(newdb enum)
"$AUZDB_BIN" migrate --database-url "$(url "$db5")" --master-migrations "$enum" --skip-backup >/dev/null 2>&1 || fail "enum migrations"
az reset --force --database-url "$(url "$db5")" --master-migrations "$enum" --log-format json
expect_rc 0 "reset with an enum value used by a later migration"
expect_out 'SQLSTATE 55P04.*running the migrations one transaction each'
expect_out '"transactional":false'
eq "$(q "$db5" "SELECT tier FROM plans")" PRO "migrated again"
pass "an enum value added and used by later migrations (55P04): the one-transaction reset falls back to one transaction per migration"

# 9. SIGTERM in the middle: the one transaction rolls back, exit 10, nothing lost
slow="$T_TMP/slow"; cp -r "$set1" "$slow"
mkmig "$slow" 20240103000000_slow 'SELECT pg_sleep(60);'
db4=$(mkdb signal)
snapshot "$db4" > "$T_TMP/snap4"; content_hashes "$db4" > "$T_TMP/hash4"
"$AUZDB_BIN" reset --force --database-url "$(url "$db4")" --master-migrations "$slow" --log-format json >"$T_TMP/sig.out" 2>"$T_TMP/sig.err" &
pid=$!
for _ in $(seq 1 600); do grep -q '"applied 20240102000000_posts"' "$T_TMP/sig.out" && break; sleep 0.1; done
grep -q '"applied 20240102000000_posts"' "$T_TMP/sig.out" || { kill -9 "$pid"; fail "the reset never reached the slow migration"; }
kill -TERM "$pid"; wait "$pid"; RC=$?
expect_rc 10 "reset stopped by SIGTERM"
unchanged "$db4" "$T_TMP/snap4" "$T_TMP/hash4" "reset stopped by SIGTERM"
pass "SIGTERM during a reset: exit 10, rolled back, schema and rows as before"

done_testing
