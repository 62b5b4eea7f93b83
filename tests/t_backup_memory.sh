#!/usr/bin/env bash
# Bounded memory: backing up a database that holds a value of more than
# 10 MB and hundreds of thousands of rows keeps auzdb's peak RSS at or
# under 32 MB (GNU time's %M), and so does restoring it; the restored data
# is identical.  A memory bound, not a timing one.  On a sanitizer build,
# whose shadow memory makes RSS meaningless, only the bounds are skipped
# (grep reads all of nm's output: with pipefail, grep -q could fail the
# pipeline on SIGPIPE).
. "$(dirname "$0")/lib.sh"
export AUZDB_LOG_FORMAT=text
san=false
nm -D "$AUZDB_BIN" 2>/dev/null | grep __asan_init >/dev/null && { san=true; echo "# sanitizer build: RSS bounds not checked"; }
[ -x /usr/bin/time ] || { echo "skip: needs GNU time (apt-get install time)"; exit 77; }
LIMIT_KB=$((32 * 1024))
bound() { if $san; then echo "(bound not checked on a sanitizer build)"; else echo "<= 32 MB"; fi; }

src=$(newdb src)
q "$src" "CREATE TABLE big (id int PRIMARY KEY, v text);
  INSERT INTO big VALUES (0, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400000) i));
  INSERT INTO big VALUES (1, repeat(E'compressible\t\\\n', 800000)), (2, 'small'), (3, NULL);
  CREATE TABLE many (id int PRIMARY KEY, a text, b jsonb, c numeric);
  INSERT INTO many SELECT i, 'row ' || i || E'\\t' || md5(i::text), jsonb_build_object('i', i), i / 7.0 FROM generate_series(1, 300000) i;" >/dev/null
eq "$(q "$src" "SELECT string_agg((length(v) > 10 * 1024 * 1024)::text, ' ' ORDER BY id) FROM big WHERE id < 2")" "true true" "the big values are over 10 MB"

/usr/bin/time -f %M -o "$T_TMP/rss" "$AUZDB_BIN" backup --database-url "$(url "$src")" --backup-dir "$T_TMP/bk" >"$T_TMP/.az_out" 2>"$T_TMP/.az_err" || fail "backup exit $?"
rss=$(cat "$T_TMP/rss")
$san || [ "$rss" -le "$LIMIT_KB" ] || fail "backup peak RSS ${rss} kB > $LIMIT_KB kB"
file=$(backup_files "$T_TMP/bk")
pass "backup of a 12.8 MB value, a 12 MB compressible one and 300000 rows: peak RSS ${rss} kB $(bound)"

dst=$(newdb dst)
/usr/bin/time -f %M -o "$T_TMP/rss" "$AUZDB_BIN" restore "$file" --database "$(url "$dst")" >"$T_TMP/.az_out" 2>"$T_TMP/.az_err" || fail "restore exit $?"
rss=$(cat "$T_TMP/rss")
$san || [ "$rss" -le "$LIMIT_KB" ] || fail "restore peak RSS ${rss} kB > $LIMIT_KB kB"
same_db "$src" "$dst" "restore"
pass "restore of it: peak RSS ${rss} kB $(bound), and the data is identical"

/usr/bin/time -f %M -o "$T_TMP/rss" "$AUZDB_BIN" backup - --database-url "$(url "$src")" >"$T_TMP/out.sql.gz" 2>"$T_TMP/.az_err" || fail "backup - exit $?"
rss=$(cat "$T_TMP/rss")
$san || [ "$rss" -le "$LIMIT_KB" ] || fail "backup - peak RSS ${rss} kB > $LIMIT_KB kB"
pass "backup - to standard output: peak RSS ${rss} kB $(bound)"
done_testing
