#!/usr/bin/env bash
# auzdb restore's rules: a non-empty target is refused without --clean (and
# left as it was), --create makes the database, a pg_dump plain file with
# \restrict / \unrestrict plays, any other psql meta-command is refused with
# one error line naming its line, and the first failing statement (or COPY
# row) stops the restore with its line number, leaving the target unchanged:
# the whole restore is one transaction.  Text after "COPY ... FROM stdin;" on
# its line runs after the data (as psql runs it); a NUL byte is refused.
. "$(dirname "$0")/lib.sh"
export AUZDB_LOG_FORMAT=text

src=$(newdb src)
q "$src" "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'row ' || i FROM generate_series(1, 500) i;
  CREATE SEQUENCE s; SELECT setval('s', 42);" >/dev/null
az backup --database-url "$(url "$src")" --backup-dir "$T_TMP/bk"; expect_rc 0 "backup"
file=$(backup_files "$T_TMP/bk")

# 1. a non-empty target: refused, exit 2, one line, and nothing in it changes
dst=$(newdb busy)
q "$dst" "CREATE TABLE keep (id int); INSERT INTO keep VALUES (1), (2), (3);" >/dev/null
before=$(snapshot "$dst"; content_hashes "$dst")
az restore "$file" --database "$(url "$dst")"
expect_rc 2; expect_one_line_error "database \"$dst\" is not empty \(it holds relation public.keep\).*--clean"
eq "$(snapshot "$dst"; content_hashes "$dst")" "$before" "the refused target"
pass "restore into a non-empty database: exit 2, one error line naming what it holds, data unchanged"
az restore "$file" --database "$(url "$dst")" --clean; expect_rc 0 "restore --clean"
same_db "$src" "$dst" "restore --clean"
pass "--clean empties the target and restores"

# 2. --create
newname=$(dbname_only created)
az restore "$file" --database "$(url "$newname")"
expect_rc 2; expect_one_line_error "does not exist.*pass --create"
az restore "$file" --database "$(url "$newname")" --create; expect_rc 0 "restore --create"
same_db "$src" "$newname" "restore --create"
pass "--create creates the missing database; without it the error says so"

# 3. pg_dump's plain format, with \restrict / \unrestrict (PostgreSQL 15.14 and later write them)
pg_dump -d "$src" -f "$T_TMP/pgdump.sql"
if grep -q '^\\restrict ' "$T_TMP/pgdump.sql"; then
  grep -q '^\\unrestrict ' "$T_TMP/pgdump.sql" || fail "pg_dump wrote \\restrict but no \\unrestrict"
else
  # an older pg_dump: add the lines a newer one writes
  { echo '\restrict abcDEF123'; cat "$T_TMP/pgdump.sql"; echo '\unrestrict abcDEF123'; } > "$T_TMP/p2.sql"
  mv "$T_TMP/p2.sql" "$T_TMP/pgdump.sql"
fi
dst=$(newdb pgdump)
az restore "$T_TMP/pgdump.sql" --database "$(url "$dst")"; expect_rc 0 "restore of pg_dump output"
same_db "$src" "$dst" "restore of a pg_dump plain file"
pass "a plain pg_dump file with \\restrict / \\unrestrict restores"

# 4. any other meta-command: refused with its line, nothing applied
for meta in '\connect other' '\i /etc/passwd' '\! rm -rf /' '\copy t from stdin' '\set x 1'; do
  { echo "CREATE TABLE before_meta (id int);"; echo "-- a comment"; echo "$meta"; echo "CREATE TABLE after_meta (id int);"; } > "$T_TMP/meta.sql"
  dst=$(newdb meta)
  name=${meta#\\}; name=${name%% *}
  az restore "$T_TMP/meta.sql" --database "$(url "$dst")"
  expect_rc 2 "meta-command $meta"
  expect_one_line_error "line 3: psql meta-command \\\\$name is not supported"
  eq "$(q "$dst" "SELECT count(*) FROM pg_class WHERE relname IN ('before_meta', 'after_meta')")" 0 "tables after a refused \\$name"
done
pass "\\connect, \\i, \\!, \\copy, \\set: refused (exit 2) with one line naming the line; nothing applied"

# 5. the first failing statement stops the restore with its line; nothing stays
cat > "$T_TMP/bad.sql" <<'SQL'
CREATE TABLE a (id int PRIMARY KEY);
INSERT INTO a VALUES (1), (2);

CREATE TABLE b (
  id int,
  v no_such_type
);
CREATE TABLE c (id int);
SQL
dst=$(newdb bad)
az restore "$T_TMP/bad.sql" --database "$(url "$dst")"
expect_rc 7; expect_one_line_error "line 6: .*type \"no_such_type\" does not exist"
eq "$(q "$dst" "SELECT count(*) FROM pg_class WHERE relname IN ('a', 'b', 'c')")" 0 "tables left by a failed restore"
pass "a failing statement: exit 7, one error line with its line number (6), and the target is left empty"

# 6. a bad row inside COPY data names that row's line; nothing stays
gunzip -c "$file" > "$T_TMP/plain.sql"
line=$(grep -n '^250	row 250$' "$T_TMP/plain.sql" | cut -d: -f1)
[ -n "$line" ] || fail "row 250 not found in the dump"
sed -i "${line}s/^250	/not-a-number	/" "$T_TMP/plain.sql"
dst=$(newdb badcopy)
az restore "$T_TMP/plain.sql" --database "$(url "$dst")"
expect_rc 7; expect_one_line_error "line $line: .*invalid input syntax for type integer"
eq "$(q "$dst" "SELECT count(*) FROM pg_class WHERE relname = 't'")" 0 "table left by a failed COPY"
pass "a bad row in COPY data: exit 7, one error line naming that data line ($line), target unchanged"

# 7. a truncated gzip file: refused before anything commits
head -c $(( $(stat -c %s "$file") / 2 )) "$file" > "$T_TMP/trunc.sql.gz"
dst=$(newdb trunc)
az restore "$T_TMP/trunc.sql.gz" --database "$(url "$dst")"
expect_rc 2; expect_one_line_error "truncated|unexpected end|end of file"
eq "$(q "$dst" "SELECT count(*) FROM pg_class WHERE relname = 't'")" 0 "table left by a truncated file"
pass "a truncated .sql.gz: exit 2 with one line, target unchanged"

# 8. text after "COPY ... FROM stdin;" on the same line runs after the data, as in psql
printf 'CREATE TABLE cp (x int);\nCOPY cp FROM stdin; CREATE TABLE after_copy (y int); INSERT INTO after_copy SELECT count(*) FROM cp;\n1\n2\n\\.\nSELECT 1;\n' > "$T_TMP/samline.sql"
dst=$(newdb sameline)
az restore "$T_TMP/samline.sql" --database "$(url "$dst")"; expect_rc 0 "restore with text after COPY"
eq "$(q "$dst" "SELECT y FROM after_copy")" 2 "the statements after COPY on its line (they saw both rows)"
pass "text after COPY ... FROM stdin; on the same line runs after the COPY data"

# 9. a NUL byte in a statement: refused with its line before that statement runs; nothing stays
printf 'CREATE TABLE n1 (x int);\nCREATE TABLE n2 (x int)\0 junk;\n' > "$T_TMP/nul.sql"
dst=$(newdb nul)
az restore "$T_TMP/nul.sql" --database "$(url "$dst")"
expect_rc 2; expect_one_line_error "line 2: NUL byte in the script"
eq "$(q "$dst" "SELECT count(*) FROM pg_class WHERE relname IN ('n1', 'n2')")" 0 "tables left by a refused NUL"
pass "a NUL byte in a statement line: exit 2, one line naming line 2, target unchanged"
done_testing
