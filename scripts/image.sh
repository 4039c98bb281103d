#!/usr/bin/env bash
# Builds the container image (Containerfile) here, with no container
# registry: the Debian base the Containerfile names is made with debootstrap
# from deb.debian.org and imported under that name, then podman builds
# against it with --pull=never. Idempotent; a rerun with an unchanged context
# is served from podman's layer cache. Run as root.
set -eEuo pipefail
cd "$(dirname "$0")/.."

IMAGE=${SIDELIGHT_IMAGE:-localhost/sidelight:dev}
BASE=docker.io/library/debian:bookworm-slim
MIRROR=http://deb.debian.org/debian
CACHE=${SIDELIGHT_IMAGE_CACHE:-/var/cache/sidelight}
BASE_TAR=$CACHE/debian-bookworm.tar

step=starting
rootfs=
trap 'echo "sidelight image: failed while $step (exit $?); see the output above" >&2' ERR
trap '[ -z "$rootfs" ] || rm -rf "$rootfs" "$rootfs.log" "$BASE_TAR.tmp"' EXIT

if [ "$(id -u)" -ne 0 ]; then
  echo "sidelight image: needs root (podman storage, debootstrap); run: sudo bash scripts/image.sh" >&2
  exit 1
fi

step="installing podman and debootstrap"
missing=()
for p in podman debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "sidelight image: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A Debian 12 root close to the official slim image: minbase, no package
# caches, no docs/man pages/translations, apt pointed at the same suites as
# the host (release, updates, security).
make_base_tar() {
  local dir
  mkdir -p "$CACHE"
  dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  chmod 755 "$dir"
  rootfs=$dir
  debootstrap --variant=minbase bookworm "$dir" "$MIRROR" >"$dir.log" 2>&1 || {
    tail -n 20 "$dir.log" >&2
    return 1
  }
  rm -f "$dir.log"
  cat >"$dir/etc/dpkg/dpkg.cfg.d/sidelight-slim" <<'EOF'
# Containers need no documentation or translations; copyright files stay.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$dir"/usr/share/{man,info,locale,lintian}/*
  rm -rf "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  rm -f "$dir/etc/apt/sources.list" "$dir/etc/hostname" "$dir/etc/resolv.conf"
  cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # The runtime fills /dev, /proc and /sys; keep only the empty directories.
  tar --numeric-owner --xattrs -C "$dir" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$BASE_TAR.tmp" .
  mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$dir"
  rootfs=
}

if ! podman image exists "$BASE"; then
  if [ ! -s "$BASE_TAR" ]; then
    step="making the Debian bookworm base with debootstrap"
    echo "sidelight image: debootstrap bookworm (minbase) into $BASE_TAR" >&2
    make_base_tar
  fi
  step="importing $BASE_TAR as $BASE"
  # The same PATH and command the official image declares.
  podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    "$BASE_TAR" "$BASE" >/dev/null
fi

# Behind a TLS-inspecting proxy the host trusts extra CAs (Debian keeps them
# in /usr/local/share/ca-certificates, merged into the host's bundle). Lend the
# host's bundle to the build stages that download, through the Containerfile's
# CA_BUNDLE. It is mounted on /mnt, empty in every Debian image, because a
# volume on a missing path leaves an empty mount point in the image.
extra=()
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null && [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  extra+=(-v /etc/ssl/certs:/mnt:ro --build-arg CA_BUNDLE=/mnt/ca-certificates.crt)
fi

step="building $IMAGE"
# chroot isolation: RUN steps need no OCI runtime (crun, podman's runtime on
# Debian 12, refuses a host with a hybrid cgroup v1/v2 layout such as this
# test machine's), and the host network needs no CNI setup. --pull=never: only
# the local base is used, never a registry.
podman build --isolation chroot --network host --pull=never --layers "${extra[@]}" \
  -t "$IMAGE" -f Containerfile .
