#!/usr/bin/env bash
# Installs what sidelight needs on a fresh Debian 12 machine (as root), then
# builds it: apt packages, npm ci, BPF objects, the addon, TypeScript.
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build tools and libraries, then the real peers the tests talk to.
BUILD_PKGS=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool make gcc g++ pkg-config)
PEER_PKGS=(curl nginx-light python3 python3-grpcio iproute2 prometheus nghttp2-client podman debootstrap openssl)

missing=()
for p in "${BUILD_PKGS[@]}" ${SIDELIGHT_SETUP_PEERS:+"${PEER_PKGS[@]}"}; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "sidelight setup: missing Debian packages: ${missing[*]}; run as root or: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "sidelight setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

bash scripts/build.sh
