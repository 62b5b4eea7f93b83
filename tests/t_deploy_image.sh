#!/usr/bin/env bash
# The container image, built without a daemon (scripts/build-image.sh, umoci)
# from the static binary: size <= 10 MB, reproducible, exactly the files and
# config docker/Dockerfile declares; then unpacked and run against the test
# PostgreSQL with nothing from outside the image:
#  - with runc (when the sandbox allows containers): read-only root, no
#    capabilities, no new privileges, uid 65532, the URL from a bind-mounted
#    secret file, a tmpfs for backups, a termination-log file, host network
#  - with `env -i chroot --userspec=65532:65532` into the unpacked rootfs
# Each `auzdb run` must migrate a fresh master and a tenant (8 ledger rows each).
# Skips (77) without the static binary (scripts/test.sh static) or the tools
# (scripts/install-deploy-tools.sh).
. "$(dirname "$0")/deploy/common.sh"
need umoci jq readelf tar sha256sum
bin=""
if [ "${AUZDB_STATIC_BUILD:-0}" = 1 ] && [ -n "${AUZDB_BIN:-}" ]; then
  bin=$AUZDB_BIN
elif [ -x "$DEPLOY_SRC/build-static/auzdb" ]; then
  bin="$DEPLOY_SRC/build-static/auzdb"
fi
if [ -z "$bin" ] || readelf -lW "$bin" 2>/dev/null | grep -q 'program interpreter'; then
  echo "SKIP [deploy_image]: no static auzdb binary (build it with: scripts/test.sh static)"
  exit 77
fi
. "$(dirname "$0")/lib.sh"
IMG_MAX=10000000   # bytes: the 10 MB goal

# ---- build
out="$T_TMP/auzdb.oci.tar"
"$DEPLOY_SRC/scripts/build-image.sh" --binary "$bin" --out "$out" > "$T_TMP/build.txt" 2>&1 \
  || { cat "$T_TMP/build.txt"; fail "scripts/build-image.sh failed"; }
val() { sed -n "s/^$1=//p" "$T_TMP/build.txt"; }
tag=$(val tag); image_bytes=$(val image_bytes); archive_bytes=$(val archive_bytes); rootfs_bytes=$(val rootfs_bytes)
[ -n "$tag" ] && [ -n "$image_bytes" ] || fail "build-image.sh printed no sizes"
echo "# image $tag: $image_bytes bytes compressed (manifest+config+layer), archive $archive_bytes bytes, unpacked $rootfs_bytes bytes"
[ "$image_bytes" -le "$IMG_MAX" ] || fail "image is $image_bytes bytes, over the $IMG_MAX byte goal"
[ "$archive_bytes" -le "$IMG_MAX" ] || fail "OCI archive is $archive_bytes bytes, over $IMG_MAX"
pass "OCI image from the static binary: $image_bytes bytes ($(awk "BEGIN {printf \"%.2f\", $image_bytes / 1e6}") MB) <= 10 MB"

"$DEPLOY_SRC/scripts/build-image.sh" --binary "$bin" --out "$T_TMP/again.tar" >/dev/null 2>&1 || fail "second build failed"
eq "$(sha256sum < "$T_TMP/again.tar")" "$(sha256sum < "$out")" "archive digest of a rebuild"
pass "the build is reproducible (same binary -> byte-identical archive)"

# ---- unpack the archive (it must stand alone) and inspect it
mkdir -p "$T_TMP/layout" && tar -xf "$out" -C "$T_TMP/layout" || fail "cannot untar the archive"
umoci unpack --image "$T_TMP/layout:$tag" "$T_TMP/bundle" >/dev/null 2>&1 || fail "umoci unpack failed"
rootfs="$T_TMP/bundle/rootfs"
files=$(cd "$rootfs" && find . -mindepth 1 -printf '%y %m %U:%G %p\n' | sort -k4)
expected="f 755 0:0 ./auzdb
d 755 0:0 ./etc
f 644 0:0 ./etc/group
f 644 0:0 ./etc/passwd
d 755 0:0 ./etc/ssl
d 755 0:0 ./etc/ssl/certs
f 644 0:0 ./etc/ssl/certs/ca-certificates.crt
d 755 0:0 ./var
d 755 0:0 ./var/lib
d 755 65532:65532 ./var/lib/auzdb
d 700 65532:65532 ./var/lib/auzdb/backups"
[ "$(id -u)" = 0 ] || expected=$(sed 's/ [0-9]*:[0-9]* / /' <<<"$expected") files=$(sed 's/ [0-9]*:[0-9]* / /' <<<"$files")
eq "$files" "$expected" "image contents"
readelf -lW "$rootfs/auzdb" | grep -q 'program interpreter' && fail "the image's binary is not static"
readelf -SW "$rootfs/auzdb" | grep -q '\.debug_info' && fail "the image's binary is not stripped"
grep -q '^auzdb:x:65532:65532:auzdb:/var/lib/auzdb:' "$rootfs/etc/passwd" || fail "passwd entry"
[ "$(grep -c 'BEGIN CERTIFICATE' "$rootfs/etc/ssl/certs/ca-certificates.crt")" -gt 50 ] || fail "CA bundle is nearly empty"
pass "the image holds only the static stripped binary, the CA bundle, passwd/group (65532) and the backup dir"

# the image config equals what docker/Dockerfile's final stage declares
cfg_digest=$(jq -r '.config.digest' "$T_TMP/layout/blobs/sha256/$(jq -r '.manifests[0].digest' "$T_TMP/layout/index.json" | cut -d: -f2)")
cfg="$T_TMP/layout/blobs/sha256/${cfg_digest#sha256:}"
df="$DEPLOY_SRC/docker/Dockerfile"
final=$(awk '/^FROM /{buf = ""} {buf = buf $0 "\n"} END {printf "%s", buf}' "$df")
grep -q '^FROM scratch' <<<"$final" || fail "the Dockerfile's last stage is not FROM scratch"
df_user=$(sed -n 's/^USER //p' <<<"$final")
df_entry=$(sed -n 's/^ENTRYPOINT //p' <<<"$final" | jq -c .)
df_cmd=$(sed -n 's/^CMD //p' <<<"$final" | jq -c .)
df_workdir=$(sed -n 's/^WORKDIR //p' <<<"$final")
df_volumes=$(sed -n 's/^VOLUME //p' <<<"$final" | jq -c 'sort')
df_env=$(sed -n 's/^ENV //p' <<<"$final" | sort | jq -R . | jq -sc .)
eq "$(jq -r .config.User "$cfg")" "$df_user" "User"
eq "$(jq -c .config.Entrypoint "$cfg")" "$df_entry" "Entrypoint"
eq "$(jq -c .config.Cmd "$cfg")" "$df_cmd" "Cmd"
eq "$(jq -r .config.WorkingDir "$cfg")" "$df_workdir" "WorkingDir"
eq "$(jq -c '.config.Volumes | keys | sort' "$cfg")" "$df_volumes" "Volumes"
eq "$(jq -c '.config.Env | sort' "$cfg")" "$df_env" "Env"
eq "$(jq -r .config.User "$cfg")" "65532:65532" "User"
pass "image config = docker/Dockerfile: USER $df_user, ENTRYPOINT $df_entry, CMD $df_cmd, WORKDIR, VOLUME, ENV"

# ---- run it against the test server
url_of() { printf '%s/%s\n' "$PGTEST_URL" "$1"; }
ledger() { q "$1" "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL"; }
prefix="tdi${RANDOM}_"

ran_runtime=""
runtime=""
for r in runc crun; do command -v "$r" >/dev/null 2>&1 && { runtime=$r; break; }; done
if [ -n "$runtime" ] && [ "$(id -u)" = 0 ]; then
  master=$(newdb master); tenant="${prefix}acme"; createdb "$tenant" || fail "createdb"; T_DBS+=("$tenant")
  mkdir -p "$T_TMP/secrets" && url_of "$master" > "$T_TMP/secrets/master-url" && chmod 0444 "$T_TMP/secrets/master-url"
  : > "$T_TMP/termination-log"; chmod 0666 "$T_TMP/termination-log"
  cfgjson="$T_TMP/bundle/config.json"
  # hardened like the Kubernetes pods; host network to reach 127.0.0.1
  # the backup volume: a host directory owned by 65532, like an emptyDir with fsGroup
  mkdir -m 0700 "$T_TMP/backups" && chown 65532:65532 "$T_TMP/backups"
  jq --arg sec "$T_TMP/secrets" --arg tl "$T_TMP/termination-log" --arg prefix "$prefix" --arg bk "$T_TMP/backups" '
      .process.terminal = false
    | .process.env = [.process.env[] | select(startswith("TERM=") | not)]
      + ["MASTER_DATABASE_URL_FILE=/var/run/secrets/auzdb/master-url", "AUZDB_TENANT_DB_PREFIX=\($prefix)"]
    | .process.capabilities = {bounding: [], effective: [], inheritable: [], permitted: [], ambient: []}
    | .process.noNewPrivileges = true
    | .root.readonly = true
    | .linux.namespaces |= map(select(.type != "network"))
    | .mounts |= map(select(.destination != "/var/lib/auzdb/backups"))
    | .mounts += [{destination: "/var/lib/auzdb/backups", type: "bind", source: $bk,
                   options: ["rbind", "rw", "nosuid", "nodev", "noexec"]},
                  {destination: "/var/run/secrets/auzdb", type: "bind", source: $sec,
                   options: ["rbind", "ro", "nosuid", "nodev", "noexec"]},
                  {destination: "/dev/termination-log", type: "bind", source: $tl,
                   options: ["bind", "rw", "nosuid", "nodev", "noexec"]}]' \
    "$cfgjson" > "$cfgjson.new" && mv "$cfgjson.new" "$cfgjson" || fail "cannot write the runtime config"
  crun_args=(); [ "$runtime" = crun ] && crun_args=(--cgroup-manager=disabled)
  rt() { # rt ARGS...: run the bundle with process.args = ARGS; sets RC, OUT, ERR
    jq --args '.process.args = $ARGS.positional' "$@" < "$cfgjson" > "$cfgjson.new" && mv "$cfgjson.new" "$cfgjson"
    local id="auzdb-test-$$-$RANDOM"
    timeout "${RT_TIMEOUT:-300}" "$runtime" "${crun_args[@]}" run --bundle "$T_TMP/bundle" "$id" \
      >"$T_TMP/.az_out" 2>"$T_TMP/.az_err" </dev/null
    RC=$?
    "$runtime" "${crun_args[@]}" delete -f "$id" >/dev/null 2>&1
  }
  RT_TIMEOUT=60 rt /auzdb version
  if [ "$RC" = 0 ] && grep -q '^auzdb ' "$T_TMP/.az_out"; then
    rt /auzdb run
    expect_rc 0 "$runtime run: auzdb run"
    expect_out '"exit_code":0'
    eq "$(ledger "$master")" 8 "master ledger rows ($runtime)"
    eq "$(ledger "$tenant")" 8 "tenant ledger rows ($runtime)"
    grep -q '^auzdb run: ok (exit 0): 2 databases, 0 failed, 16 migrations applied' "$T_TMP/termination-log" \
      || fail "termination log: $(cat "$T_TMP/termination-log")"
    pass "$runtime: the image's entrypoint migrates master + tenant (8 + 8 rows), read-only root, no capabilities, uid 65532, URL from a secret file"
    if grep -q AUZDB_BACKUP_DIR <<<"$(env -i "$rootfs/auzdb" help 2>&1)"; then
      nb=$(find "$T_TMP/backups" -name '*.sql.gz' | wc -l)
      [ "$nb" -ge 2 ] || fail "expected backups of master and tenant on the backup volume, found $nb"
      # without the volume the read-only root filesystem refuses the backup: exit 6, nothing migrated
      cp "$cfgjson" "$cfgjson.keep"
      jq '.mounts |= map(select(.destination != "/var/lib/auzdb/backups"))' "$cfgjson.keep" > "$cfgjson"
      master2=$(newdb novol); url_of "$master2" > "$T_TMP/secrets/master-url"
      rt /auzdb run
      expect_rc 6 "$runtime run without a backup volume"
      eq "$(q "$master2" "SELECT count(*) FROM pg_tables WHERE tablename = '_prisma_migrations'")" 0 "ledger without a backup"
      mv "$cfgjson.keep" "$cfgjson"; url_of "$master" > "$T_TMP/secrets/master-url"
      pass "$runtime: backups land on the backup volume ($nb files); without it the read-only root makes the backup fail (exit 6) and nothing is migrated"
    fi
    rt /auzdb status
    expect_rc 0 "$runtime status after run"
    jq '.process.env += ["AUZDB_CONCURRENCY=0"]' "$cfgjson" > "$cfgjson.new" && mv "$cfgjson.new" "$cfgjson"
    rt /auzdb run
    expect_rc 2 "$runtime: bad configuration"
    pass "$runtime: exit codes reach the runtime unchanged (status 0, configuration error 2)"
    ran_runtime=$runtime
  else
    echo "# $runtime cannot start containers here (exit $RC: $(head -c 300 "$T_TMP/.az_err")); the chroot run below still runs the image"
  fi
fi

# chroot into the unpacked image with an empty environment: nothing from the host
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
  chroot_bin=$(command -v chroot)   # env -i clears PATH
  master=$(newdb chroot); tenant="${prefix}globex"; createdb "$tenant" || fail "createdb"; T_DBS+=("$tenant")
  mkdir -p "$rootfs/run/secrets" && url_of "$master" > "$rootfs/run/secrets/master-url"
  chown 65532 "$rootfs/run/secrets/master-url"; chmod 0400 "$rootfs/run/secrets/master-url"
  env -i "$chroot_bin" --userspec=65532:65532 "$rootfs" /auzdb version >"$T_TMP/.az_out" 2>"$T_TMP/.az_err"; RC=$?
  expect_rc 0 "env -i chroot: version"
  expect_out '^auzdb .*libpq 15\.'
  # the environment is exactly the image's (Env) plus the two settings a pod would get
  mapfile -t img_env < <(jq -r '.config.Env[]' "$cfg")
  ( cd / && env -i "${img_env[@]}" MASTER_DATABASE_URL_FILE=/run/secrets/master-url AUZDB_TENANT_DB_PREFIX="$prefix" \
      "$chroot_bin" --userspec=65532:65532 "$rootfs" /auzdb run ) >"$T_TMP/.az_out" 2>"$T_TMP/.az_err" </dev/null
  RC=$?
  expect_rc 0 "env -i chroot: auzdb run"
  eq "$(ledger "$master")" 8 "master ledger rows (chroot)"
  eq "$(ledger "$tenant")" 8 "tenant ledger rows (chroot)"
  nb=$(find "$rootfs/var/lib/auzdb/backups" -name '*.sql.gz' 2>/dev/null | wc -l)
  echo "# backups written into the image's backup dir: $nb"
  pass "env -i chroot into the unpacked image as 65532: auzdb run migrates master + tenant (8 + 8 rows)"
else
  # not root: the binary from the unpacked rootfs with an empty environment
  master=$(newdb plain)
  env -i "$rootfs/auzdb" migrate --database-url "$(url_of "$master")" >"$T_TMP/.az_out" 2>"$T_TMP/.az_err"; RC=$?
  expect_rc 0 "env -i rootfs/auzdb migrate"
  eq "$(ledger "$master")" 8 "ledger rows"
  pass "env -i rootfs/auzdb migrates a fresh database (not root: no chroot or runtime)"
fi
[ -n "$ran_runtime" ] || echo "# no OCI runtime run (runc/crun missing, not root, or not allowed here)"
done_testing
