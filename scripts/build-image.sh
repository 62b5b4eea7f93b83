#!/usr/bin/env bash
# Builds the auzdb container image without a Docker daemon, with umoci, from
# an already built static binary, into an OCI image archive (a tar of an OCI
# image layout: `skopeo copy oci-archive:FILE docker://...`, `podman load`).
# The image is the one docker/Dockerfile's final stage describes: FROM scratch,
# the binary at /auzdb, a CA bundle, /etc/passwd and /etc/group with the
# non-root user 65532, and an empty /var/lib/auzdb/backups volume.
#
#   scripts/build-image.sh [--binary PATH] [--out FILE] [--tag TAG] [--layout DIR]
#
#   --binary  static auzdb binary (default: build-static/auzdb, made by
#             `scripts/test.sh static`); it is stripped on the way in
#   --out     the OCI archive to write (default: out/auzdb-image.oci.tar)
#   --tag     image tag (default: the version `auzdb version` prints)
#   --layout  also keep the unpacked OCI image layout in DIR
#
# Needs umoci, jq, strip and readelf (scripts/install-deploy-tools.sh installs
# them). The last lines on stdout report the image's size:
#   image_bytes=N        manifest + config + compressed layer (what a registry
#                        stores and a node pulls)
#   archive_bytes=N      the OCI archive file
#   rootfs_bytes=N       the unpacked root filesystem (apparent file sizes)
# Reproducible: file times, the config's creation time and the history use
# SOURCE_DATE_EPOCH (default: 0), and the archive is written in name order.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=build-static/auzdb
out=out/auzdb-image.oci.tar
tag=""
keep_layout=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --tag) tag=${2:?}; shift 2 ;;
    --layout) keep_layout=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,25s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "build-image: $*" >&2; exit 1; }
for t in umoci jq strip readelf tar; do
  command -v "$t" >/dev/null || die "$t is missing (run scripts/install-deploy-tools.sh)"
done
[ -x "$binary" ] || die "$binary does not exist (build it with: scripts/test.sh static)"
if readelf -lW "$binary" | grep -q 'program interpreter'; then
  die "$binary is dynamically linked; the image needs the static build (scripts/test.sh static)"
fi
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || die "$ca is missing (apt-get install ca-certificates)"

epoch=${SOURCE_DATE_EPOCH:-0}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
version=$(env -i "$binary" version | awk '{print $2}')
[ -n "$version" ] || die "$binary version printed nothing"
[ -n "$tag" ] || tag=$(printf '%s' "$version" | tr -c 'A-Za-z0-9_.-' '_')

work=$(mktemp -d "${TMPDIR:-/tmp}/auzdb-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
layout="$work/oci"
bundle="$work/bundle"
rootless=(); [ "$(id -u)" = 0 ] || rootless=(--rootless)

umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack "${rootless[@]}" --image "$layout:$tag" "$bundle" >/dev/null
rootfs="$bundle/rootfs"

# The root filesystem: exactly what docker/Dockerfile's final stage holds.
install -d -m755 "$rootfs/etc" "$rootfs/etc/ssl" "$rootfs/etc/ssl/certs" "$rootfs/var" \
  "$rootfs/var/lib" "$rootfs/var/lib/auzdb"
install -d -m700 "$rootfs/var/lib/auzdb/backups"
install -m755 "$binary" "$rootfs/auzdb"
strip "$rootfs/auzdb"
install -m644 "$ca" "$rootfs/etc/ssl/certs/ca-certificates.crt"
install -m644 docker/rootfs/etc/passwd docker/rootfs/etc/group "$rootfs/etc/"
if [ "$(id -u)" = 0 ]; then
  chown -R 0:0 "$rootfs"
  chown -R 65532:65532 "$rootfs/var/lib/auzdb"
fi
find "$rootfs" -exec touch -h -d "@$epoch" {} +

umoci repack --image "$layout:$tag" --history.created "$created" \
  --history.created_by "scripts/build-image.sh" "$bundle" >/dev/null
# After the repack: umoci leaves configured volumes out of new layers.
umoci config --image "$layout:$tag" --created "$created" --no-history \
  --author "auzdb scripts/build-image.sh" \
  --config.user 65532:65532 \
  --config.entrypoint /auzdb \
  --config.cmd run \
  --config.env PGSSLROOTCERT=/etc/ssl/certs/ca-certificates.crt \
  --config.env AUZDB_BACKUP_DIR=/var/lib/auzdb/backups \
  --config.workingdir /var/lib/auzdb \
  --config.volume /var/lib/auzdb/backups \
  --config.label org.opencontainers.image.title=auzdb \
  --config.label "org.opencontainers.image.description=Backs up and migrates the AuzGuard PostgreSQL fleet (Prisma-compatible migrations)" \
  --config.label "org.opencontainers.image.version=$version"
umoci gc --layout "$layout"

mkdir -p "$(dirname "$out")"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
  -C "$layout" -cf "$out.tmp" .
mv -f "$out.tmp" "$out"
if [ -n "$keep_layout" ]; then
  rm -rf "$keep_layout"; mkdir -p "$keep_layout"
  cp -a "$layout/." "$keep_layout/"
fi

# Size: the blobs the manifest names (config + layers) plus the manifest.
mdesc=$(jq -r --arg t "$tag" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$layout/index.json")
mfile="$layout/blobs/${mdesc%%:*}/${mdesc#*:}"
image_bytes=$(( $(stat -c %s "$mfile") + $(jq '[.config.size] + [.layers[].size] | add' "$mfile") ))
archive_bytes=$(stat -c %s "$out")
rootfs_bytes=$(find "$rootfs" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
binary_bytes=$(stat -c %s "$rootfs/auzdb")

echo "build-image: $out ($tag, auzdb $version)"
echo "tag=$tag"
echo "binary_bytes=$binary_bytes"
echo "rootfs_bytes=$rootfs_bytes"
echo "archive_bytes=$archive_bytes"
echo "image_bytes=$image_bytes"
