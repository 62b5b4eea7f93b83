#!/usr/bin/env bash
# auzdb verify (the runbook's Step 5), fleet-wide like status.  Proves: every
# database is compared with the expected schema of the migrations its own
# ledger records (a database behind by three is identical to its five); a
# hand-added index, a dropped column, a changed default and an extra table are
# each reported as one object-level line; exit 0 when all are identical, 8 on
# drift; the JSON report (--report FILE, mode 0600, and the last line in JSON
# log mode) lists the differences; enums (labels in order), functions,
# triggers, views, policies and sequences are compared; the comparison does
# not depend on the database or schema name; verify changes nothing.
. "$(dirname "$0")/lib.sh"

export AUZDB_TENANT_DB_PREFIX="tvf${RANDOM}_"
P=$AUZDB_TENANT_DB_PREFIX
unset AUZDB_AUTO_ADOPT AUZDB_SHADOW_DATABASE_URL
mk_tenant() { createdb "$P$1" || fail "createdb $P$1"; T_DBS+=("$P$1"); }
partial="$T_TMP/partial"; mkdir -p "$partial"; cp "$MIGSRC/tenant/migration_lock.toml" "$partial/"
for d in $(ls "$MIGSRC/tenant" | grep -v toml | head -5); do cp -r "$MIGSRC/tenant/$d" "$partial/"; done

master=$(newdb master)
mk_tenant same; mk_tenant indexed
az run --database-url "$(url "$master")"; expect_rc 0
mk_tenant behind
az migrate --database-url "$(url "$P"behind)" --set tenant --tenant-migrations "$partial"; expect_rc 0
az verify --database-url "$(url "$master")" --log-format text; expect_rc 0
expect_out "^${P}behind +tenant +identical to the schema of its 5 applied migrations"
expect_out "^${P}same +tenant +identical to the schema of its 8 applied migrations"
expect_out "4 databases verified"
pass "fleet verify: every database identical to what its ledger says (the one behind to its 5): exit 0"

q "$P"indexed "CREATE INDEX hand_idx ON route_targets (pool_id, weight)" >/dev/null
before=$(snapshot "$P"indexed)
az verify --database-url "$(url "$master")" --log-format text --report "$T_TMP/verify.json"
expect_rc 8
expect_out "^${P}indexed +tenant +drift: 1 difference"
expect_out "^    index hand_idx extra$"
expect_out "^${P}same +tenant +identical"
eq "$(snapshot "$P"indexed)" "$before" "verify changed nothing"
eq "$(stat -c %a "$T_TMP/verify.json")" 600 "report mode"
grep -q "\"name\":\"${P}indexed\",\"role\":\"tenant\",\"slug\":\"indexed\",\"applied\":8,\"migrations\":8,\"state\":\"drift\",\"differences\":\[\"index hand_idx extra\"\]" "$T_TMP/verify.json" || fail "report entry of the drifted tenant: $(cat "$T_TMP/verify.json")"
grep -q '"command":"verify","duration_ms":[0-9]*,"exit_code":8' "$T_TMP/verify.json" || fail "report exit code"
pass "a hand-added index: reported as one line, exit 8, JSON report 0600 lists it, nothing changed"

az verify --database-url "$(url "$master")" --log-format json; expect_rc 8
tail -n1 "$T_TMP/.az_out" | grep -q "\"state\":\"drift\",\"differences\":\[\"index hand_idx extra\"\]" || fail "JSON log mode: last line is the report"
pass "JSON log mode: the last stdout line is the verify report"

# the kinds of drift, on one database verified alone
one=$(newdb one)
az migrate --database-url "$(url "$one")"; expect_rc 0
q "$one" "ALTER TABLE users DROP COLUMN verification_token_expires; ALTER TABLE policies ALTER COLUMN rules SET DEFAULT '{}'::jsonb; CREATE TABLE scratch (id int); DROP INDEX route_targets_pool_id_idx; CREATE INDEX route_targets_pool_id_idx ON route_targets (pool_id, weight)" >/dev/null
az verify --set master --database-url "$(url "$one")" --log-format text; expect_rc 8
expect_out "^    column users.verification_token_expires missing$"
expect_out "^    column policies.rules differs: expected jsonb NOT NULL DEFAULT '\[\]'::jsonb, got jsonb NOT NULL DEFAULT '\{\}'::jsonb$"
expect_out "^    table scratch extra$"
expect_out "^    index route_targets_pool_id_idx differs: expected CREATE INDEX route_targets_pool_id_idx ON route_targets USING btree \(pool_id\), got CREATE INDEX route_targets_pool_id_idx ON route_targets USING btree \(pool_id, weight\)$"
expect_out "^    column scratch.id extra$"
pass "missing column, changed default, extra table, changed index: one readable line each"

# no ledger at all: compared with the empty schema
noledger=$(newdb noledger)
psql -XAtq -v ON_ERROR_STOP=1 -d "$noledger" -f "$MIGSRC/master/20251110005726_init/migration.sql" >/dev/null
az verify --set master --database-url "$(url "$noledger")" --log-format text; expect_rc 8
expect_out "note: no _prisma_migrations ledger"; expect_out "^    table policies extra$"
pass "tables without a ledger: drift against the empty schema, with a note"

# another schema (?schema=), another database name: same fingerprint
app=$(newdb app)
az migrate --database-url "$(url "$app")?schema=app"; expect_rc 0
az verify --set master --database-url "$(url "$app")?schema=app" --log-format text; expect_rc 0
expect_out "identical to the schema of its 8 applied migrations"
pass "?schema=app: qualification by schema and database names does not count as drift"

# enums, functions, triggers, views, sequences and policies are compared too
rich="$T_TMP/rich"
mkmig "$rich" 20240101000000_rich "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SEQUENCE ticket_seq START 100;
CREATE TABLE t (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'ok', n int DEFAULT nextval('ticket_seq'));
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN NEW.n := 1; RETURN NEW; END\$\$;
CREATE TRIGGER t_touch BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION touch();
CREATE VIEW happy AS SELECT id FROM t WHERE m = 'happy';
ALTER TABLE t ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON t USING (id > 0);"
r1=$(newdb rich1); r2=$(newdb rich2)
for d in "$r1" "$r2"; do az migrate --database-url "$(url "$d")" --master-migrations "$rich"; expect_rc 0; done
az verify --set master --database-url "$(url "$r1")" --master-migrations "$rich" --log-format text; expect_rc 0
q "$r2" "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok'; CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN NEW.n := 2; RETURN NEW; END\$\$; DROP TRIGGER t_touch ON t; CREATE OR REPLACE VIEW happy AS SELECT id FROM t WHERE m <> 'sad'; DROP POLICY own ON t; ALTER SEQUENCE ticket_seq INCREMENT 5" >/dev/null
az verify --set master --database-url "$(url "$r2")" --master-migrations "$rich" --log-format text; expect_rc 8
expect_out "^    enum mood differs: expected 'sad', 'ok', 'happy', got 'sad', 'meh', 'ok', 'happy'$"
expect_out "^    function touch\(\) differs: .*NEW.n := 1;.*NEW.n := 2;"
expect_out "^    trigger t.t_touch missing$"
expect_out "^    view happy differs: "
expect_out "^    policy t.own missing$"
expect_out "^    sequence ticket_seq differs: expected bigint start 100 increment 1 .*, got bigint start 100 increment 5 "
pass "enum labels in order, function bodies, triggers, views, policies and sequences are compared"

# bad input
az verify --database-url "$(url "$one")" --adopt-up-to x; expect_rc 2; expect_one_line_error "adopt-up-to belongs"
az verify --database-url "$(url "$one")" --dry-run; expect_rc 2; expect_one_line_error "dry-run belongs"
pass "bad input: one-line usage errors, exit 2"

done_testing
