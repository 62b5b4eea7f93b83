#!/usr/bin/env bash
# Non-root on a read-only root filesystem: auzdb runs as uid/gid 65532 with
# no supplementary groups, in a mount namespace where every filesystem is
# read-only except the backup directory (a writable bind mount), from a
# working directory it cannot write, with umask 000.  It migrates master and
# a tenant with backups on; the backup files, the manifest and the report are
# 0600 and owned by the user; and strace shows that every write-side
# filesystem call it made (open for writing/creating, mkdir, rename, unlink,
# chmod, link, truncate) was inside the backup directory.
# Without permission for a mount namespace, the same runs with a root-owned
# 0555 tree around a writable backup directory instead (still checked by
# strace).  Skips (77) if setpriv or strace are missing.
. "$(dirname "$0")/lib.sh"
command -v setpriv > /dev/null && command -v strace > /dev/null || { echo "setpriv/strace not available: skipped"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "needs root to switch to uid 65532: skipped"; exit 77; }
export AUZDB_LOG_FORMAT=text AUZDB_TENANT_DB_PREFIX="tr${RANDOM}_"
P=$AUZDB_TENANT_DB_PREFIX
master=$(newdb master)
createdb "${P}one" || fail createdb; T_DBS+=("${P}one")

# LeakSanitizer cannot run under ptrace (strace): in a sanitizer build only ASan/UBSan check this run
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
chmod 0755 "$T_TMP"
RO="$T_TMP/ro"; BK="$RO/backups"
mkdir -p "$BK"; chown 65532:65532 "$BK"; chmod 0700 "$BK"; chmod 0555 "$RO"
# the binary must be reachable by the user (build trees are usually 0755)
setpriv --reuid=65532 --regid=65532 --clear-groups test -x "$AUZDB_BIN" || { echo "binary not executable by uid 65532: skipped"; exit 77; }

INNER='umask 000; cd "$RO"; exec setpriv --reuid=65532 --regid=65532 --clear-groups \
  strace -f -qq -e trace=open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,link,linkat,symlink,symlinkat,chmod,fchmodat,truncate \
  "$AUZDB_BIN" run --database-url "$URL" --backup-dir "$BK" --report "$BK/report.json"'
export RO BK AUZDB_BIN URL="$(url "$master")" AUZDB_TERMINATION_LOG="$BK/termination-log"
mode=""
if unshare -m true 2> /dev/null; then
  mode="read-only root filesystem (mount namespace)"
  unshare -m bash -c '
    mount --make-rprivate / || exit 90
    for m in $(awk "{print \$2}" /proc/self/mounts | sort -u); do
      case $m in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
      mount -o remount,bind,ro "$m" 2>/dev/null
    done
    touch /auzdb-ro-probe 2>/dev/null && exit 91
    mount --bind "$BK" "$BK" && mount -o remount,bind,rw "$BK" || exit 92
    '"$INNER" > "$T_TMP/.az_out" 2> "$T_TMP/trace" < /dev/null
  RC=$?
  [ $RC = 90 ] || [ $RC = 92 ] && fail "could not set up the read-only namespace ($RC)"
  [ $RC = 91 ] && fail "the root filesystem is still writable in the namespace"
else
  mode="root-owned 0555 tree (no mount namespace here)"
  bash -c "$INNER" > "$T_TMP/.az_out" 2> "$T_TMP/trace" < /dev/null
  RC=$?
fi
cp "$T_TMP/trace" "$T_TMP/.az_err"
echo "# mode: $mode"
expect_rc 0 "run as uid 65532 ($mode)"
for d in "$master" "${P}one"; do
  eq "$(q "$d" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL")" 8 "migrations in $d"
done
pass "as uid 65532 on a $mode, with only the backup directory writable, master and the tenant are migrated"

files=$(find "$BK" -type f | sort)
[ "$(echo "$files" | grep -c '\.sql\.gz$')" = 2 ] || fail "expected 2 backups, got: $files"
echo "$files" | grep -q 'manifest.json$' || fail "no manifest"
echo "$files" | grep -q 'report.json$' || fail "no report"
while IFS= read -r f; do
  eq "$(stat -c '%a %u' "$f")" "600 65532" "mode/owner of ${f#"$BK"/}"
done <<< "$files"
pass "backups, manifest, report and termination message are 0600 and owned by the user, even with umask 000"

# every write-side call in the trace, with its path
writes=$(grep -E '^(\[pid +[0-9]+\] )?(open|openat|openat2|creat|mkdir|mkdirat|rename|renameat|renameat2|unlink|unlinkat|link|linkat|symlink|symlinkat|chmod|fchmodat|truncate)\(' "$T_TMP/trace" |
  grep -vE '^(\[pid +[0-9]+\] )?open(at2?)?\(' ; grep -E '^(\[pid +[0-9]+\] )?open(at2?)?\(.*(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC)' "$T_TMP/trace")
[ -n "$writes" ] || fail "strace saw no writes at all (is the trace empty?)"
# (mkdir -p of the backup directory's existing ancestors fails with EEXIST: no write)
outside=$(echo "$writes" | grep -v "\"$BK/" | grep -v '"/dev/null"' | grep -vE '^(\[pid +[0-9]+\] )?mkdir\(.*= -1 EEXIST' || true)
[ -z "$outside" ] || fail "wrote outside the backup directory: $outside"
echo "# $(echo "$writes" | wc -l) write-side calls, all under the backup directory"
pass "strace: every file it created, wrote, renamed, removed or chmodded is inside the backup directory"
chmod 0755 "$RO" # let the cleanup remove it
done_testing
