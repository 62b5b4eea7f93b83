#!/usr/bin/env bash
# The AuzGuard schema round trip: master and tenant databases migrated by
# auzdb (the embedded migrations/master and migrations/tenant), every table
# seeded with rows (NULLs, tabs, newlines, quotes, backslashes, unicode,
# jsonb, enums, foreign keys), backed up, then restored both with
# `auzdb restore` and with `gunzip | psql`: pg_dump --schema-only and every
# table's content are identical, and the restored ledger says up to date.
. "$(dirname "$0")/lib.sh"
export AUZDB_LOG_FORMAT=text

# Inserts 25 rows into every table of the current schema but the ledger,
# parents before children; a value for each column from its type.
seed() {
  psql -XAtq -v ON_ERROR_STOP=1 -d "$1" >/dev/null 2>"$T_TMP/seed.err" <<'SQL' || { cat "$T_TMP/seed.err" >&2; fail "seeding $1"; }
DO $seed$
DECLARE
  t record; c record; fk record;
  cols text; vals text; v text; i int;
  done text[] := '{}'; progressed bool;
BEGIN
  LOOP
    progressed := false;
    FOR t IN SELECT r.oid, r.relname FROM pg_class r JOIN pg_namespace ns ON ns.oid = r.relnamespace
             WHERE ns.nspname = current_schema() AND r.relkind = 'r' AND r.relname <> '_prisma_migrations'
               AND NOT (r.relname = ANY (done))
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_class p ON p.oid = k.confrelid
                               WHERE k.conrelid = r.oid AND k.contype = 'f' AND k.confrelid <> r.oid
                               AND NOT (p.relname = ANY (done)))
             ORDER BY r.relname
    LOOP
      FOR i IN 1..25 LOOP
        cols := ''; vals := '';
        FOR c IN SELECT a.attname, a.attnum, a.attnotnull, format_type(a.atttypid, a.atttypmod) AS ty,
                        ty.typtype, a.atttypid, a.attidentity, a.attgenerated
                 FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
                 WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
        LOOP
          CONTINUE WHEN c.attidentity = 'a' OR c.attgenerated <> '';
          SELECT k.confrelid::regclass::text AS ref, k.confrelid = t.oid AS self,
                 (SELECT attname FROM pg_attribute WHERE attrelid = k.confrelid AND attnum = k.confkey[1]) AS refcol
            INTO fk FROM pg_constraint k
            WHERE k.conrelid = t.oid AND k.contype = 'f' AND k.conkey = ARRAY[c.attnum] LIMIT 1;
          IF FOUND THEN
            IF fk.self OR (NOT c.attnotnull AND i % 5 = 0) THEN v := 'NULL';
            ELSE v := format('(SELECT %I FROM %s ORDER BY 1 OFFSET %s LIMIT 1)', fk.refcol, fk.ref, i - 1);
            END IF;
          ELSIF NOT c.attnotnull AND i % 4 = 0 THEN v := 'NULL';
          ELSIF c.typtype = 'e' THEN
            v := format('(enum_range(NULL::%s))[%s]', c.ty,
                        1 + i % (SELECT count(*) FROM pg_enum WHERE enumtypid = c.atttypid));
          ELSIF c.ty = 'uuid' THEN v := 'gen_random_uuid()';
          ELSIF c.ty IN ('integer', 'bigint', 'smallint') THEN v := i::text;
          ELSIF c.ty LIKE 'numeric%' OR c.ty IN ('double precision', 'real') THEN v := (i * 1.25)::text;
          ELSIF c.ty = 'boolean' THEN v := (i % 2 = 0)::text;
          ELSIF c.ty LIKE 'timestamp%' THEN
            v := quote_literal(timestamp '2025-01-01 00:00:00.123' + i * interval '1 hour 1.5 seconds');
          ELSIF c.ty = 'date' THEN v := quote_literal(date '2025-01-01' + i);
          ELSIF c.ty IN ('jsonb', 'json') THEN
            v := quote_literal(jsonb_build_object('i', i, 'text', E'tab\there "q" \\ ü\nline', 'list',
                                                  jsonb_build_array(i, NULL, true, 1.5e10))::text);
          ELSIF c.ty LIKE '%[]' THEN v := quote_literal(ARRAY['a' || i, 'b "' || i || '"', NULL]::text);
          ELSE
            v := quote_literal(format(E'%s %s.%s\t"q" \\ ü ' || chr(10) || 'line \\.', i, t.relname, c.attname));
          END IF;
          cols := cols || CASE WHEN cols = '' THEN '' ELSE ', ' END || quote_ident(c.attname);
          vals := vals || CASE WHEN vals = '' THEN '' ELSE ', ' END || v || '::' || c.ty;
        END LOOP;
        EXECUTE format('INSERT INTO %I (%s) VALUES (%s)', t.relname, cols, vals);
      END LOOP;
      done := done || t.relname::text;
      progressed := true;
    END LOOP;
    EXIT WHEN NOT progressed;
  END LOOP;
END $seed$;
SQL
}

for set in master tenant; do
  src=$(newdb "$set")
  az migrate --database-url "$(url "$src")" --set "$set" --skip-backup; expect_rc 0 "migrate the $set set"
  seed "$src"
  empty=$(q "$src" "SELECT string_agg(c.relname, ', ') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r'
    AND (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', c.relname), false, true, '')))[1]::text::int = 0")
  eq "$empty" "" "tables of the $set schema left empty by the seed"
  ntables=$(q "$src" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
  [ "$ntables" -ge 10 ] || fail "$set schema: only $ntables tables"

  az backup --database-url "$(url "$src")" --backup-dir "$T_TMP/$set"; expect_rc 0 "backup of the $set database"
  file=$(backup_files "$T_TMP/$set")
  grep -q "\"public._prisma_migrations\": 8" "$(dirname "$file")/manifest.json" || fail "$set: manifest row count of the ledger"

  dst=$(newdb "${set}_az")
  az restore "$file" --database "$(url "$dst")"; expect_rc 0 "auzdb restore of the $set backup"
  expect_out "restored [0-9]+ statements and $ntables tables"
  same_db "$src" "$dst" "auzdb restore of $set"
  az status --database-url "$(url "$dst")" --set "$set"; expect_rc 0 "status of the restored $set database"

  dst2=$(newdb "${set}_psql")
  gunzip -c "$file" | psql -X -q -v ON_ERROR_STOP=1 -d "$dst2" >/dev/null 2>"$T_TMP/psql.err" || { cat "$T_TMP/psql.err" >&2; fail "gunzip | psql of $set"; }
  [ -s "$T_TMP/psql.err" ] && { cat "$T_TMP/psql.err" >&2; fail "psql printed warnings"; }
  same_db "$src" "$dst2" "gunzip | psql of $set"
  pass "AuzGuard $set schema ($ntables tables, every one seeded): backup -> auzdb restore and gunzip | psql give identical schema and contents; the restored ledger is up to date"
done
done_testing
