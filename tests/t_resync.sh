#!/usr/bin/env bash
# auzdb resync on completely out-of-sync databases (the runbook's Scenario 4):
# tables from an old schema version, wrong types, an extra table, missing
# and extra columns, an odd ledger or none.  Resync keeps the rows of
# unchanged tables, carries the columns both schemas have, reports the table
# and column that could not be carried over, leaves the ledger fully applied
# (`status` exits 0), the sequences at the backup's values and past the
# reloaded ids, the foreign keys
# and triggers in place (triggers do not fire on reloaded rows), and the
# schema equal to a fresh migration.  Rows that do not fit (a new unique
# index, a new check, a broken foreign key) are each named and the resync
# is undone: rolled back, or - past a committed drop - the backup is played
# back; either way schema and rows are as before.
. "$(dirname "$0")/lib.sh"
export AUZDB_ALLOW_RESET=delete-all-data

set="$T_TMP/set"
mkmig "$set" 20240101000000_users 'CREATE TYPE "Role" AS ENUM ('"'USER'"', '"'ADMIN'"', '"'OWNER'"');
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, role "Role" NOT NULL DEFAULT '"'USER'"', name text, created_at timestamptz NOT NULL DEFAULT now());
CREATE UNIQUE INDEX users_email_key ON users (email);'
mkmig "$set" 20240102000000_posts 'CREATE TABLE posts (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users (id), title text NOT NULL, views int, body text);
CREATE TABLE settings (k text PRIMARY KEY, v text CONSTRAINT v_short CHECK (length(v) < 20));
CREATE TABLE audit (id serial PRIMARY KEY, note text, actor text NOT NULL);
CREATE TABLE "UserProfile" ("userId" int PRIMARY KEY, "displayName" text, "Odd ""Name""" text);
CREATE SEQUENCE invoice_no START 1000;'
mkmig "$set" 20240103000000_touch 'CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := '"'TRIGGERED'"'; RETURN NEW; END $$;
CREATE TRIGGER users_touch BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION touch();'

# the same set, plus a migration that must run outside a transaction
own="$T_TMP/own"; cp -r "$set" "$own"
mkmig "$own" 20240104000000_idx 'CREATE INDEX CONCURRENTLY posts_title_idx ON posts (title);'

# an old schema version, built by hand; $2 = extra SQL (bad rows)
olddb() {
  local d; d=$(newdb "$1")
  q "$d" "CREATE TYPE \"Role\" AS ENUM ('USER', 'ADMIN');
    CREATE TABLE users (id serial PRIMARY KEY, email text, role \"Role\" NOT NULL DEFAULT 'USER', legacy_flag boolean);
    CREATE TABLE posts (id int PRIMARY KEY, user_id int, title varchar(50), views text);
    CREATE TABLE settings (k text PRIMARY KEY, v text);
    CREATE TABLE old_stuff (x int);
    CREATE TABLE audit (id int, note text);
    CREATE TABLE \"UserProfile\" (\"userId\" int, \"displayName\" text, \"Odd \"\"Name\"\"\" text, \"Gone Col\" int);
    INSERT INTO \"UserProfile\" VALUES (1, 'Ann', 'q', 5);
    CREATE SEQUENCE invoice_no START 1000; SELECT nextval('invoice_no'), nextval('invoice_no');
    INSERT INTO users (email, role, legacy_flag) VALUES ('a@x', 'ADMIN', true), ('b@x', 'USER', false), (E'tab\\there', 'USER', NULL);
    INSERT INTO posts VALUES (10, 1, 'first', '12'), (11, 3, E'multi\\nline', NULL);
    INSERT INTO settings VALUES ('theme', 'dark'), ('quote', E'back\\\\slash'), ('nul', NULL);
    INSERT INTO old_stuff VALUES (1), (2);
    INSERT INTO audit VALUES (1, 'x');
    CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, finished_at timestamptz, migration_name varchar(255) NOT NULL, logs text, rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(), applied_steps_count int NOT NULL DEFAULT 0);
    INSERT INTO _prisma_migrations (id, checksum, migration_name, finished_at) VALUES ('1', 'x', '20200101000000_ancient', now());
    INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES ('2', 'y', '20240102000000_posts');
    ${2:-}" >/dev/null || fail "old schema in $d"
  echo "$d"
}
tab_hash() { psql -XAtq -d "$1" -c "SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM $2 x"; }
report() { grep -F "\"command\":\"resync\"" "$T_TMP/.az_out" | tail -n 1; }

# 1. the completely out-of-sync database
db=$(olddb sync)
settings_before=$(tab_hash "$db" settings)
az resync --force --database-url "$(url "$db")" --master-migrations "$set" --report "$T_TMP/r1.json"
expect_rc 0 "resync"
r=$(cat "$T_TMP/r1.json")
eq "$(stat -c %a "$T_TMP/r1.json")" 600 "report mode"
eq "$(tab_hash "$db" settings)" "$settings_before" "settings (an unchanged table)"
eq "$(q "$db" "SELECT string_agg(format('%s|%s|%s|%s', id, email, role, coalesce(name, '-')), ',' ORDER BY id) FROM users")" \
   "1|a@x|ADMIN|-,2|b@x|USER|-,3|tab	here|USER|-" "users carried over (no trigger fired)"
eq "$(q "$db" "SELECT string_agg(format('%s|%s|%s|%s', id, user_id, title, coalesce(views::text, '-')), ',' ORDER BY id) FROM posts")" \
   "10|1|first|12,11|3|multi
line|-" "posts carried over, text views became int"
eq "$(q "$db" "SELECT format('%s|%s|%s', \"userId\", \"displayName\", \"Odd \"\"Name\"\"\") FROM \"UserProfile\"")" "1|Ann|q" "quoted identifiers carried over"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename = 'old_stuff'")" 0 "extra table gone"
eq "$(q "$db" "SELECT count(*) FROM audit")" 0 "audit not carried over"
echo "$r" | grep -q '{"table":"old_stuff","rows":2,"reason":"it is not in the new schema"}' || fail "report lacks old_stuff: $r"
echo "$r" | grep -q '{"table":"users","column":"legacy_flag","rows":3,"reason":"it is not in the new table"}' || fail "report lacks users.legacy_flag: $r"
echo "$r" | grep -q '{"table":"audit","rows":1,"reason":"its new column actor is NOT NULL without a default"}' || fail "report lacks audit: $r"
echo "$r" | grep -q '{"table":"UserProfile","column":"Gone Col","rows":1,' || fail "report lacks UserProfile.Gone Col: $r"
echo "$r" | grep -q '"rows_rejected":0' && echo "$r" | grep -q '"rows_loaded":9' || fail "report counts: $r"
echo "$r" | grep -q '{"table":"users","rows":3,"new_columns":\["name","created_at"\]}' || fail "report lacks users: $r"
expect_err "table old_stuff not carried over: it is not in the new schema \(2 rows stay in the backup"
expect_err "column users.legacy_flag not carried over"
file=$(backup_files "$AUZDB_BACKUP_DIR" | tail -n 1)
eq "$(stat -c %a "$file")" 600 "backup mode"
zcat "$file" | grep -q '^1	x$' || fail "old_stuff rows are not in the backup"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL")" 3 "ledger rows"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20200101000000_ancient'")" 0 "odd ledger row"
az status --set master --database-url "$(url "$db")" --master-migrations "$set"
expect_rc 0 "status after resync"
eq "$(q "$db" "INSERT INTO users (email) VALUES ('new@x') RETURNING id, name")" "4|TRIGGERED" "sequence past the reloaded ids, trigger enabled again"
eq "$(q "$db" "SELECT nextval('invoice_no')")" 1002 "a sequence's value carried over from the backup"
eq "$(q "$db" "INSERT INTO posts (user_id, title) VALUES (1, 'p') RETURNING id")" 12 "a new serial past the reloaded ids"
fresh=$(newdb fresh)
"$AUZDB_BIN" migrate --database-url "$(url "$fresh")" --master-migrations "$set" --skip-backup >/dev/null 2>&1 || fail "fresh"
diff <(schema_dump "$db") <(schema_dump "$fresh") > "$T_TMP/diff" || { head -30 "$T_TMP/diff" >&2; fail "schema after resync differs from a fresh migration"; }
pass "out-of-sync database: unchanged tables kept, matching columns carried, dropped table/column reported, ledger applied, status 0, schema as fresh"

# 2. no ledger at all, with the own-transaction set (drop commits, migrations one by one)
db=$(olddb noledger "DROP TABLE _prisma_migrations;")
az resync --force --database-url "$(url "$db")" --master-migrations "$own" --log-format json
expect_rc 0 "resync without a ledger"
expect_out '"transactional":false'
eq "$(q "$db" "SELECT count(*) FROM users")" 3 "users"
az status --set master --database-url "$(url "$db")" --master-migrations "$own"
expect_rc 0 "status after resync (own transactions)"
pass "tables but no ledger, set with CREATE INDEX CONCURRENTLY: resync carries the rows, status 0"

# 3. a row breaks a new unique index: named, everything rolled back
db=$(olddb unique "INSERT INTO users (email) VALUES ('a@x');")
snapshot "$db" > "$T_TMP/snap"; content_hashes "$db" > "$T_TMP/hash"
az resync --force --database-url "$(url "$db")" --master-migrations "$set" --log-format json
expect_rc 7 "unique violation"
expect_err 'table users: row rejected \(backup line [0-9]+, id=4\): duplicate key value violates unique constraint \\"users_email_key\\"'
expect_err "resync failed: 1 row of the backup does not fit the new schema.*resync rolled back, the database is as it was"
report | grep -q '"rejected_rows":\[{"table":"users","backup_line":[0-9]*,"key":"id=4","error":"duplicate key' || fail "report: $(report)"
diff <(snapshot "$db") "$T_TMP/snap" >/dev/null || fail "schema changed after a failed resync"
diff <(content_hashes "$db") "$T_TMP/hash" >/dev/null || fail "rows changed after a failed resync"
line=$(report | sed -n 's/.*"backup_line":\([0-9]*\).*/\1/p')
zcat "$(backup_files "$AUZDB_BACKUP_DIR" | tail -n 1)" | sed -n "${line}p" | grep -q '^4	a@x' || fail "backup_line $line is not the rejected row"
pass "a row breaking a new unique index: named with its backup line and key, exit 7, rolled back, database as before"

# 4. a broken foreign key: named, rolled back
db=$(olddb fk "INSERT INTO posts VALUES (12, 99, 'orphan', NULL);")
content_hashes "$db" > "$T_TMP/hash"
az resync --force --database-url "$(url "$db")" --master-migrations "$set"
expect_rc 7 "foreign key violation"
expect_err "table posts: row rejected \(user_id=99\): violates foreign key posts_user_id_fkey"
diff <(content_hashes "$db") "$T_TMP/hash" >/dev/null || fail "rows changed after a failed resync"
pass "a row breaking a new foreign key: named, exit 7, database as before"

# 5. past a committed drop (own-transaction set): a new check fails, the backup is played back
db=$(olddb check "UPDATE settings SET v = repeat('x', 30) WHERE k = 'theme';")
schema_dump "$db" > "$T_TMP/schema"; content_hashes "$db" > "$T_TMP/hash"
az resync --force --database-url "$(url "$db")" --master-migrations "$own" --log-format json
expect_rc 7 "check violation"
expect_err 'table settings: row rejected \(backup line [0-9]+, k=theme\): new row for relation \\"settings\\" violates check constraint \\"v_short\\"'
expect_err "restored from the backup"
report | grep -q '"result":"restored from backup"' || fail "report: $(report)"
diff <(schema_dump "$db") "$T_TMP/schema" > "$T_TMP/diff" || { head -30 "$T_TMP/diff" >&2; fail "schema after the restore differs"; }
diff <(content_hashes "$db") "$T_TMP/hash" || fail "rows after the restore differ"
pass "reload failure after a committed drop: the backup is played back, schema and content hashes as before, exit 7"

# 6. the real migrations: a database three migrations behind, with rows
behind="$T_TMP/behind"; mkdir -p "$behind"; cp "$MIGSRC/master/migration_lock.toml" "$behind/"
for m in $(ls "$MIGSRC/master" | grep '^2' | head -n 5); do cp -r "$MIGSRC/master/$m" "$behind/"; done
db=$(newdb real)
"$AUZDB_BIN" migrate --database-url "$(url "$db")" --master-migrations "$behind" --skip-backup >/dev/null 2>&1 || fail "first five migrations"
q "$db" "INSERT INTO users (email, password_hash) SELECT 'u' || g || '@x', 'h' FROM generate_series(1, 500) g" >/dev/null || fail "rows"
users=$(tab_hash "$db" "(SELECT id, email, password_hash FROM users) ")
az resync --force --database-url "$(url "$db")"
expect_rc 0 "resync with the embedded migrations"
eq "$(tab_hash "$db" "(SELECT id, email, password_hash FROM users) ")" "$users" "users after resync"
eq "$(q "$db" "SELECT count(*) FROM users WHERE email_verified = false")" 500 "new column filled with its default"
az status --set master --database-url "$(url "$db")"
expect_rc 0 "status after resync with the embedded migrations"
pass "a database three migrations behind (the real migrations): resync keeps every user, fills new columns, status 0"

done_testing
