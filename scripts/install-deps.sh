#!/usr/bin/env bash
# Installs what building and testing auzdb needs on Debian 12 (bookworm).
# Idempotent: skips apt when everything is present.  Needs root (or sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config git file libpq-dev libssl-dev zlib1g-dev
      postgresql-15 postgresql-client-15 musl-tools clang-format valgrind openssl bc time
      clang-14 libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
