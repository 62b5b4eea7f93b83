#!/usr/bin/env bash
# Backup and restore round trip: a schema with every kind of object an
# application holds, and data that is hard to copy (NULLs, tabs, newlines,
# backslashes, "\." lines, unicode, bytea, arrays, jsonb, NaN/Infinity, a
# >10 MB value, empty tables, quoted identifiers).  Restored with
# `auzdb restore` and with `gunzip | psql`, both must equal the source:
# same `pg_dump --schema-only`, same rows in every table, same sequences.
. "$(dirname "$0")/lib.sh"

src=$(newdb src)
psql -XAtq -v ON_ERROR_STOP=1 -d "$src" -f "$(dirname "$0")/backup_fixture.sql" >/dev/null 2>"$T_TMP/fixture.err" || { cat "$T_TMP/fixture.err" >&2; fail "fixture"; }

dir="$T_TMP/bk"
az backup --database-url "$(url "$src")" --backup-dir "$dir" --log-format text
expect_rc 0 "backup"
file=$(backup_files "$dir")
[ -n "$file" ] && [ "$(echo "$file" | wc -l)" = 1 ] || fail "expected one backup file, got: $file"
case "$file" in "$dir"/[0-9]*T[0-9]*Z/"$src".sql.gz) ;; *) fail "backup path shape: $file" ;; esac
eq "$(tail -n 1 "$T_TMP/.az_out")" "$file" "backup prints its file last"
eq "$(stat -c %a "$file")" 600 "backup file mode"
eq "$(stat -c %a "$(dirname "$file")")" 700 "backup set mode"
gzip -t "$file" || fail "gzip -t"
man="$(dirname "$file")/manifest.json"
eq "$(stat -c %a "$man")" 600 "manifest mode"
grep -q "\"sha256\": \"$(sha256sum "$file" | cut -c1-64)\"" "$man" || fail "manifest sha256"
grep -q "\"bytes\": $(stat -c %s "$file")," "$man" || fail "manifest size"
grep -q '"app.users": 2004' "$man" || fail "manifest row count of app.users"
grep -q '"app.empty_table": 0' "$man" || fail "manifest row count of an empty table"
grep -q '"\\"Mixed Case\\".\\"Table \\"\\"Quoted\\"\\"\\"": 2' "$man" || fail "manifest quoted table name"
grep -q '"server_version": "15\.' "$man" || fail "manifest server version"
grep -q '"duration_ms": [0-9]' "$man" || fail "manifest duration"
ls "$(dirname "$file")" | grep -q tmp && fail "temp file left behind"
grep -q 'MiB/s' "$T_TMP/.az_err" && fail "progress written to a stderr that is not a TTY"
pass "backup: <dir>/<UTC stamp>/<db>.sql.gz (0600, valid gzip) with a manifest: size, sha256, row counts, server version, duration"

# 1. auzdb restore into an empty database
dst=$(newdb dst)
az restore "$file" --database "$(url "$dst")" --log-format text
expect_rc 0 "restore"; expect_out "restored [0-9]+ statements and 14 tables"
same_db "$src" "$dst" "auzdb restore"
pass "auzdb restore: schema (pg_dump --schema-only) and every table, matview and sequence identical"

# 2. the same file through gunzip | psql
dst2=$(newdb psql)
gunzip -c "$file" | psql -X -q -v ON_ERROR_STOP=1 -d "$dst2" >/dev/null 2>"$T_TMP/psql.err" || { cat "$T_TMP/psql.err" >&2; fail "gunzip | psql"; }
[ -s "$T_TMP/psql.err" ] && { cat "$T_TMP/psql.err" >&2; fail "psql printed warnings"; }
same_db "$src" "$dst2" "gunzip | psql"
pass "gunzip -c | psql -v ON_ERROR_STOP=1 restores the same database"

# 3. `backup -` to standard output, restored from standard input; level 1 and 9
"$AUZDB_BIN" backup - --database-url "$(url "$src")" --compress-level 1 > "$T_TMP/l1.sql.gz" 2>"$T_TMP/l1.err" || fail "backup - exit $?"
"$AUZDB_BIN" backup - --database-url "$(url "$src")" --compress-level 9 > "$T_TMP/l9.sql.gz" 2>"$T_TMP/l9.err" || fail "backup - level 9"
[ ! -s "$T_TMP/l1.err" ] || { cat "$T_TMP/l1.err"; fail "backup - printed on stderr"; }
[ "$(stat -c %s "$T_TMP/l9.sql.gz")" -lt "$(stat -c %s "$T_TMP/l1.sql.gz")" ] || fail "level 9 is not smaller than level 1"
gunzip -c "$T_TMP/l1.sql.gz" > "$T_TMP/plain.sql"
diff <(gunzip -c "$file" | grep -v '^-- taken at') <(grep -v '^-- taken at' "$T_TMP/plain.sql") >/dev/null || fail "backup - differs from the file backup"
dst3=$(newdb stdin)
"$AUZDB_BIN" restore - --database "$(url "$dst3")" < "$T_TMP/l1.sql.gz" > "$T_TMP/.az_out" 2> "$T_TMP/.az_err" || fail "restore - exit $?"
same_db "$src" "$dst3" "restore from stdin"
dst4=$(newdb plain)
az restore "$T_TMP/plain.sql" --database "$(url "$dst4")"; expect_rc 0 "restore of a plain file"
same_db "$src" "$dst4" "restore of a plain file"
pass "backup - writes the dump to stdout (compression level honoured); restore reads gzip or plain, from a file or stdin"

# 4. a plain-format pg_dump file (with psql's \restrict / \unrestrict)
pg_dump -d "$src" -f "$T_TMP/pgdump.sql"
dst5=$(newdb pgdump)
az restore "$T_TMP/pgdump.sql" --database "$(url "$dst5")"; expect_rc 0 "restore of a pg_dump file"
same_db "$src" "$dst5" "restore of pg_dump output"
gzip -c "$T_TMP/pgdump.sql" > "$T_TMP/pgdump.sql.gz"
dst6=$(newdb pgdumpgz)
az restore "$T_TMP/pgdump.sql.gz" --database "$(url "$dst6")"; expect_rc 0 "restore of a gzipped pg_dump file"
pass "auzdb restore plays pg_dump's plain format (\\restrict handled), plain or gzipped"

# 5. restore refuses a non-empty database; --clean empties it first
az restore "$file" --database "$(url "$dst")" --log-format text
expect_rc 2; expect_one_line_error "database \"$dst\" is not empty \(it holds schema "
az restore "$file" --database "$(url "$dst")" --clean; expect_rc 0 "restore --clean"
same_db "$src" "$dst" "restore --clean"
pass "restore refuses a non-empty database (exit 2); --clean drops what it holds and restores"

# 6. --create makes the database
newname=$(dbname_only created)
az restore "$file" --database "$(url "$newname")" --log-format text
expect_rc 2; expect_one_line_error "does not exist.*--create"
az restore "$file" --database "$(url "$newname")" --create; expect_rc 0 "restore --create"
same_db "$src" "$newname" "restore --create"
pass "restore --create creates the target database; without it a missing database is named"

# 7. progress on a TTY (bytes, rate, table), and only there
script -qec "'$AUZDB_BIN' backup --database-url '$(url "$src")' --backup-dir '$T_TMP/tty' --log-format text" "$T_TMP/tty.log" >/dev/null 2>&1 || fail "backup on a TTY"
grep -aqE "backing up $src: [0-9]+\.[0-9] MiB, [0-9]+\.[0-9] MiB/s, table app\.[a-z_]+" "$T_TMP/tty.log" || { cat -A "$T_TMP/tty.log" | head -5 >&2; fail "no progress line on a TTY"; }
script -qec "'$AUZDB_BIN' backup --database-url '$(url "$src")' --backup-dir '$T_TMP/tty' --log-format json" "$T_TMP/tty2.log" >/dev/null 2>&1 || fail "backup on a TTY (json)"
grep -aq 'MiB/s' "$T_TMP/tty2.log" && fail "progress mixed into JSON logs"
pass "a TTY shows a progress line (MiB, MiB/s, current table); JSON logs and a non-TTY stderr never do"
done_testing
