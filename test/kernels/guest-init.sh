#!/bin/sh
# PID 1 of the test guest: mounts what the agent needs, runs the checks of
# test/kernels/guest.ts, prints their result on the serial console, powers off.
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /run /tmp && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up
echo "SIDELIGHT-KERNEL-BOOTED $(uname -r)"
cd /opt/sidelight
if grep -q sidelight.debug /proc/cmdline; then
  SIDELIGHT_LIBBPF_DEBUG=1 /usr/local/bin/node bin/sidelight.js run --output none --duration 1 --admin-port 0 2>&1 | grep -v '^$' | tail -80
fi
/usr/local/bin/node dist/test/kernels/guest.js 2>&1
echo "SIDELIGHT-KERNEL-DONE $?"
echo o > /proc/sysrq-trigger
sleep 10
