#!/usr/bin/env bash
# Command line and configuration: help, version, and every bad-input case
# gives one error line, exit 2 (or the documented code), and changes nothing.
. "$(dirname "$0")/lib.sh"

az --version; expect_rc 0; expect_out '^auzdb .*libpq 15\.[0-9]+.*OpenSSL 3\..*zlib 1\.' "--version"
pass "--version names auzdb, libpq, OpenSSL and zlib versions"
az help; expect_rc 0; expect_out 'usage: auzdb <command>'
az --help; expect_rc 0; expect_out 'resolve --applied NAME'
pass "help and --help print usage, exit 0"

az frobnicate; expect_rc 2; expect_one_line_error "unknown command 'frobnicate'"
pass "unknown command: one line, exit 2"
az migrate --no-such-flag; expect_rc 2; expect_one_line_error "unknown option '--no-such-flag'"
pass "unknown flag: one line, exit 2"
az migrate --lock-timeout; expect_rc 2; expect_one_line_error "'--lock-timeout' needs a value"
az migrate --lock-timeout=abc; expect_rc 2; expect_one_line_error "--lock-timeout abc"
AUZDB_WAIT_TIMEOUT=-1 az status; expect_rc 2; expect_one_line_error "AUZDB_WAIT_TIMEOUT=-1"
pass "bad numbers are rejected with the culprit named"
az migrate --log-format xml; expect_rc 2; expect_one_line_error "log format"
az migrate --set other; expect_rc 2; expect_one_line_error "--set other"
az resolve; expect_rc 2; expect_one_line_error "--applied NAME or --rolled-back NAME"
az resolve --applied a --rolled-back b; expect_rc 2; expect_one_line_error "not both"
az status --applied x; expect_rc 2; expect_one_line_error "belong to 'auzdb resolve'"
pass "flag misuse gives usage errors"

db=$(newdb)
before=$(snapshot "$db")
echo "$(url "$db")" > "$T_TMP/url"
DATABASE_URL="$(url "$db")" DATABASE_URL_FILE="$T_TMP/url" az migrate
expect_rc 2; expect_one_line_error "both DATABASE_URL and DATABASE_URL_FILE"
MASTER_DATABASE_URL="$(url "$db")" MASTER_DATABASE_URL_FILE="$T_TMP/url" az migrate
expect_rc 2; expect_one_line_error "both MASTER_DATABASE_URL and MASTER_DATABASE_URL_FILE"
pass "X and X_FILE together: exit 2"
DATABASE_URL_FILE="$T_TMP/nope" az migrate; expect_rc 2; expect_one_line_error "DATABASE_URL_FILE=.*nope"
pass "unreadable _FILE: exit 2, names the file"
DATABASE_URL='postgresql://postgres:s3cr3t-pw@127.0.0.1:5432/x?bogus=1' az migrate
expect_rc 2; expect_one_line_error "malformed database URL in DATABASE_URL.*bogus"
grep -q 's3cr3t-pw' "$T_TMP/.az_err" "$T_TMP/.az_out" && fail "password printed"
DATABASE_URL='postgresql://postgres:s3cr3t-pw@127.0.0.1:notaport/x' az migrate
expect_rc 2; expect_one_line_error "invalid connection settings in DATABASE_URL.*port"
grep -q 's3cr3t-pw' "$T_TMP/.az_err" "$T_TMP/.az_out" && fail "password printed"
MASTER_DATABASE_URL='postgresql://postgres:s3cr3t-pw@127.0.0.1/x?sslmode=maybe' az migrate
expect_rc 2; expect_one_line_error "MASTER_DATABASE_URL.*sslmode"
pass "malformed URL: exit 2, password not printed"
eq "$(snapshot "$db")" "$before" "database after bad input"
pass "bad input left the database unchanged"

# _FILE with a trailing newline works, and the URL wins over libpq defaults
DATABASE_URL_FILE="$T_TMP/url" az status; expect_rc 11; expect_out "$db"
pass "DATABASE_URL_FILE is read (trailing newline stripped)"
MASTER_DATABASE_URL="$(url "$db")" DATABASE_URL='postgresql://x@nowhere.invalid/y' az status --log-format json
expect_rc 11; expect_out "\"name\":\"$db\""
pass "MASTER_DATABASE_URL wins over DATABASE_URL"
az status --database-url "$(url "$db")" ; expect_rc 11
DATABASE_URL='postgresql://x@nowhere.invalid/y' az status --database-url "$(url "$db")"; expect_rc 11
pass "--database-url overrides the environment"
# Prisma's ?schema= parameter is understood, not passed to libpq
az status --database-url "$(url "$db")?schema=public&connection_limit=5"; expect_rc 11
pass "Prisma URL parameters (schema, connection_limit) accepted"
done_testing
