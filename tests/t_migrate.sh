#!/usr/bin/env bash
# The AuzGuard master and tenant sets on fresh databases: the 13 tables, the
# ledger rows Prisma writes (field by field), idempotent re-runs, status.
. "$(dirname "$0")/lib.sh"

db=$(newdb)
az migrate --database-url "$(url "$db")" --log-format json
expect_rc 0 "migrate fresh"
expect_out '"msg":"applied 20251121100039_add_user_verification_fields"'
expect_out '"migration":"20251110005726_init","duration_ms":[0-9]+'
tables=$(q "$db" "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'")
eq "$tables" "_prisma_migrations,api_keys,audit_log,chat_messages,chat_sessions,model_invocations,model_pools,policies,product_access_groups,route_profiles,route_targets,tenant_branding,user_groups,users" "tables"
pass "fresh database gets exactly the seed's 13 tables plus _prisma_migrations"

for col in "users.email_verified" "users.verification_token" "users.verification_token_expires" \
           "policies.residency_requirement_default" "policies.residency_override" "api_keys.encrypted_key" \
           "api_keys.models" "chat_sessions.user_id" "chat_messages.session_id" "tenant_branding.company_name"; do
  n=$(q "$db" "SELECT count(*) FROM information_schema.columns WHERE table_schema='public' AND table_name='${col%.*}' AND column_name='${col#*.}'")
  eq "$n" 1 "column $col"
done
pass "the seed's Step 7 columns exist"

# Ledger DDL exactly as Prisma creates it
ddl=$(q "$db" "SELECT string_agg(column_name || ' ' || data_type || coalesce('(' || character_maximum_length || ')', '') || ' ' || is_nullable || ' ' || coalesce(column_default, '-'), '; ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = '_prisma_migrations'")
eq "$ddl" "id character varying(36) NO -; checksum character varying(64) NO -; finished_at timestamp with time zone YES -; migration_name character varying(255) NO -; logs text YES -; rolled_back_at timestamp with time zone YES -; started_at timestamp with time zone NO now(); applied_steps_count integer NO 0" "ledger DDL"
eq "$(q "$db" "SELECT string_agg(conname || ':' || contype::text, ',') FROM pg_constraint WHERE conrelid = '_prisma_migrations'::regclass")" "_prisma_migrations_pkey:p" "ledger constraints"
pass "_prisma_migrations has Prisma's DDL (columns, types, defaults, primary key only)"

# Each row: uuid v4 id, sha256 of the file, finished, 1 step, no logs
rows=$(q "$db" "SELECT migration_name, checksum, (id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\$'), finished_at >= started_at, logs IS NULL, rolled_back_at IS NULL, applied_steps_count FROM _prisma_migrations ORDER BY started_at")
expected=""
for d in "$MIGSRC"/master/*/; do
  n=$(basename "$d"); sum=$(sha256sum "$d/migration.sql" | cut -d' ' -f1)
  expected+="$n|$sum|t|t|t|t|1"$'\n'
done
eq "$rows" "${expected%$'\n'}" "ledger rows"
pass "ledger rows match Prisma's shape field by field (uuid v4, sha256sum, finished_at, steps 1, logs NULL)"

before=$(snapshot "$db")
az migrate --database-url "$(url "$db")" --log-format text
expect_rc 0; expect_out "up to date: 8 migrations applied, none pending"
eq "$(snapshot "$db")" "$before" "second run"
pass "second run is a no-op (exit 0, nothing written)"

az status --database-url "$(url "$db")" --log-format text
expect_rc 0; expect_out "Database schema is up to date!"
pass "status on an up-to-date database: exit 0"

# behind by three: status 11 names them, migrate applies exactly those
db2=$(newdb behind)
mkdir -p "$T_TMP/partial"; cp "$MIGSRC/master/migration_lock.toml" "$T_TMP/partial/"
for d in $(ls "$MIGSRC/master" | grep -v toml | head -5); do cp -r "$MIGSRC/master/$d" "$T_TMP/partial/"; done
az migrate --database-url "$(url "$db2")" --master-migrations "$T_TMP/partial"; expect_rc 0
az status --database-url "$(url "$db2")" --log-format text
expect_rc 11; expect_out "applied 5/8  pending 3"; expect_out "pending: 20251121091806_add_api_keys_to_main_db, 20251121094639_add_branding_and_chat, 20251121100039_add_user_verification_fields"
pass "status on a database behind by three: exit 11, names them in order"
az migrate --database-url "$(url "$db2")" --log-format text
expect_rc 0; expect_out "3 migrations applied"
eq "$(q "$db2" "SELECT count(*) FROM _prisma_migrations")" 8 "rows after catch-up"
pass "migrate applies only the three pending ones"

# the tenant set, embedded too, gives the same schema
db3=$(newdb tenant)
az migrate --database-url "$(url "$db3")" --set tenant; expect_rc 0
eq "$(q "$db3" "SELECT count(*) FROM _prisma_migrations WHERE migration_name LIKE '%_tenant_%'")" 8 "tenant rows"
diff <(pg_dump -s -d "$db" | grep -v -e '^\\restrict' -e '^\\unrestrict' -e _prisma_migrations) \
     <(pg_dump -s -d "$db3" | grep -v -e '^\\restrict' -e '^\\unrestrict' -e _prisma_migrations) >/dev/null \
  || fail "tenant schema differs from master schema"
pass "tenant set (embedded) gives the same tables as master"

# --migrations DIR holds master/ and tenant/; env var works the same
db4=$(newdb dir)
AUZDB_MIGRATIONS_DIR="$MIGSRC" az migrate --database-url "$(url "$db4")" --log-format text
expect_rc 0; expect_out "8 migrations in $MIGSRC/master"
pass "AUZDB_MIGRATIONS_DIR points at a folder with master/ and tenant/"

# a schema other than public via Prisma's ?schema=
db5=$(newdb schema)
az migrate --database-url "$(url "$db5")?schema=app_v2"; expect_rc 0
eq "$(q "$db5" "SELECT count(*) FROM app_v2._prisma_migrations")" 8 "rows in app_v2"
eq "$(q "$db5" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" 0 "tables in public"
pass "?schema=app_v2: schema created, ledger and tables live there"

# dry run changes nothing
db6=$(newdb dry)
before=$(snapshot "$db6")
az migrate --database-url "$(url "$db6")" --dry-run --log-format text
expect_rc 0; expect_out "would apply 20251110005726_init"; expect_out "dry run: 0 applied, 8 pending"
eq "$(snapshot "$db6")" "$before" "after dry run"
pass "--dry-run prints the plan and leaves the database as it was"
done_testing
