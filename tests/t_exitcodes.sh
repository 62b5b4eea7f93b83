#!/usr/bin/env bash
# The exit code comes from the server's SQLSTATE (conn.h, db_sqlstate_exit),
# never from message text.  Each row of the mapping is reached from a real
# server: a role that may connect but not read _prisma_migrations (42501 ->
# 4 for status, migrate and run), a backend terminated while it reads the
# ledger (-> 3), a read-only database (25006 -> 4), errors injected into the
# ledger read by a row-security policy (08xxx, 57P01, 53300 -> 3; 28000,
# 42501 -> 4; 55P03, 40P01 -> 5; anything else -> the caller's code), and
# migrations that fail with 40P01/55P03 (retryable 5, no failed row) or
# 42501 (a real migration failure: 7 with its failed row).  Every refusal
# leaves the database unchanged.  (57014 after a signal -> 10 is t_signals.)
. "$(dirname "$0")/lib.sh"
export AUZDB_WAIT_TIMEOUT=3 AUZDB_LOCK_TIMEOUT=5 AUZDB_BACKUP=never
set1="$T_TMP/set1"
mkmig "$set1" 20240101000000_a 'CREATE TABLE a (id int);'
set2="$T_TMP/set2"; cp -r "$set1" "$set2"
mkmig "$set2" 20240102000000_b 'CREATE TABLE b (id int);'

role="t_exit_r$RANDOM$RANDOM"; pw="pw-$RANDOM$RANDOM"
q postgres "CREATE ROLE $role LOGIN PASSWORD '$pw'" >/dev/null || fail "create role"
trap 't_cleanup; psql -XAtq -d postgres -c "DROP ROLE IF EXISTS '"$role"'" >/dev/null 2>&1' EXIT
rurl() { echo "postgresql://$role:$pw@127.0.0.1:$PGPORT/$1"; }

db=$(newdb perm)
az migrate --database-url "$(url "$db")" --master-migrations "$set1"; expect_rc 0
q "$db" "GRANT USAGE ON SCHEMA public TO $role; GRANT CONNECT ON DATABASE $db TO $role" >/dev/null
before=$(snapshot "$db")

# -- 42501 on the ledger read: 4, not 8 (status, migrate, run)
az status --set master --database-url "$(rurl "$db")" --master-migrations "$set2"
expect_rc 4 "status, no SELECT on the ledger"; expect_err "permission denied.*42501"
az migrate --database-url "$(rurl "$db")" --master-migrations "$set2"
expect_rc 4 "migrate, no SELECT on the ledger"; expect_err "permission denied.*42501"
AUZDB_TENANT_DB_PREFIX="t_exit_none${RANDOM}_" az run --database-url "$(rurl "$db")" --master-migrations "$set2" --tenant-migrations "$set1"
expect_rc 4 "run, no SELECT on the ledger"
eq "$(snapshot "$db")" "$before" "database after the refusals"
pass "ledger permission denied (42501): status, migrate and run exit 4, nothing changed"

# -- errors injected into the ledger read through a row-security policy
q "$db" "GRANT SELECT, INSERT, UPDATE ON _prisma_migrations TO $role;
  CREATE TABLE t_inject (code text);
  GRANT SELECT ON t_inject TO $role;
  CREATE FUNCTION t_inject() RETURNS boolean LANGUAGE plpgsql AS \$f\$
  DECLARE c text := (SELECT code FROM t_inject LIMIT 1);
  BEGIN
    IF c = 'kill' THEN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); END IF;
    IF c IS NOT NULL THEN RAISE EXCEPTION 'injected %', c USING ERRCODE = c; END IF;
    RETURN true;
  END \$f\$;
  ALTER TABLE _prisma_migrations ENABLE ROW LEVEL SECURITY;
  CREATE POLICY t_inject ON _prisma_migrations TO $role USING (t_inject());" >/dev/null || fail "inject setup"
before=$(snapshot "$db")
az status --set master --database-url "$(rurl "$db")" --master-migrations "$set1"
expect_rc 0 "status through the policy, nothing injected"

# the backend dies between the ledger's two queries (to_regclass, then the rows)
q "$db" "INSERT INTO t_inject VALUES ('kill')" >/dev/null
az status --set master --database-url "$(rurl "$db")" --master-migrations "$set1"
expect_rc 3 "status, backend terminated during the ledger read"
az migrate --database-url "$(rurl "$db")" --master-migrations "$set2"
expect_rc 3 "migrate, backend terminated during the ledger read"
eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename = 'b'")" 0 "no table b"
pass "connection lost between the two ledger queries: status and migrate exit 3 (retryable)"

for pair in 08006:3 08001:3 57P01:3 53300:3 28000:4 42501:4 25006:4 55P03:5 40P01:5 22012:8 XX000:8; do
  code=${pair%:*}; want=${pair#*:}
  q "$db" "UPDATE t_inject SET code = '$code'" >/dev/null
  az status --set master --database-url "$(rurl "$db")" --master-migrations "$set1"
  expect_rc "$want" "status with SQLSTATE $code on the ledger read"
  expect_err "injected $code.*SQLSTATE $code"
done
q "$db" "DELETE FROM t_inject" >/dev/null
q "$db" "DROP POLICY t_inject ON _prisma_migrations; ALTER TABLE _prisma_migrations DISABLE ROW LEVEL SECURITY; DROP FUNCTION t_inject(); DROP TABLE t_inject" >/dev/null
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations")" 1 "ledger rows"
pass "SQLSTATE mapping from real server errors: 08xxx/57P01/53300 -> 3, 28000/42501/25006 -> 4, 55P03/40P01 -> 5, others -> 8"

# -- a read-only database (a replica, default_transaction_read_only): 4
db=$(newdb ro)
az migrate --database-url "$(url "$db")" --master-migrations "$set1"; expect_rc 0
q postgres "ALTER DATABASE $db SET default_transaction_read_only = on" >/dev/null
before=$(snapshot "$db")
az migrate --database-url "$(url "$db")" --master-migrations "$set2"
expect_rc 4 "migrate on a read-only database"; expect_err "read-only.*25006"
eq "$(snapshot "$db")" "$before" "read-only database"
pass "read-only database (25006): exit 4, nothing changed"

# -- migrations failing with a lock or deadlock SQLSTATE are retryable (5), no failed row
for code in 40P01 55P03; do
  db=$(newdb "m$code")
  s="$T_TMP/s$code"; cp -r "$set1" "$s"
  mkmig "$s" 20240102000000_b "CREATE TABLE b (id int); DO \$\$BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '$code'; END\$\$;"
  az migrate --database-url "$(url "$db")" --master-migrations "$s"
  expect_rc 5 "migration failing with $code"
  eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20240102000000_b'")" 0 "ledger rows of b ($code)"
  eq "$(q "$db" "SELECT count(*) FROM pg_tables WHERE tablename = 'b'")" 0 "table b ($code)"
done
grep -q "deadlock victim" "$T_TMP/.az_err" && fail "55P03 described as a deadlock"
pass "migration failing with 40P01 or 55P03: exit 5, rolled back, no ledger row (the next run retries)"

db=$(newdb m42501)
s="$T_TMP/s42501"; cp -r "$set1" "$s"
mkmig "$s" 20240102000000_b "DO \$\$BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '42501'; END\$\$;"
az migrate --database-url "$(url "$db")" --master-migrations "$s"
expect_rc 7 "migration failing with 42501"
eq "$(q "$db" "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20240102000000_b' AND finished_at IS NULL AND rolled_back_at IS NULL")" 1 "failed row"
pass "a migration's own permission error is a migration failure: exit 7 with its failed row"

done_testing
