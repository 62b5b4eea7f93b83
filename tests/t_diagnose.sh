#!/usr/bin/env bash
# Diagnosis of partial states ("column already exists", "relation does not
# exist").  Proves: when a migration fails because some of its objects are
# already there, the one-line error names the migration, the objects of it
# that are present and those that are absent, and the fix command; the
# detail lines go to the log and to the JSON report; following the fix
# (add the rest by hand, `adopt --adopt-up-to NAME`) leaves a Prisma-shaped
# ledger and a verified schema; when every object is present the fix is
# `adopt --adopt-up-to`; when an object an earlier migration creates is
# missing ("relation does not exist") it is named and the fix is to
# recreate it and `resolve --rolled-back`; a migration that fails on an empty
# database as well is called broken rather than the database.
. "$(dirname "$0")/lib.sh"

export AUZDB_TENANT_DB_PREFIX="tdg${RANDOM}_"
unset AUZDB_AUTO_ADOPT AUZDB_SHADOW_DATABASE_URL
M="$MIGSRC/master"
names=($(ls "$M" | grep -v toml))
last=${names[7]}
seven="$T_TMP/seven"; mkdir -p "$seven"; cp "$M/migration_lock.toml" "$seven/"
for ((i = 0; i < 7; i++)); do cp -r "$M/${names[$i]}" "$seven/"; done

# one column of the last migration added by hand
db=$(newdb partial)
az migrate --database-url "$(url "$db")" --master-migrations "$seven"; expect_rc 0
q "$db" 'ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT false' >/dev/null
az run --database-url "$(url "$db")" --log-format text --report "$T_TMP/report.json"
expect_rc 7
expect_one_line_error "migration $last failed: ERROR: column \"email_verified\" of relation \"users\" already exists \(SQLSTATE 42701\); diagnosis: of the 4 objects $last creates, changes or drops, 1 is already in place \(column users.email_verified\), 3 not \(column users.verification_token, column users.verification_token_expires, index users_verification_token_key\); fix: .*'auzdb resolve --rolled-back $last'.*'auzdb adopt --adopt-up-to $last'"
expect_out "diagnosis: column users.email_verified present$"
expect_out "diagnosis: column users.verification_token absent$"
expect_out "diagnosis: index users_verification_token_key absent$"
grep -q '"detail":"column users.email_verified present; column users.verification_token absent; column users.verification_token_expires absent; index users_verification_token_key absent"' "$T_TMP/report.json" || fail "report detail: $(cat "$T_TMP/report.json")"
grep -q "\"message\":\"migration $last failed: .*diagnosis: " "$T_TMP/report.json" || fail "report error message"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '$last' AND finished_at IS NULL AND rolled_back_at IS NULL")" 1 "failed row"
eq "$(q "$db" "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name LIKE 'verification%'")" 0 "the migration's other columns were rolled back"
pass "column of the last migration added by hand: exit 7, present/absent objects and the fix, in the error, log and report"

# the fix: add the absent objects by hand, then adopt up to it
q "$db" 'ALTER TABLE users ADD COLUMN "verification_token" VARCHAR(255), ADD COLUMN "verification_token_expires" TIMESTAMP(3); CREATE UNIQUE INDEX "users_verification_token_key" ON "users"("verification_token")' >/dev/null
az adopt --adopt-up-to "$last" --database-url "$(url "$db")" --log-format text; expect_rc 0
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '$last' AND rolled_back_at IS NOT NULL AND finished_at IS NULL")" 1 "failed row rolled back"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '$last' AND finished_at = started_at AND logs = '' AND applied_steps_count = 0")" 1 "resolved row"
az status --set master --database-url "$(url "$db")"; expect_rc 0
az verify --database-url "$(url "$db")"; expect_rc 0
pass "the fix works: adopt --adopt-up-to rolls back the failed row and records it (Prisma's shapes); status and verify 0"

# every object already present: the fix is adopt --adopt-up-to
all=$(newdb allthere)
az migrate --database-url "$(url "$all")" --master-migrations "$seven"; expect_rc 0
psql -XAtq -v ON_ERROR_STOP=1 -d "$all" -f "$M/$last/migration.sql" >/dev/null
az migrate --database-url "$(url "$all")" --log-format text; expect_rc 7
expect_one_line_error "4 are already in place \(.*\), 0 not; fix: 'auzdb adopt --adopt-up-to $last' records it as applied"
pass "all objects of the migration present: the fix named is adopt --adopt-up-to"

# "relation does not exist": an object of an earlier migration is missing
set="$T_TMP/set"
mkmig "$set" 20240101000000_a 'CREATE TABLE a (id int PRIMARY KEY);'
mkmig "$set" 20240102000000_b 'CREATE TABLE b (id int); ALTER TABLE a ADD COLUMN note text;'
gone=$(newdb gone)
az migrate --database-url "$(url "$gone")" --master-migrations "$set"; expect_rc 0
q "$gone" "DROP TABLE a; DROP TABLE b; DELETE FROM _prisma_migrations WHERE migration_name = '20240102000000_b'" >/dev/null
az migrate --database-url "$(url "$gone")" --master-migrations "$set" --log-format text; expect_rc 7
expect_one_line_error "20240102000000_b failed: ERROR: relation \"a\" does not exist \(SQLSTATE 42P01\); diagnosis: .*earlier objects are missing; fix: create the 4 missing objects of earlier migrations, then 'auzdb resolve --rolled-back 20240102000000_b' and run again"
expect_out "diagnosis: table a missing \(an earlier migration creates it\)"
expect_out "diagnosis: table b absent"
pass "relation does not exist: the missing earlier objects are named, fix = recreate + resolve --rolled-back"

# a migration that fails on an empty database too is itself at fault
broken=$(newdb broken)
mkmig "$T_TMP/broken" 20240101000000_a 'CREATE TABLE a (id int);'
mkmig "$T_TMP/broken" 20240102000000_b 'ALTER TABLE nonexistent ADD COLUMN x int;'
az migrate --database-url "$(url "$broken")" --master-migrations "$T_TMP/broken" --log-format text; expect_rc 7
expect_one_line_error "20240102000000_b failed: .*\(SQLSTATE 42P01\); it fails the same way on an empty database built from the migrations: the migration itself is at fault, not this database$"
pass "a migration broken everywhere: the diagnosis says the migration, not the database, is at fault"

# a failure the diagnosis does not explain keeps the plain one-line error
other=$(newdb other)
mkmig "$T_TMP/bad" 20240101000000_x 'SELECT 1/0;'
az migrate --database-url "$(url "$other")" --master-migrations "$T_TMP/bad" --log-format text; expect_rc 7
expect_one_line_error "20240101000000_x failed.*division by zero \(SQLSTATE 22012\)$"
pass "other failures (division by zero): the plain one-line error, no diagnosis"

done_testing
