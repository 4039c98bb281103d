import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveCaps, preflight, type Host } from '../../src/capture/preflight';

const ROOT_CAPS = 0x000001ffffffffffn;

function host(over: Partial<Host>): Host {
  return { platform: 'linux', release: '6.18.0', capEff: ROOT_CAPS, btf: true, tracefsEvents: true, mountTracefs: () => false, ...over };
}

describe('preflight', () => {
  it('passes on a capable host', () => {
    assert.deepEqual(preflight(host({})), []);
  });
  it('names each problem and its fix in one line', () => {
    assert.throws(() => preflight(host({ release: '5.4.0-100-generic' })), { message: 'kernel 5.4.0-100-generic is older than 5.15, which sidelight needs; run it on a newer kernel' });
    assert.throws(() => preflight(host({ capEff: 0n })), { message: /^missing privileges to load eBPF programs: run as root, or grant CAP_BPF and CAP_PERFMON/ });
    assert.throws(() => preflight(host({ btf: false })), { message: 'no kernel BTF at /sys/kernel/btf/vmlinux: use a kernel built with CONFIG_DEBUG_INFO_BTF=y' });
    assert.throws(() => preflight(host({ tracefsEvents: false })), { message: /^tracefs is not mounted and could not be mounted: run mount -t tracefs tracefs \/sys\/kernel\/tracing/ });
    assert.throws(() => preflight(host({ platform: 'darwin' })), { message: 'sidelight needs Linux (this is darwin)' });
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
