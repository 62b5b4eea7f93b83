#!/usr/bin/env bash
# Adopt (the runbook's Scenario 3, "tables but no migration history"), on the
# real master set.  Proves: a database whose eight migrations were applied by
# hand gets exactly eight `resolve --applied`-shaped ledger rows and no other
# change; one with only the first five gets five rows and the other three
# applied (after a backup); without AUZDB_AUTO_ADOPT, run/migrate exit 8 with
# the finding and change nothing; with no exact prefix adopt exits 8 with the
# diff and changes nothing; --adopt-up-to forces the baseline; bad input is a
# one-line usage error (exit 2) that changes nothing.  Scenarios 1 and 2
# (fresh database, database missing the last three migrations) for status,
# verify and run.
. "$(dirname "$0")/lib.sh"

export AUZDB_TENANT_DB_PREFIX="tad${RANDOM}_" # no tenants: run = master only
unset AUZDB_AUTO_ADOPT AUZDB_SHADOW_DATABASE_URL
M="$MIGSRC/master"
names=($(ls "$M" | grep -v toml))
by_hand() { # DB N: the first N migrations applied with psql, no ledger
  local i
  for ((i = 0; i < $2; i++)); do
    psql -XAtq -v ON_ERROR_STOP=1 -d "$1" -f "$M/${names[$i]}/migration.sql" >/dev/null || fail "psql ${names[$i]}"
  done
}
subset() { # DIR N: a set with the first N migrations
  mkdir -p "$1"; cp "$M/migration_lock.toml" "$1/"
  local i; for ((i = 0; i < $2; i++)); do cp -r "$M/${names[$i]}" "$1/"; done
}
schema_no_ledger() { pg_dump --schema-only --exclude-table=_prisma_migrations -d "$1" | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict'; }
sum() { sha256sum "$M/$1/migration.sql" | cut -d' ' -f1; }
# every row adopt writes has the shape `prisma migrate resolve --applied` gives it
check_resolved_rows() { # DB N
  eq "$(q "$1" "SELECT count(*) FROM _prisma_migrations WHERE logs = '' AND applied_steps_count = 0 AND finished_at = started_at AND rolled_back_at IS NULL AND length(id) = 36")" "$2" "resolve-shaped rows"
  local i
  for ((i = 0; i < $2; i++)); do
    eq "$(q "$1" "SELECT checksum FROM _prisma_migrations WHERE migration_name = '${names[$i]}'")" "$(sum "${names[$i]}")" "checksum of ${names[$i]}"
  done
}

# Scenario 1: a fresh database
fresh=$(newdb fresh)
az status --set master --database-url "$(url "$fresh")"; expect_rc 11
az run --database-url "$(url "$fresh")" --log-format text; expect_rc 0
az verify --database-url "$(url "$fresh")" --log-format text; expect_rc 0
expect_out "identical to the schema of its 8 applied migrations"
pass "fresh database: status 11, run applies 8, verify 0"

# Scenario 2: an old database missing the last three migrations
old=$(newdb old); subset "$T_TMP/five" 5
az migrate --database-url "$(url "$old")" --master-migrations "$T_TMP/five"; expect_rc 0
az status --set master --database-url "$(url "$old")" --log-format text; expect_rc 11; expect_out "pending 3"
az verify --database-url "$(url "$old")" --log-format text; expect_rc 0
expect_out "identical to the schema of its 5 applied migrations"
az run --database-url "$(url "$old")" --log-format text; expect_rc 0
eq "$(q "$old" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "ledger after run"
eq "$(schema_no_ledger "$old")" "$(schema_no_ledger "$fresh")" "old vs fresh schema"
pass "database missing three migrations: status 11, verify 0 (matches its 5), run applies 3"

# Scenario 3a: all eight applied by hand, no ledger
all=$(newdb all); by_hand "$all" 8
before=$(snapshot "$all")
az migrate --database-url "$(url "$all")" --log-format text
expect_rc 8; expect_one_line_error "P3005.*; the live schema is exactly that of the first 8 of 8 migrations.*auzdb adopt"
az run --database-url "$(url "$all")" --log-format text
expect_rc 8; expect_err "first 8 of 8 migrations"
eq "$(snapshot "$all")" "$before" "after refused migrate/run"
pass "no ledger, AUZDB_AUTO_ADOPT unset: migrate and run exit 8 with the finding, nothing changed"

az adopt --database-url "$(url "$all")" --dry-run --log-format text; expect_rc 0
expect_out "dry run: would record 20251110005726_init as applied"
eq "$(snapshot "$all")" "$before" "after adopt --dry-run"
pass "adopt --dry-run says what it would record and changes nothing"

schema_before=$(schema_no_ledger "$all"); hashes_before=$(content_hashes "$all")
az adopt --database-url "$(url "$all")" --log-format text; expect_rc 0
expect_out "8 recorded as applied, 0 to apply"
eq "$(q "$all" "SELECT count(*) FROM _prisma_migrations")" 8 "ledger rows"
check_resolved_rows "$all" 8
eq "$(schema_no_ledger "$all")" "$schema_before" "schema after adopt"
eq "$(content_hashes "$all" | grep -v _prisma_migrations)" "$(echo "$hashes_before")" "data after adopt"
eq "$(find "$AUZDB_BACKUP_DIR" -name "$all.sql.gz" 2>/dev/null | wc -l)" 0 "no backup when nothing is applied"
az status --set master --database-url "$(url "$all")"; expect_rc 0
az adopt --database-url "$(url "$all")" --log-format text; expect_rc 0; expect_out "nothing to adopt"
eq "$(q "$all" "SELECT count(*) FROM _prisma_migrations")" 8 "ledger rows after a second adopt"
pass "all eight by hand: adopt records 8 resolve-shaped rows, nothing else changes; idempotent"

# Scenario 3b: only the first five by hand
five=$(newdb five); by_hand "$five" 5
before=$(snapshot "$five")
az run --database-url "$(url "$five")" --log-format text
expect_rc 8; expect_err "first 5 of 8 migrations \(up to ${names[4]}\).*records 5 of them as applied and applies the other 3"
eq "$(snapshot "$five")" "$before" "after refused run"
AUZDB_AUTO_ADOPT=1 az run --database-url "$(url "$five")" --log-format text; expect_rc 0
expect_out "5 recorded as applied, 3 to apply"
check_resolved_rows "$five" 5
eq "$(q "$five" "SELECT count(*) FROM _prisma_migrations WHERE logs IS NULL AND applied_steps_count = 1 AND finished_at IS NOT NULL")" 3 "rows of the applied three"
eq "$(schema_no_ledger "$five")" "$(schema_no_ledger "$fresh")" "adopted+migrated vs fresh schema"
eq "$(find "$AUZDB_BACKUP_DIR" -name "$five.sql.gz" | wc -l)" 1 "backup before applying"
pass "first five by hand: AUZDB_AUTO_ADOPT=1 run records 5, backs up, applies 3; schema = fresh"

five2=$(newdb fivecmd); by_hand "$five2" 5
az adopt --database-url "$(url "$five2")" --log-format json; expect_rc 0
eq "$(q "$five2" "SELECT count(*) FROM _prisma_migrations WHERE logs = ''")" 5 "adopted rows"
eq "$(q "$five2" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "all applied"
pass "auzdb adopt: records 5, then migrates the other 3"

# a ledger that lacks rows for objects that exist (3 recorded, 5 in place)
short=$(newdb short); subset "$T_TMP/three" 3
az migrate --database-url "$(url "$short")" --master-migrations "$T_TMP/three"; expect_rc 0
for i in 3 4; do psql -XAtq -v ON_ERROR_STOP=1 -d "$short" -f "$M/${names[$i]}/migration.sql" >/dev/null; done
az adopt --database-url "$(url "$short")" --log-format text; expect_rc 0
expect_out "2 recorded as applied, 3 to apply"
eq "$(q "$short" "SELECT count(*) FROM _prisma_migrations WHERE logs = ''")" 2 "rows adopt added"
eq "$(q "$short" "SELECT count(*) FROM _prisma_migrations")" 8 "ledger rows"
pass "a ledger missing rows for objects in place: adopt adds just those, then migrates"

# no exact prefix: nothing changes, exit 8 with the diff against the closest
odd=$(newdb odd); by_hand "$odd" 5
q "$odd" "ALTER TABLE users ADD COLUMN nickname text" >/dev/null
before=$(snapshot "$odd")
az adopt --database-url "$(url "$odd")" --log-format text
expect_rc 8; expect_one_line_error "matches no prefix.*closest is the first 5 \(up to ${names[4]}\) with 1 difference: column users.nickname extra; nothing was changed"
expect_out "differs from the closest prefix: column users.nickname extra"
eq "$(snapshot "$odd")" "$before" "after adopt without a match"
AUZDB_AUTO_ADOPT=1 az migrate --database-url "$(url "$odd")" --log-format text
expect_rc 8; expect_err "column users.nickname extra"
eq "$(snapshot "$odd")" "$before" "after auto-adopt without a match"
pass "no exact prefix: adopt and auto-adopt exit 8 with the diff, nothing changed"

az adopt --database-url "$(url "$odd")" --adopt-up-to "${names[4]}" --log-format text; expect_rc 0
expect_err "differs from the forced baseline: column users.nickname extra"
eq "$(q "$odd" "SELECT count(*) FROM _prisma_migrations WHERE logs = ''")" 5 "forced baseline rows"
eq "$(q "$odd" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "all applied"
az verify --database-url "$(url "$odd")" --log-format text; expect_rc 8; expect_out "column users.nickname extra"
pass "--adopt-up-to NAME forces the baseline (with a warning naming the difference); verify still reports it"

# bad input: one line, exit 2, nothing changed
bad=$(newdb bad); by_hand "$bad" 2; before=$(snapshot "$bad")
az adopt --database-url "$(url "$bad")" --adopt-up-to 20990101000000_nope
expect_rc 2; expect_one_line_error "adopt-up-to 20990101000000_nope: no such migration"
az migrate --database-url "$(url "$bad")" --adopt-up-to "${names[1]}"
expect_rc 2; expect_one_line_error "adopt-up-to belongs to 'auzdb adopt'"
AUZDB_AUTO_ADOPT=yes az run --database-url "$(url "$bad")"
expect_rc 2; expect_one_line_error "AUZDB_AUTO_ADOPT=yes: expected 0 or 1"
az adopt --database-url "$(url "$bad")" extra-arg
expect_rc 2; expect_one_line_error "unexpected argument"
eq "$(snapshot "$bad")" "$before" "after bad input"
pass "bad input: one-line usage errors, exit 2, nothing changed"

done_testing
