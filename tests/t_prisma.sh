#!/usr/bin/env bash
# Interchangeable with the real Prisma CLI (7.10.1, installed by
# scripts/install-prisma.sh with a stand-in for its native schema engine):
# each tool reads and continues what the other wrote, and they exclude each
# other with the same lock.  Skipped (77) when Prisma is not installed.
. "$(dirname "$0")/lib.sh"

PRISMA=${AUZDB_PRISMA:-/var/cache/auzdb/prisma-7.10.1/bin/prisma}
GENERIC=$(dirname "$(dirname "$PRISMA")")/generic/prisma.config.ts
[ -x "$PRISMA" ] && [ -f "$GENERIC" ] || { echo "skip: Prisma not installed (scripts/install-prisma.sh)"; exit 77; }
command -v node >/dev/null || { echo "skip: node not installed"; exit 77; }
# prisma DB MIGDIR ARGS...: runs the real CLI; sets PRC, POUT
prisma() {
  local db=$1 dir=$2; shift 2
  POUT=$(cd "$T_TMP" && DATABASE_URL="$(url "$db")" PRISMA_MIGRATIONS_DIR="$dir" "$PRISMA" "$@" --config "$GENERIC" 2>&1)
  PRC=$?
}
M="$MIGSRC/master"

# auzdb writes, Prisma reads
db=$(newdb a2p)
az migrate --database-url "$(url "$db")"; expect_rc 0
prisma "$db" "$M" migrate status
[ $PRC = 0 ] && grep -q "Database schema is up to date!" <<<"$POUT" || fail "prisma status after auzdb: $PRC $POUT"
pass "after auzdb migrate, prisma migrate status says 'Database schema is up to date!'"

# Prisma writes part, auzdb continues, Prisma agrees
db=$(newdb p2a)
part="$T_TMP/part"; mkdir -p "$part"; cp "$M/migration_lock.toml" "$part/"
for d in $(ls "$M" | grep -v toml | head -5); do cp -r "$M/$d" "$part/"; done
prisma "$db" "$part" migrate deploy
[ $PRC = 0 ] && grep -q "All migrations have been successfully applied" <<<"$POUT" || fail "prisma deploy: $POUT"
az status --set master --database-url "$(url "$db")" --log-format text
expect_rc 11; expect_out "applied 5/8  pending 3"
az migrate --database-url "$(url "$db")"; expect_rc 0
prisma "$db" "$M" migrate status
[ $PRC = 0 ] && grep -q "Database schema is up to date!" <<<"$POUT" || fail "prisma status after catch-up: $POUT"
az status --set master --database-url "$(url "$db")"; expect_rc 0
pass "prisma deploys five, auzdb reads its rows (checksums match) and applies the other three"

# a failed row written by Prisma: auzdb refuses, resolves, Prisma sees it
bad="$T_TMP/bad"; cp -r "$part" "$bad"
mkmig "$bad" 20251130000000_broken $'CREATE TABLE broken_t (id int);\nINSERT INTO nonexistent VALUES (1);\n'
db=$(newdb pfail)
prisma "$db" "$bad" migrate deploy
[ "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20251130000000_broken' AND finished_at IS NULL")" = 1 ] || fail "prisma did not record a failed row: $POUT"
az migrate --database-url "$(url "$db")" --master-migrations "$bad"
expect_rc 8; expect_one_line_error "P3009.*20251130000000_broken"
az resolve --rolled-back 20251130000000_broken --database-url "$(url "$db")" --master-migrations "$bad"; expect_rc 0
prisma "$db" "$bad" migrate status
[ $PRC != 0 ] && grep -q "20251130000000_broken" <<<"$POUT" && grep -q "not yet been applied" <<<"$POUT" || fail "prisma status after auzdb resolve: $POUT"
mkmig "$bad" 20251130000000_broken 'CREATE TABLE broken_t (id int);'
az migrate --database-url "$(url "$db")" --master-migrations "$bad"; expect_rc 0
prisma "$db" "$bad" migrate status
[ $PRC = 0 ] || fail "prisma status after fix: $POUT"
pass "Prisma's failed row blocks auzdb (exit 8); auzdb resolve --rolled-back is what Prisma expects"

# auzdb resolve --applied baseline is accepted by prisma deploy
db=$(newdb baseline)
az resolve --applied 20251110005726_init --database-url "$(url "$db")"; expect_rc 0
prisma "$db" "$M" migrate status
grep -q "20251110083627_add_users_groups_product_access" <<<"$POUT" && ! grep -q "20251110005726_init" <<<"$POUT" || fail "prisma status after baseline: $POUT"
pass "auzdb resolve --applied rows count as applied for Prisma"

# racing: prisma deploy and auzdb migrate at once on an empty database
db=$(newdb race)
( cd "$T_TMP" && DATABASE_URL="$(url "$db")" PRISMA_MIGRATIONS_DIR="$M" "$PRISMA" migrate deploy --config "$GENERIC" > "$T_TMP/race_p.out" 2>&1 ) &
pp=$!
"$AUZDB_BIN" migrate --database-url "$(url "$db")" --lock-timeout 60 > "$T_TMP/race_a.out" 2>&1; arc=$?
wait $pp
[ $arc = 0 ] || { cat "$T_TMP/race_a.out" >&2; fail "auzdb exit $arc while racing prisma"; }
eq "$(q "$db" "SELECT count(*) || '/' || count(DISTINCT migration_name) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" "8/8" "ledger after the race"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NULL")" 0 "failed rows after the race"
pass "prisma migrate deploy and auzdb migrate racing: every migration applied exactly once (shared lock 72707369)"
done_testing
