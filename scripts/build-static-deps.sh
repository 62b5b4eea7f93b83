#!/usr/bin/env bash
# Build static zlib, OpenSSL 3 and libpq 15 (+ libpgcommon, libpgport) with
# musl-gcc into one cached prefix, for the fully static auzdb binary
# (cmake -DAUZDB_STATIC=ON -DDEPS_PREFIX=<prefix> -DCMAKE_C_COMPILER=musl-gcc).
#
# Usage: scripts/build-static-deps.sh [PREFIX]
#   PREFIX defaults to /var/cache/auzdb/static-deps-<key>, where <key> is made
#   from the pinned versions below and RECIPE_REV.
#   The last line on stdout is the prefix, so callers can do
#     PREFIX=$(scripts/build-static-deps.sh | tail -n1)
#   Build output goes to <parent of PREFIX>/<basename of PREFIX>.build.log;
#   progress goes to stderr, and the tail of the log is shown on failure.
#
# Environment: JOBS (default: nproc), KEEP_BUILD_DIR=1 (keep the temp build
# dir after a failure, for debugging).
#
# Layout of the prefix: lib/{libpq,libpgcommon,libpgport,libssl,libcrypto,libz}.a
# (+ *_shlib.a), lib/pkgconfig/*.pc, include/ (libpq-fe.h, openssl/, zlib.h,
# pg_config*.h, postgres_ext.h, postgresql/{internal,server}/).
# Link order: -lpq -lpgcommon -lpgport -lssl -lcrypto -lz, with -static.
#
# How it works:
#  * Idempotent: a completed prefix holds a stamp file, written only after
#    everything is installed; with it the script prints the prefix and exits.
#  * Everything is built under a temp dir in the cache dir and installed with
#    DESTDIR into a staging tree; the stamp is written there and the finished
#    prefix is moved into place with one rename. A failed build leaves no stamp.
#  * A flock on <cache dir>/.static-deps.lock serialises concurrent runs.
#  * Sources: Debian source packages via `apt-get source --download-only`
#    (apt checks them against the signed Sources index), pinned versions first,
#    then whatever `apt-cache showsrc` lists, newest first. Only the upstream
#    *.orig.tar.* is used (no Debian patches, so no dpkg-dev). Downloads are
#    kept in <cache dir>/static-deps-src and re-checked against their .dsc.
#    Security-archive sources 404, hence the pins on bookworm (point) releases.
#  * As root, missing build tools are installed with apt-get and a deb-src
#    entry (/etc/apt/sources.list.d/auzdb-debian-src.sources) is added when
#    there is no deb-src for bookworm main yet.
set -euo pipefail

RECIPE_REV=r1
# Debian source versions, tried in this order. Point releases replace versions
# in bookworm main, so keep a list rather than a single pin.
ZLIB_CANDIDATES=("1:1.2.13.dfsg-1")
OPENSSL_CANDIDATES=("3.0.20-1~deb12u2" "3.0.17-1~deb12u2")
PQ_CANDIDATES=("15.18-0+deb12u1")

DEB_SRC_FILE=/etc/apt/sources.list.d/auzdb-debian-src.sources
APT_OPTS=(-q -o DPkg::Lock::Timeout=600)
NEEDED_PKGS=(musl-tools build-essential linux-libc-dev perl make
             ca-certificates tar gzip bzip2 xz-utils)

log() { printf '[build-static-deps %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
  sed -n '2,16s/^# \{0,1\}//p' "$0" >&2
}

# 1:1.2.13.dfsg-1 -> 1.2.13 ; 3.0.20-1~deb12u2 -> 3.0.20
upstream_of() {
  local v=${1#*:}
  v=${v%-*}
  v=${v%%[.+~]dfsg*}
  printf '%s' "$v"
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  -*) usage; die "unknown option: $1" ;;
esac
[[ $# -le 1 ]] || { usage; die "too many arguments"; }

KEY="zlib$(upstream_of "${ZLIB_CANDIDATES[0]}")-openssl$(upstream_of "${OPENSSL_CANDIDATES[0]}")-pq$(upstream_of "${PQ_CANDIDATES[0]}")-${RECIPE_REV}"
PREFIX=${1:-/var/cache/auzdb/static-deps-$KEY}
[[ $PREFIX == /* ]] || PREFIX="$PWD/$PREFIX"
while [[ $PREFIX == */ && $PREFIX != / ]]; do PREFIX=${PREFIX%/}; done
[[ $PREFIX != / ]] || die "refusing to use / as the prefix"
STAMP="$PREFIX/.auzdb-static-deps.stamp"

stamp_ok() { [[ -f $STAMP ]] && grep -qxF "key=$KEY" "$STAMP"; }

# ---- fast path: nothing to do -------------------------------------------------
if stamp_ok && command -v musl-gcc >/dev/null 2>&1; then
  printf '%s\n' "$PREFIX"
  exit 0
fi

# Never replace a directory that is not ours (e.g. PREFIX=/usr/local by mistake).
# A build of ours never leaves a partial prefix: it appears with one rename.
check_foreign_prefix() {
  if [[ -e $PREFIX && ! -f $STAMP ]] && [[ -n $(ls -A "$PREFIX" 2>/dev/null || echo x) ]]; then
    die "$PREFIX exists and is not an auzdb static-deps prefix; remove it or choose another PREFIX"
  fi
}
check_foreign_prefix

CACHE_DIR=$(dirname "$PREFIX")
NAME=$(basename "$PREFIX")
SRC_DIR="$CACHE_DIR/static-deps-src"
LOG="$CACHE_DIR/$NAME.build.log"
LOCK="$CACHE_DIR/.static-deps.lock"
JOBS=${JOBS:-$(nproc)}
IS_ROOT=0; [[ $(id -u) -eq 0 ]] && IS_ROOT=1

mkdir -p "$CACHE_DIR" "$SRC_DIR"
exec 9>"$LOCK"
if ! flock -n 9; then
  log "another build holds $LOCK; waiting"
  flock 9
fi

BUILD_DIR=""
exec 8>&2   # the caller's stderr: the EXIT trap may run inside `step`'s redirection
on_exit() {
  local rc=$?
  exec 2>&8
  if [[ $rc -ne 0 ]]; then
    if [[ -s $LOG ]]; then
      log "FAILED (exit $rc); last lines of $LOG:"
      tail -n 60 "$LOG" >&2 || true
    fi
    if [[ -n $BUILD_DIR && -d $BUILD_DIR && ${KEEP_BUILD_DIR:-0} == 1 ]]; then
      log "build dir kept: $BUILD_DIR"
      BUILD_DIR=""
    fi
  fi
  [[ -z $BUILD_DIR ]] || rm -rf "$BUILD_DIR"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- apt helpers --------------------------------------------------------------
# Run an apt command with its output in the log; retry while another apt/dpkg
# holds a lock (DPkg::Lock::Timeout covers the dpkg lock, not always the lists).
apt_run() {
  local out rc tries=0
  out=$(mktemp)
  while :; do
    rc=0
    DEBIAN_FRONTEND=noninteractive "$@" >"$out" 2>&1 || rc=$?
    cat "$out" >>"$LOG"
    if [[ $rc -ne 0 ]] && grep -qE 'Could not get lock|Unable to lock|is another process using it' "$out" \
       && [[ $tries -lt 60 ]]; then
      tries=$((tries + 1))
      log "apt is locked by another process; retrying in 10 s ($tries/60)"
      sleep 10
      continue
    fi
    rm -f "$out"
    return "$rc"
  done
}

APT_UPDATED=0
apt_update() {
  log "apt-get update"
  apt_run apt-get "${APT_OPTS[@]}" update || die "apt-get update failed"
  APT_UPDATED=1
}

ensure_tools() {
  local p st missing=()
  for p in "${NEEDED_PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $st == ii* ]] || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $IS_ROOT -eq 1 ]] || die "missing packages: ${missing[*]} (run as root, or apt-get install them)"
  log "installing: ${missing[*]}"
  if ! apt_run apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}"; then
    apt_update
    apt_run apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" \
      || die "apt-get install ${missing[*]} failed"
  fi
}

# Is there an enabled deb-src entry for bookworm main (one-line or deb822)?
have_debsrc_bookworm_main() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk '
      { sub(/#.*/, "") }
      $1 == "deb-src" {
        i = 2
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) != "bookworm") next
        for (j = i + 2; j <= NF; j++) if ($j == "main") found = 1
      }
      END { exit !found }' "$f" && return 0
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk '
      function has(list, word,   n, a, k) { n = split(list, a, /[ \t]+/); for (k = 1; k <= n; k++) if (a[k] == word) return 1; return 0 }
      function flush() { if (has(t, "deb-src") && has(s, "bookworm") && has(c, "main") && tolower(e) != "no") found = 1; t = s = c = e = "" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[^ \t]/ {
        k = tolower($0); sub(/:.*/, "", k); v = $0; sub(/^[^:]*:[ \t]*/, "", v)
        if (k == "types") t = v; else if (k == "suites") s = v
        else if (k == "components") c = v; else if (k == "enabled") e = v
      }
      END { flush(); exit !found }' "$f" && return 0
  done
  return 1
}

# deb-src stanzas with the URIs/Suites/Components (and Signed-By etc.) of the
# existing deb entries.
make_debsrc_stanzas() {
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    awk '
      function flush(  i) {
        if (n && isdeb) {
          if (out) print ""
          print "Types: deb-src"
          for (i = 1; i <= n; i++) print line[i]
          out = 1
        }
        n = 0; isdeb = 0; skip = 0
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { if (!skip && n) line[++n] = $0; next }
      {
        k = tolower($0); sub(/:.*/, "", k)
        if (k == "types") { isdeb = ($0 ~ /[: \t]deb([ \t]|$)/); skip = 1; next }
        if (k == "architectures") { skip = 1; next }
        skip = 0; line[++n] = $0
      }
      END { flush() }' /etc/apt/sources.list.d/debian.sources
  elif [[ -f /etc/apt/sources.list ]]; then
    awk '
      { sub(/#.*/, "") }
      $1 == "deb" {
        i = 2; signed = ""
        if ($2 ~ /^\[/) {
          for (; i <= NF; i++) {
            o = $i; gsub(/[\[\]]/, "", o)
            if (o ~ /^signed-by=/) { sub(/^signed-by=/, "", o); signed = o }
            if ($i ~ /\]$/) { i++; break }
          }
        }
        comps = ""
        for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
        if (out) print ""
        print "Types: deb-src"; print "URIs: " $i; print "Suites: " $(i + 1); print "Components: " comps
        if (signed != "") print "Signed-By: " signed
        out = 1
      }' /etc/apt/sources.list
  fi
}

APT_READY=0
ensure_apt_sources() {
  [[ $APT_READY -eq 1 ]] && return 0
  if ! have_debsrc_bookworm_main; then
    [[ $IS_ROOT -eq 1 ]] || die "no deb-src entry for bookworm main; run as root or add one"
    local stanzas
    stanzas=$(make_debsrc_stanzas)
    [[ -n $stanzas ]] || die "cannot derive a deb-src entry: no deb entries in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    log "adding $DEB_SRC_FILE"
    printf '# Added by auzdb scripts/build-static-deps.sh (apt-get source).\n%s\n' "$stanzas" >"$DEB_SRC_FILE"
    have_debsrc_bookworm_main || die "$DEB_SRC_FILE has no deb-src entry for bookworm main"
    apt_update
  fi
  # Sources indexes present? (No pipe into grep: see the pipefail/SIGPIPE note.)
  local out
  out=$(apt-cache showsrc zlib 2>/dev/null || true)
  if ! grep -q '^Package: zlib$' <<<"$out"; then
    [[ $APT_UPDATED -eq 1 ]] && die "apt-cache showsrc zlib finds nothing even after apt-get update"
    [[ $IS_ROOT -eq 1 ]] || die "no Sources index; run apt-get update as root"
    apt_update
  fi
  APT_READY=1
}

# ---- sources ----------------------------------------------------------------
# Print the verified orig tarball of PKG=VERSION from SRC_DIR, or fail.
cached_orig() {
  local pkg=$1 ver=$2 dsc sum name actual
  dsc="$SRC_DIR/${pkg}_${ver#*:}.dsc"
  [[ -f $dsc ]] || return 1
  read -r sum name < <(awk '
      /^Checksums-Sha256:/ { f = 1; next }
      /^[^ ]/ { f = 0 }
      f && $3 ~ /\.orig\.tar\.[a-z0-9]+$/ { print $1, $3; exit }' "$dsc") || return 1
  [[ -n ${name:-} && -f $SRC_DIR/$name ]] || return 1
  read -r actual _ < <(sha256sum "$SRC_DIR/$name") || return 1
  if [[ $actual != "$sum" ]]; then
    log "WARNING: checksum mismatch for $SRC_DIR/$name; discarding it"
    rm -f "$SRC_DIR/$name" "$dsc"
    return 1
  fi
  printf '%s\n' "$SRC_DIR/$name"
}

download_src() {
  local pkg=$1 ver=$2 tmp rc=0
  tmp=$(mktemp -d "$SRC_DIR/.dl.XXXXXX")
  if [[ $IS_ROOT -eq 1 ]] && id _apt >/dev/null 2>&1; then
    chown _apt "$tmp"   # let apt download as its sandbox user
  fi
  log "apt-get source --download-only $pkg=$ver"
  (cd "$tmp" && apt-get -q source --download-only "$pkg=$ver") >>"$LOG" 2>&1 || rc=$?
  if [[ $rc -eq 0 ]]; then
    [[ $IS_ROOT -eq 0 ]] || chown -R 0:0 "$tmp"
    find "$tmp" -maxdepth 1 -type f -exec mv -f -t "$SRC_DIR" {} +
  else
    log "  not available ($pkg=$ver)"
  fi
  rm -rf "$tmp"
  return "$rc"
}

# Versions of source package PKG known to apt, newest first.
showsrc_versions() {
  local pkg=$1 out v i j tmp
  local -a vers=()
  out=$(apt-cache showsrc "$pkg" 2>/dev/null || true)
  mapfile -t vers < <(awk -v p="$pkg" '/^Package: /{cur = $2} /^Version: / && cur == p {print $2}' <<<"$out" | sort -u)
  for ((i = 1; i < ${#vers[@]}; i++)); do
    v=${vers[i]}; j=$((i - 1))
    while [[ $j -ge 0 ]] && dpkg --compare-versions "${vers[j]}" lt "$v"; do
      vers[j + 1]=${vers[j]}; j=$((j - 1))
    done
    vers[j + 1]=$v
  done
  [[ ${#vers[@]} -eq 0 ]] || printf '%s\n' "${vers[@]}"
}

# resolve_src PKG CANDIDATE... -> sets RES_VERSION and RES_TARBALL
resolve_src() {
  local pkg=$1; shift
  local -a cands=("$@") extra
  local v t
  RES_VERSION=""; RES_TARBALL=""
  for v in "${cands[@]}"; do
    if t=$(cached_orig "$pkg" "$v"); then RES_VERSION=$v; RES_TARBALL=$t; break; fi
  done
  if [[ -z $RES_VERSION ]]; then
    for _ in 1 2; do
      ensure_apt_sources
      for v in "${cands[@]}"; do
        if download_src "$pkg" "$v" && t=$(cached_orig "$pkg" "$v"); then
          RES_VERSION=$v; RES_TARBALL=$t; break
        fi
      done
      if [[ -z $RES_VERSION ]]; then
        mapfile -t extra < <(showsrc_versions "$pkg")
        for v in "${extra[@]}"; do
          [[ " ${cands[*]} " == *" $v "* ]] && continue
          if t=$(cached_orig "$pkg" "$v") || { download_src "$pkg" "$v" && t=$(cached_orig "$pkg" "$v"); }; then
            RES_VERSION=$v; RES_TARBALL=$t; break
          fi
        done
      fi
      [[ -n $RES_VERSION || $APT_UPDATED -eq 1 || $IS_ROOT -eq 0 ]] && break
      apt_update   # the index may be stale (point release); retry once
    done
  fi
  [[ -n $RES_VERSION ]] || die "no downloadable source for $pkg (tried ${cands[*]} and apt-cache showsrc)"
  if [[ $RES_VERSION != "${cands[0]}" ]]; then
    log "WARNING: $pkg ${cands[0]} not available; using $RES_VERSION"
  fi
  log "$pkg $RES_VERSION: $(basename "$RES_TARBALL")"
}

# ---- build steps (run in subshells, output in the log) ------------------------
unpack() { # tarball dir
  mkdir -p "$2"
  tar -xf "$1" -C "$2" --strip-components=1
}

build_zlib() (
  unpack "$ZLIB_TARBALL" "$BUILD_DIR/zlib"
  cd "$BUILD_DIR/zlib"
  CC=musl-gcc CFLAGS="-O2 -fPIC" ./configure --static --prefix="$PREFIX"
  make -j"$JOBS" libz.a
  make install DESTDIR="$STAGE"
)

build_openssl() (
  unpack "$OPENSSL_TARBALL" "$BUILD_DIR/openssl"
  cd "$BUILD_DIR/openssl"
  # -idirafter $KDIR: musl has no linux/ or asm/ headers (crypto/mem_sec.c
  # needs <linux/mman.h>); never -idirafter /usr/include (glibc headers).
  CC=musl-gcc ./Configure linux-x86_64 no-shared no-module no-tests no-afalgeng \
    --prefix="$PREFIX" --libdir=lib --openssldir=/etc/ssl -fPIC -idirafter "$KDIR"
  make -j"$JOBS" build_libs
  make install_dev DESTDIR="$STAGE"    # libs, headers, .pc; no CLI, no docs
)

build_libpq() (
  unpack "$PQ_TARBALL" "$BUILD_DIR/postgresql"
  cd "$BUILD_DIR/postgresql"
  CC=musl-gcc CFLAGS="-O2 -fPIC" CPPFLAGS="-I$DEST/include" LDFLAGS="-L$DEST/lib" \
    ./configure --prefix="$PREFIX" --without-readline --without-icu --without-zlib \
                --without-gssapi --without-ldap --with-ssl=openssl
  make -j"$JOBS" -C src/port
  make -j"$JOBS" -C src/common
  # Not plain `make`: the shared libpq.so would link static libcrypto.a, which
  # calls atexit, and libpq's exit() check rejects that on musl.
  make -j"$JOBS" -C src/interfaces/libpq all-static-lib libpq.pc
  make -C src/include install DESTDIR="$STAGE"
  make -C src/port install DESTDIR="$STAGE"
  make -C src/common install DESTDIR="$STAGE"
  make -C src/interfaces/libpq installdirs install-lib-static install-lib-pc DESTDIR="$STAGE"
  install -m644 src/interfaces/libpq/libpq-fe.h src/interfaces/libpq/libpq-events.h "$DEST/include/"
)

# ---- main -------------------------------------------------------------------
if stamp_ok && command -v musl-gcc >/dev/null 2>&1; then   # a concurrent run built it
  printf '%s\n' "$PREFIX"
  exit 0
fi
: >"$LOG"
ensure_tools
if stamp_ok; then   # finished by a concurrent run, or only tools were missing
  printf '%s\n' "$PREFIX"
  exit 0
fi
check_foreign_prefix

T0=$SECONDS
log "building into $PREFIX (key $KEY, jobs $JOBS); log: $LOG"

resolve_src zlib "${ZLIB_CANDIDATES[@]}";          ZLIB_VERSION=$RES_VERSION;    ZLIB_TARBALL=$RES_TARBALL
resolve_src openssl "${OPENSSL_CANDIDATES[@]}";    OPENSSL_VERSION=$RES_VERSION; OPENSSL_TARBALL=$RES_TARBALL
resolve_src postgresql-15 "${PQ_CANDIDATES[@]}";   PQ_VERSION=$RES_VERSION;      PQ_TARBALL=$RES_TARBALL

unset CC CXX CFLAGS CXXFLAGS CPPFLAGS LDFLAGS LIBS MAKEFLAGS MFLAGS MAKELEVEL \
      PKG_CONFIG_PATH CONFIG_SITE
export LC_ALL=C

BUILD_DIR=$(mktemp -d "$CACHE_DIR/.build-$NAME.XXXXXX")
STAGE="$BUILD_DIR/stage"
DEST="$STAGE$PREFIX"          # the staged prefix
KDIR="$BUILD_DIR/kheaders"    # only linux/, asm/, asm-generic/ for musl
mkdir -p "$DEST" "$KDIR"
ln -sfn /usr/include/linux "$KDIR/linux"
ln -sfn /usr/include/asm-generic "$KDIR/asm-generic"
ln -sfn "/usr/include/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/asm" "$KDIR/asm"
[[ -f $KDIR/linux/mman.h && -d $KDIR/asm/ ]] || die "kernel UAPI headers missing (linux-libc-dev)"

step() { # name function
  local t=$SECONDS
  log "$1 ..."
  printf '\n===== %s (%s) =====\n' "$1" "$(date '+%F %T')" >>"$LOG"
  "$2" >>"$LOG" 2>&1
  log "$1 done in $((SECONDS - t)) s"
}
step "zlib $(upstream_of "$ZLIB_VERSION")" build_zlib
step "OpenSSL $(upstream_of "$OPENSSL_VERSION")" build_openssl
step "libpq $(upstream_of "$PQ_VERSION")" build_libpq

# The staging path must not leak into text files (libpq.pc gets -L$DEST/lib).
while IFS= read -r -d '' f; do
  sed -i "s|$STAGE||g" "$f"
done < <(grep -rlIZF -- "$STAGE" "$DEST" || true)

for a in libz libssl libcrypto libpq libpgcommon libpgport; do
  [[ -f $DEST/lib/$a.a ]] || die "missing $DEST/lib/$a.a after install"
done
for h in zlib.h openssl/ssl.h libpq-fe.h pg_config.h postgres_ext.h; do
  [[ -f $DEST/include/$h ]] || die "missing $DEST/include/$h after install"
done
if compgen -G "$DEST/lib/*.so*" >/dev/null; then die "shared libraries in the prefix"; fi

# Version string of `#define NAME "x"` / `# define NAME "x"` in a header.
hdr_ver() {
  awk -v m="$2" '$0 ~ ("^#[ \t]*define[ \t]+" m "[ \t]") && match($0, /"[^"]*"/) {
    print substr($0, RSTART + 1, RLENGTH - 2); exit }' "$1"
}
ZLIB_BUILT=$(hdr_ver "$DEST/include/zlib.h" ZLIB_VERSION)
OPENSSL_BUILT=$(hdr_ver "$DEST/include/openssl/opensslv.h" OPENSSL_FULL_VERSION_STR)
PQ_BUILT=$(hdr_ver "$DEST/include/pg_config.h" PG_VERSION)
[[ -n $ZLIB_BUILT && -n $OPENSSL_BUILT && -n $PQ_BUILT ]] \
  || die "cannot read the built versions from the headers"

cat >"$DEST/${STAMP##*/}" <<EOF
key=$KEY
recipe=$RECIPE_REV
zlib=$ZLIB_BUILT
zlib_debian_source=$ZLIB_VERSION
openssl=$OPENSSL_BUILT
openssl_debian_source=$OPENSSL_VERSION
libpq=$PQ_BUILT
postgresql_debian_source=$PQ_VERSION
cc=musl-gcc $(musl-gcc -dumpversion 2>/dev/null || true), musl $(dpkg-query -W -f='${Version}' musl-dev 2>/dev/null || true)
built=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
build_seconds=$((SECONDS - T0))
libs=-lpq -lpgcommon -lpgport -lssl -lcrypto -lz
EOF

# Publish: one rename of the staged prefix (same file system as the cache dir).
if [[ -e $PREFIX ]]; then
  mv -T "$PREFIX" "$BUILD_DIR/old-prefix"   # an empty dir or an outdated build
fi
mv -T "$DEST" "$PREFIX"
rm -rf "$BUILD_DIR"; BUILD_DIR=""

log "done in $((SECONDS - T0)) s: zlib $ZLIB_BUILT, OpenSSL $OPENSSL_BUILT, libpq $PQ_BUILT"
printf '%s\n' "$PREFIX"
