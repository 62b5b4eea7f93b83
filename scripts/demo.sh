#!/usr/bin/env bash
# The main job on an embedded default: starts a throwaway PostgreSQL 15 with a
# master and three tenant databases in different states (fresh, behind by
# three migrations, up to date), runs `auzdb run` against it, prints the
# result, and removes everything again.
#   scripts/demo.sh [path/to/auzdb]     (default: builds build-dev/auzdb)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
  scripts/install-deps.sh
  cmake -S . -B build-dev -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-dev -j "$(nproc)" >/dev/null
  bin=build-dev/auzdb
fi
work=$(mktemp -d /tmp/auzdb-demo.XXXXXX)
cleanup() { bash tests/pgserver.sh stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

bash tests/pgserver.sh start "$work/pg"
# shellcheck disable=SC1091
. "$work/pg/env"
export PGHOST PGPORT PGUSER
export MASTER_DATABASE_URL="$PGTEST_URL/auzguard_master"
export AUZDB_BACKUP_DIR="$work/backups" AUZDB_LOG_FORMAT=text
createdb auzguard_master
for t in acme-corp globex initech; do createdb "auzguard_tenant_$t"; done
# globex is behind: only the first five tenant migrations; initech is up to date
mkdir -p "$work/old"
cp migrations/tenant/migration_lock.toml "$work/old/"
for d in $(ls migrations/tenant | grep -v toml | head -5); do cp -r "migrations/tenant/$d" "$work/old/"; done
"$bin" migrate --quiet --set tenant --tenant-migrations "$work/old" --database-url "$PGTEST_URL/auzguard_tenant_globex"
"$bin" migrate --quiet --set tenant --database-url "$PGTEST_URL/auzguard_tenant_initech"

echo; echo "== before: auzdb status"
"$bin" status || true
echo; echo "== auzdb run"
rc=0; "$bin" run || rc=$?
echo; echo "== after: auzdb status"
"$bin" status || true
echo; echo "auzdb run exited $rc"
exit $rc
