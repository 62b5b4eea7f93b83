#!/usr/bin/env bash
# The shadow database that gives the expected schema after each migration.
# Proves: the throwaway database (random name, from template0) is dropped
# after a migration set that fails on it and after SIGTERM during its build
# (exit 10, pg_database has no leftover); it is built once per run and
# migration set, however many tenants need it; AUZDB_SHADOW_DATABASE_URL uses
# the operator's empty database instead (no database is created, it is left
# empty), wipes a leftover of an earlier run, and refuses a database that holds
# objects auzdb did not make or that is the live database (exit 2, nothing
# changed on either side).
. "$(dirname "$0")/lib.sh"

export AUZDB_TENANT_DB_PREFIX="tsh${RANDOM}_"
P=$AUZDB_TENANT_DB_PREFIX
unset AUZDB_AUTO_ADOPT AUZDB_SHADOW_DATABASE_URL
shadow_names() { grep -oE 'shadow database \\?"auzdb_shadow_[0-9a-f]+' "$T_TMP/.az_out" | grep -oE 'auzdb_shadow_[0-9a-f]+'; }
exists_db() { q postgres "SELECT count(*) FROM pg_database WHERE datname = '$1'"; }

# a set whose second migration fails on an empty database
bad="$T_TMP/bad"
mkmig "$bad" 20240101000000_a 'CREATE TABLE a (id int);'
mkmig "$bad" 20240102000000_b 'CREATE TABLE b (id no_such_type);'
live=$(newdb live); q "$live" "CREATE TABLE a (id int)" >/dev/null
before=$(snapshot "$live")
az adopt --database-url "$(url "$live")" --master-migrations "$bad" --log-format text
expect_rc 7
expect_one_line_error "cannot compute the expected schemas: on an empty shadow database, migration 20240102000000_b failed.*no_such_type"
name=$(shadow_names); [ -n "$name" ] || fail "no shadow database named in the output"
eq "$(exists_db "$name")" 0 "shadow database $name after the failure"
eq "$(snapshot "$live")" "$before" "live database after the failed shadow build"
pass "a migration set that fails on the shadow: exit 7 naming it, shadow dropped, live unchanged"

AUZDB_AUTO_ADOPT=1 az migrate --database-url "$(url "$live")" --master-migrations "$bad" --log-format text
expect_rc 8; expect_one_line_error "P3005.*adoption was not possible: cannot compute the expected schemas"
name=$(shadow_names); eq "$(exists_db "$name")" 0 "shadow database $name after auto-adopt"
eq "$(snapshot "$live")" "$before" "live database after auto-adopt"
pass "auto-adopt with a failing set: exit 8 (Prisma's refusal + why adoption failed), shadow dropped"

# SIGTERM while the shadow database is being built
slow="$T_TMP/slow"
mkmig "$slow" 20240101000000_a 'CREATE TABLE a (id int);'
mkmig "$slow" 20240102000000_sleep 'SELECT pg_sleep(600);'
"$AUZDB_BIN" adopt --database-url "$(url "$live")" --master-migrations "$slow" --log-format text >"$T_TMP/.az_out" 2>"$T_TMP/.az_err" </dev/null &
pid=$!
name=""
for _ in $(seq 600); do # wait (not a timing assertion) until the shadow runs the sleep
  name=$(q postgres "SELECT datname FROM pg_stat_activity WHERE datname LIKE 'auzdb_shadow_%' AND query LIKE '%pg_sleep(600)%' LIMIT 1")
  [ -n "$name" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$name" ] || { kill -KILL "$pid" 2>/dev/null; fail "the shadow build never reached the sleeping migration"; }
kill -TERM "$pid"; wait "$pid"; RC=$?
expect_rc 10
expect_err "stopped by a signal"
eq "$(exists_db "$name")" 0 "shadow database $name after SIGTERM"
eq "$(snapshot "$live")" "$before" "live database after SIGTERM"
pass "SIGTERM during the shadow build: exit 10, the running migration cancelled, shadow dropped"

# once per run and set: three tenants to adopt, one shadow build
T="$MIGSRC/tenant"; tnames=($(ls "$T" | grep -v toml))
master=$(newdb master)
for t in one two three; do
  createdb "$P$t" || fail "createdb"; T_DBS+=("$P$t")
  for ((i = 0; i < 5; i++)); do psql -XAtq -v ON_ERROR_STOP=1 -d "$P$t" -f "$T/${tnames[$i]}/migration.sql" >/dev/null; done
done
AUZDB_AUTO_ADOPT=1 az run --database-url "$(url "$master")" --concurrency 3 --log-format text; expect_rc 0
eq "$(grep -c 'building the expected schemas' "$T_TMP/.az_out")" 1 "shadow builds in the run"
for t in one two three; do
  eq "$(q "$P$t" "SELECT count(*) FROM _prisma_migrations WHERE logs = ''")" 5 "adopted rows of $t"
  eq "$(q "$P$t" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "applied rows of $t"
done
name=$(shadow_names); eq "$(exists_db "$name")" 0 "shadow database $name after the run"
pass "three tenants adopted in one run (3 workers): the tenant set's shadow is built once, then dropped"

# AUZDB_SHADOW_DATABASE_URL: the operator's empty database
small="$T_TMP/small"
mkmig "$small" 20240101000000_a 'CREATE TABLE a (id int);'
mkmig "$small" 20240102000000_b 'CREATE TABLE b (id int);'
op=$(newdb opshadow)
db=$(newdb withop); q "$db" "CREATE TABLE a (id int)" >/dev/null
AUZDB_SHADOW_DATABASE_URL="$(url "$op")" az adopt --database-url "$(url "$db")" --master-migrations "$small" --log-format text
expect_rc 0; expect_out "AUZDB_SHADOW_DATABASE_URL"; expect_out "1 recorded as applied, 1 to apply"
[ -z "$(shadow_names)" ] || fail "a throwaway database was created although AUZDB_SHADOW_DATABASE_URL is set"
eq "$(q "$op" "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")" 0 "objects left in the shadow"
pass "AUZDB_SHADOW_DATABASE_URL: used instead of a throwaway database, left empty"

q "$op" "CREATE TABLE leftover (id int)" >/dev/null # a killed run's remains (schema still marked)
db2=$(newdb withop2); q "$db2" "CREATE TABLE a (id int)" >/dev/null
AUZDB_SHADOW_DATABASE_URL="$(url "$op")" az adopt --database-url "$(url "$db2")" --master-migrations "$small" --log-format text
expect_rc 0
eq "$(q "$op" "SELECT count(*) FROM pg_class WHERE relname = 'leftover'")" 0 "leftover wiped"
pass "AUZDB_SHADOW_DATABASE_URL: the remains of an earlier run are wiped before use"

notempty=$(newdb notempty); q "$notempty" "CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)" >/dev/null
db3=$(newdb withop3); q "$db3" "CREATE TABLE a (id int)" >/dev/null
before=$(snapshot "$db3")
AUZDB_SHADOW_DATABASE_URL="$(url "$notempty")" az adopt --database-url "$(url "$db3")" --master-migrations "$small" --log-format text
expect_rc 2; expect_one_line_error "holds 1 relations and was not made by auzdb"
eq "$(q "$notempty" "SELECT count(*) FROM precious")" 1 "the operator's table"
eq "$(snapshot "$db3")" "$before" "live after the refusal"
AUZDB_SHADOW_DATABASE_URL="$(url "$db3")" az adopt --database-url "$(url "$db3")" --master-migrations "$small" --log-format text
expect_rc 2; expect_one_line_error "names the database being checked"
eq "$(snapshot "$db3")" "$before" "live after naming itself as the shadow"
pass "AUZDB_SHADOW_DATABASE_URL refused (exit 2, nothing touched): a database with foreign objects, the live one"

done_testing
