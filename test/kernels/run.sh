#!/usr/bin/env bash
# npm run test:kernels: boots other kernels under qemu with software emulation
# (TCG; KVM is not usable here) and runs the agent's end-to-end checks inside
# each (test/kernels/guest.ts), reading the result off the serial console:
# Debian 12's cloud kernel (6.1) and Debian 11's (5.10, the oldest supported).
# Root filesystem and kernels come from Debian packages, built once into
# $SIDELIGHT_KERNELS_CACHE (default /var/cache/sidelight/kernels).
# Usage: test/kernels/run.sh [6.1] [5.10]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${SIDELIGHT_KERNELS_CACHE:-/var/cache/sidelight/kernels}
mirror=${SIDELIGHT_DEBIAN_MIRROR:-http://deb.debian.org/debian}

missing=()
for p in qemu-system-x86 debootstrap e2fsprogs; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -f dist/test/kernels/guest.js ] && [ -f native/build/Release/sidelight.node ] || { echo "test:kernels: not built; run: npm run build" >&2; exit 1; }

mkdir -p "$cache"
base="$cache/bookworm-cloud.tar"
if [ ! -f "$base" ]; then
  echo "test:kernels: building the guest root filesystem and kernel into $cache (once)" >&2
  tmp=$(mktemp -d /var/tmp/sidelight-rootfs.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  debootstrap --variant=minbase \
    --include=linux-image-cloud-amd64,initramfs-tools,kmod,iproute2,libbpf1,libelf1,zlib1g,libstdc++6,ca-certificates \
    bookworm "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1 || { tail -20 "$tmp/debootstrap.log" >&2; exit 1; }
  # The initrd must carry virtio (the disk) and ext4.
  printf 'virtio_pci\nvirtio_blk\next4\n' >>"$tmp/root/etc/initramfs-tools/modules"
  mount -t proc proc "$tmp/root/proc"
  chroot "$tmp/root" update-initramfs -u -k all >/dev/null 2>&1 || { umount "$tmp/root/proc"; echo "test:kernels: update-initramfs failed" >&2; exit 1; }
  umount "$tmp/root/proc"
  rm -rf "$tmp/root/var/cache/apt/archives"/*.deb
  tar -C "$tmp/root" -cf "$base.partial" . && mv "$base.partial" "$base"
  rm -rf "$tmp"
  trap - EXIT
fi

# Debian 11's kernel, installed over the same root filesystem (its initrd
# built by bookworm's initramfs-tools); only its files are cached.
k510="$cache/bullseye-5.10-kernel.tar"
if [[ " $* " == *" 5.10 "* || $# -eq 0 ]] && [ ! -f "$k510" ]; then
  echo "test:kernels: adding Debian 11's 5.10 kernel to $cache (once)" >&2
  tmp=$(mktemp -d /var/tmp/sidelight-rootfs.XXXXXX)
  trap 'umount "$tmp/root/proc" 2>/dev/null; rm -rf "$tmp"' EXIT
  mkdir "$tmp/root"
  tar -C "$tmp/root" -xf "$base"
  echo "deb $mirror bullseye main" >"$tmp/root/etc/apt/sources.list.d/bullseye.list"
  cp /etc/resolv.conf "$tmp/root/etc/resolv.conf" 2>/dev/null || true
  mount -t proc proc "$tmp/root/proc"
  in_root() { chroot "$tmp/root" env DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
  in_root apt-get update -qq >"$tmp/apt.log" 2>&1 || { tail -20 "$tmp/apt.log" >&2; exit 1; }
  ver=$(in_root apt-cache madison linux-image-cloud-amd64 | awk -F' *[|] *' '$2 ~ /^5\.10\./ {print $2; exit}')
  pkg=$(in_root apt-cache depends "linux-image-cloud-amd64=$ver" | awk '/Depends: linux-image-5\.10/ {print $2; exit}')
  [ -n "$pkg" ] || { echo "test:kernels: no 5.10 cloud kernel in bullseye at $mirror" >&2; exit 1; }
  in_root apt-get install -y -qq --no-install-recommends "$pkg" >>"$tmp/apt.log" 2>&1 || { tail -20 "$tmp/apt.log" >&2; exit 1; }
  release=${pkg#linux-image-}
  [ -f "$tmp/root/boot/initrd.img-$release" ] || in_root update-initramfs -c -k "$release" >>"$tmp/apt.log" 2>&1
  umount "$tmp/root/proc"
  modules=$(cd "$tmp/root" && readlink -f "lib/modules/$release" | sed "s|^$tmp/root/||")
  tar -C "$tmp/root" -cf "$k510.partial" "boot/vmlinuz-$release" "boot/initrd.img-$release" "boot/config-$release" "$modules" && mv "$k510.partial" "$k510"
  rm -rf "$tmp"
  trap - EXIT
fi

work=$(mktemp -d /var/tmp/sidelight-kernel.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"
tar -C "$work/root" -xf "$base"
[ -f "$k510" ] && tar -C "$work/root" -xf "$k510"
# The agent as built here, with the node that runs this script.
app="$work/root/opt/sidelight"
mkdir -p "$app/native/build/Release" "$app/test"
cp -a package.json bin dist node_modules "$app/"
cp -a native/build/Release/sidelight.node "$app/native/build/Release/"
cp -a test/fixtures "$app/test/"
cp "$(readlink -f "$(command -v node)")" "$work/root/usr/local/bin/node"
cp test/kernels/guest-init.sh "$work/root/sidelight-guest-init.sh"
cp "$work/root"/boot/vmlinuz-* "$work/root"/boot/initrd.img-* "$work/"
mkfs.ext4 -q -F -L root -d "$work/root" "$work/disk.img" 4G
rm -rf "$work/root"

# Boots the kernel whose release starts with $1 and checks its result.
boot() {
  local kernel initrd result
  kernel=$(ls "$work"/vmlinuz-"$1".* | head -1)
  initrd="$work/initrd.img-${kernel##*/vmlinuz-}"
  [ -f "$kernel" ] && [ -f "$initrd" ] || { echo "test:kernels: no $1 kernel in the root filesystem" >&2; return 1; }
  cp --sparse=always "$work/disk.img" "$work/boot.img"
  echo "test:kernels: booting $(basename "$kernel") under qemu (TCG)" >&2
  timeout "${SIDELIGHT_KERNELS_TIMEOUT:-900}" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 3072 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$initrd" \
    -drive "file=$work/boot.img,if=virtio,format=raw" \
    -append "root=/dev/vda rw console=ttyS0 init=/sidelight-guest-init.sh panic=-1 quiet ${SIDELIGHT_KERNELS_DEBUG:+sidelight.debug}" \
    >"$work/serial.log" 2>&1 || true
  rm -f "$work/boot.img"
  cp "$work/serial.log" "${SIDELIGHT_KERNELS_LOG:-/tmp/sidelight-kernel-serial}-$1.log"
  result=$(grep -a -o 'SIDELIGHT-KERNEL-RESULT .*' "$work/serial.log" | head -1 | cut -d' ' -f2- | tr -d '\r')
  if [ -z "$result" ]; then
    echo "test:kernels: no result from the $1 guest; serial console:" >&2
    tail -40 "$work/serial.log" >&2
    return 1
  fi
  echo "$result"
  RESULT="$result" node -e '
const r = JSON.parse(process.env.RESULT);
const s = r.startup || { attached: [], skipped: [], failed: [] };
console.error(`test:kernels: kernel ${r.kernel}: ${r.ok ? "passed" : "FAILED"}`);
console.error(`  attached (${s.attached.length}): ${s.attached.join(", ")}`);
for (const p of s.skipped) console.error(`  left out: ${p.name} (${p.hook}): ${p.reason}`);
for (const p of s.failed) console.error(`  FAILED: ${p.name} (${p.hook}): ${p.reason}`);
for (const [k, v] of Object.entries(r.checks)) console.error(`  ${k}: ${v}`);
process.exit(r.ok ? 0 : 1);
'
}

kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(6.1 5.10)
failed=()
for k in "${kernels[@]}"; do boot "$k" || failed+=("$k"); done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test:kernels: FAILED on ${failed[*]}" >&2
  exit 1
fi
echo "test:kernels: passed on ${kernels[*]}" >&2
