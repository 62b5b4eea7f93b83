#!/usr/bin/env bash
# Owners and privileges: by default a backup holds neither (pg_dump's
# --no-owner --no-privileges: the restoring role owns everything); with
# --with-owners or AUZDB_BACKUP_OWNERS=1 it holds ALTER ... OWNER TO and
# the GRANT / REVOKE statements that turn each object's starting ACL into
# its ACL, so that, where the roles exist, the restored database has the
# same owners and privileges (pg_dump --schema-only, which prints them, is
# identical) through `auzdb restore` and `gunzip | psql` alike.
. "$(dirname "$0")/lib.sh"
export AUZDB_LOG_FORMAT=text

sfx="$RANDOM$RANDOM"
own="t_bko_owner_$sfx"; rd="t_bko_Reader_$sfx"; app="t_bko_app_$sfx"
ROLES=("$own" "$rd" "$app")
cleanup_roles() {
  t_cleanup
  for r in "${ROLES[@]}"; do psql -XAtq -d postgres -c "DROP ROLE IF EXISTS \"$r\"" >/dev/null 2>&1; done
}
trap cleanup_roles EXIT
for r in "${ROLES[@]}"; do q postgres "CREATE ROLE \"$r\" NOLOGIN" >/dev/null; done

src=$(newdb src)
psql -XAtq -v ON_ERROR_STOP=1 -d "$src" >/dev/null <<SQL || fail "fixture"
CREATE SCHEMA app AUTHORIZATION "$own";
CREATE SCHEMA plain;
CREATE TYPE app.mood AS ENUM ('sad', 'ok');
ALTER TYPE app.mood OWNER TO "$own";
CREATE DOMAIN app.pos AS int CHECK (VALUE > 0);
ALTER DOMAIN app.pos OWNER TO "$app";
CREATE TABLE app.t (id serial PRIMARY KEY, v text, secret text, m app.mood);
ALTER TABLE app.t OWNER TO "$own";
CREATE TABLE app.ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n app.pos);
ALTER TABLE app.ident OWNER TO "$app";
CREATE TABLE plain.other (id int);
CREATE SEQUENCE app.standalone;
ALTER SEQUENCE app.standalone OWNER TO "$app";
CREATE VIEW app.v AS SELECT id, v FROM app.t;
ALTER VIEW app.v OWNER TO "$own";
CREATE MATERIALIZED VIEW app.mv AS SELECT count(*) AS n FROM app.t;
ALTER MATERIALIZED VIEW app.mv OWNER TO "$own";
CREATE FUNCTION app.f(a int) RETURNS int LANGUAGE sql AS 'SELECT a + 1';
ALTER FUNCTION app.f(int) OWNER TO "$own";
CREATE PROCEDURE app.p() LANGUAGE sql AS 'SELECT 1';
ALTER PROCEDURE app.p() OWNER TO "$app";
INSERT INTO app.t (v, secret, m) VALUES ('a', 's1', 'ok'), ('b', 's2', 'sad');
REFRESH MATERIALIZED VIEW app.mv;
GRANT USAGE ON SCHEMA app TO "$rd", "$app";
GRANT SELECT ON app.t, app.v, app.mv TO "$rd";
GRANT INSERT, UPDATE ON app.t TO "$app" WITH GRANT OPTION;
REVOKE DELETE, TRUNCATE ON app.t FROM "$own";
GRANT SELECT (id), UPDATE (n) ON app.ident TO "$rd";
REVOKE EXECUTE ON FUNCTION app.f(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.f(int) TO "$app";
REVOKE EXECUTE ON PROCEDURE app.p() FROM PUBLIC;
GRANT USAGE, SELECT ON SEQUENCE app.standalone, app.t_id_seq TO "$rd";
REVOKE USAGE ON TYPE app.mood FROM PUBLIC;
GRANT USAGE ON TYPE app.mood TO "$app";
GRANT CREATE ON SCHEMA public TO "$app";
GRANT ALL ON SCHEMA plain TO PUBLIC;
SQL
owned_by_roles() { q "$1" "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname IN ('$own', '$rd', '$app')"; }

# 1. the default: no owners, no privileges
az backup --database-url "$(url "$src")" --backup-dir "$T_TMP/plain"; expect_rc 0 "backup"
file=$(backup_files "$T_TMP/plain")
gunzip -c "$file" | grep -E '^(ALTER .* OWNER TO|GRANT |REVOKE )' && fail "a default backup holds owners or privileges"
dst=$(newdb noowner)
az restore "$file" --database "$(url "$dst")"; expect_rc 0 "restore of the default backup"
eq "$(owned_by_roles "$dst")" 0 "relations owned by the source's roles after a default restore"
diff <(content_hashes "$src") <(content_hashes "$dst") >/dev/null || fail "data of the default restore"
pass "by default a backup has no owners and no GRANT/REVOKE: the restoring role owns everything"

# 2. --with-owners: owners and privileges come back, by either restore path
az backup --database-url "$(url "$src")" --backup-dir "$T_TMP/own" --with-owners; expect_rc 0 "backup --with-owners"
file=$(backup_files "$T_TMP/own")
gunzip -c "$file" > "$T_TMP/own.sql"
grep -q "^ALTER TABLE app.t OWNER TO $own;" "$T_TMP/own.sql" || fail "no ALTER TABLE ... OWNER TO in the backup"
grep -q "^REVOKE EXECUTE ON ROUTINE app.f(integer) FROM PUBLIC;" "$T_TMP/own.sql" || fail "no REVOKE from PUBLIC in the backup"
grep -q "^GRANT SELECT (id) ON TABLE app.ident TO \"$rd\";" "$T_TMP/own.sql" || fail "no column GRANT in the backup"
grep -q "OWNER TO .*app.t_id_seq\|SEQUENCE app.t_id_seq OWNER" "$T_TMP/own.sql" && fail "an owned sequence's owner is set on its own (ALTER TABLE carries it)"
[ "$(owned_by_roles "$src")" -ge 7 ] || fail "fixture: too few objects owned by the test roles"
dst=$(newdb auzrestore)
az restore "$file" --database "$(url "$dst")"; expect_rc 0 "auzdb restore of a --with-owners backup"
same_db "$src" "$dst" "auzdb restore --with-owners"
dst2=$(newdb psqlrestore)
gunzip -c "$file" | psql -X -q -v ON_ERROR_STOP=1 -d "$dst2" >/dev/null 2>"$T_TMP/psql.err" || { cat "$T_TMP/psql.err" >&2; fail "gunzip | psql of a --with-owners backup"; }
[ -s "$T_TMP/psql.err" ] && { cat "$T_TMP/psql.err" >&2; fail "psql printed warnings"; }
same_db "$src" "$dst2" "gunzip | psql --with-owners"
eq "$(q "$dst2" "SELECT has_table_privilege('$rd', 'app.t', 'SELECT'), has_table_privilege('$own', 'app.t', 'DELETE'), has_function_privilege('$rd', 'app.f(int)', 'EXECUTE'), has_column_privilege('$rd', 'app.ident', 'n', 'SELECT')")" "t|f|f|f" "effective privileges after restore"
pass "--with-owners: owners, table/column/sequence/routine/type/schema privileges and revokes restore identically (pg_dump --schema-only equal) with auzdb restore and gunzip | psql"

# 3. AUZDB_BACKUP_OWNERS=1 is the same switch; other values are a usage error
AUZDB_BACKUP_OWNERS=1 az backup --database-url "$(url "$src")" --backup-dir "$T_TMP/env"; expect_rc 0
diff <(gunzip -c "$(backup_files "$T_TMP/env")" | grep -v '^-- taken at') <(grep -v '^-- taken at' "$T_TMP/own.sql") >/dev/null || fail "AUZDB_BACKUP_OWNERS=1 differs from --with-owners"
AUZDB_BACKUP_OWNERS=yes az backup --database-url "$(url "$src")" --backup-dir "$T_TMP/bad"; expect_rc 2; expect_one_line_error "AUZDB_BACKUP_OWNERS=yes"
[ -e "$T_TMP/bad" ] && fail "a usage error created the backup directory"
AUZDB_BACKUP_OWNERS=0 az backup --database-url "$(url "$src")" --backup-dir "$T_TMP/zero"; expect_rc 0
gunzip -c "$(backup_files "$T_TMP/zero")" | grep -qE '^(ALTER .* OWNER TO|GRANT )' && fail "AUZDB_BACKUP_OWNERS=0 kept owners"
pass "AUZDB_BACKUP_OWNERS=1 equals --with-owners; =0 is the default; any other value exits 2 with one line"
done_testing
