import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveCaps, memlockHard, preflight, type Host } from '../../src/capture/preflight';

const ROOT_CAPS = 0x000001ffffffffffn;

function host(over: Partial<Host>): Host {
  return { platform: 'linux', arch: 'x64', release: '6.18.0', capEff: ROOT_CAPS, memlockHard: 8388608, btf: true, tracefsEvents: true, mountTracefs: () => false, ...over };
}

describe('preflight', () => {
  it('passes on a capable host', () => {
    assert.deepEqual(preflight(host({})), []);
  });
  it('names each problem and its fix in one line', () => {
    assert.throws(() => preflight(host({ release: '5.4.0-100-generic' })), { message: 'kernel 5.4.0-100-generic is older than 5.10, which sidelight needs on x64; run it on a newer kernel' });
    assert.throws(() => preflight(host({ capEff: 0n })), { message: /^missing privileges to load eBPF programs: run as root, or grant CAP_BPF and CAP_PERFMON/ });
    assert.throws(() => preflight(host({ btf: false })), { message: 'no kernel BTF at /sys/kernel/btf/vmlinux: use a kernel built with CONFIG_DEBUG_INFO_BTF=y' });
    assert.throws(() => preflight(host({ tracefsEvents: false })), { message: /^tracefs is not mounted and could not be mounted: run mount -t tracefs tracefs \/sys\/kernel\/tracing/ });
    assert.throws(() => preflight(host({ platform: 'darwin' })), { message: 'sidelight needs Linux (this is darwin)' });
  });
  it('needs 5.10 on x86-64 (arguments found on the kernel stack) and 5.15 elsewhere (bpf_task_pt_regs)', () => {
    assert.deepEqual(preflight(host({ release: '5.10.0-32-cloud-amd64' })), []);
    assert.throws(() => preflight(host({ release: '5.9.16' })), { message: 'kernel 5.9.16 is older than 5.10, which sidelight needs on x64; run it on a newer kernel' });
    assert.deepEqual(preflight(host({ arch: 'arm64', release: '5.15.0-1040-aws' })), []);
    assert.throws(() => preflight(host({ arch: 'arm64', release: '5.10.230-223.885.amzn2.aarch64' })), {
      message: 'kernel 5.10.230-223.885.amzn2.aarch64 is older than 5.15, which sidelight needs on arm64; run it on a newer kernel',
    });
  });
  it('before 5.11 needs the locked-memory limit lifted: CAP_SYS_RESOURCE, or no hard limit', () => {
    const noResource = ROOT_CAPS & ~(1n << 24n);
    assert.throws(() => preflight(host({ release: '5.10.0-32-cloud-amd64', capEff: noResource })), {
      message: 'kernel 5.10.0-32-cloud-amd64 charges eBPF maps to the locked-memory limit (before 5.11), capped here at 8192 KiB: grant CAP_SYS_RESOURCE, or raise it (ulimit -l unlimited, LimitMEMLOCK=infinity)',
    });
    assert.deepEqual(preflight(host({ release: '5.10.0-32-cloud-amd64', capEff: noResource, memlockHard: undefined })), []);
    assert.deepEqual(preflight(host({ release: '5.10.0-32-cloud-amd64' })), []);
    assert.deepEqual(preflight(host({ release: '5.11.0', capEff: noResource })), []);
  });
  it('reads the hard locked-memory limit from /proc/self/limits', () => {
    assert.equal(memlockHard('Max open files            1024                 1048576              files\nMax locked memory         65536                8388608              bytes\n'), 8388608);
    assert.equal(memlockHard('Max locked memory         unlimited            unlimited            bytes\n'), undefined);
  });
  it('mounts tracefs when it may', () => {
    assert.deepEqual(preflight(host({ tracefsEvents: false, mountTracefs: () => true })), ['mounted tracefs at /sys/kernel/tracing']);
  });
  it('accepts CAP_BPF + CAP_PERFMON without root', () => {
    assert.deepEqual(preflight(host({ capEff: (1n << 39n) | (1n << 38n) })), []);
    assert.throws(() => preflight(host({ capEff: 1n << 39n })), /missing privileges/);
  });
  it('reads CapEff from /proc/self/status', () => {
    assert.equal(effectiveCaps('Name:\tnode\nCapEff:\t000001ffffffffff\n'), ROOT_CAPS);
    assert.equal(effectiveCaps('Name:\tnode\n'), 0n);
  });
});
