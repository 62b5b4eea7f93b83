#!/usr/bin/env bash
# Installs what the deployment tests (tests/t_deploy_*.sh) need; idempotent,
# and quick when everything is there. Needs root (or sudo) for apt.
#   Debian: yamllint, umoci (daemonless OCI image build), runc (OCI runtime),
#           skopeo (reads the OCI archive), jq, binutils, ca-certificates,
#           nodejs + npm when node is missing, and Go + Sprig to build
#           tests/deploy/helmlite (renders the Helm chart like `helm template`;
#           Helm itself is not packaged) into /var/cache/auzdb/helmlite-<hash>
#   npm:    the exact versions in tests/deploy/package-lock.json, installed
#           with `npm ci` into /var/cache/auzdb/node-tools-<hash of the lock>
#           (outside the repository; the tests look there)
# The last line on stdout is that node_modules directory.
# Environment: AUZDB_TOOLS_CACHE (default /var/cache/auzdb).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(yamllint umoci runc skopeo jq binutils ca-certificates tar
      golang-go golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "install-deploy-tools: installing ${missing[*]}" >&2
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm tools, keyed by the lock file: a changed lock gets a new directory.
lock=tests/deploy/package-lock.json
key=$(cat tests/deploy/package.json "$lock" | sha256sum | cut -c1-12)
cache=${AUZDB_TOOLS_CACHE:-/var/cache/auzdb}
dir="$cache/node-tools-$key"
if [ ! -f "$dir/.complete" ]; then
  echo "install-deploy-tools: npm ci into $dir" >&2
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.node-tools.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  cp tests/deploy/package.json "$lock" "$tmp/"
  (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  date -u +%FT%TZ > "$tmp/.complete"
  rm -rf "$dir"
  mv -T "$tmp" "$dir"
  trap - EXIT
fi

# helmlite, keyed by its source
hkey=$(cat tests/deploy/helmlite/main.go tests/deploy/helmlite/go.mod | sha256sum | cut -c1-12)
hdir="$cache/helmlite-$hkey"
if [ ! -x "$hdir/helmlite" ]; then
  echo "install-deploy-tools: building $hdir/helmlite" >&2
  gtmp=$(mktemp -d "${TMPDIR:-/tmp}/helmlite.XXXXXX")
  # GOPATH mode with Debian's Go sources; the package must sit inside a GOPATH
  # (with its go.mod) for the /v3 import of Sprig to resolve
  mkdir -p "$gtmp/gopath/src"
  cp -r tests/deploy/helmlite "$gtmp/gopath/src/helmlite"
  (cd "$gtmp/gopath/src/helmlite" && GO111MODULE=off GOPATH="$gtmp/gopath:/usr/share/gocode" \
     GOCACHE="$gtmp/cache" GOFLAGS='' go build -o "$gtmp/helmlite" .)
  mkdir -p "$hdir"
  mv -f "$gtmp/helmlite" "$hdir/helmlite"
  rm -rf "$gtmp"
fi
echo "$dir/node_modules"
