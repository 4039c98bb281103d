// The kernel contract: constants come from the addon's export of
// bpf/events.h, and a build that lacks one is refused by name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadAddon } from '../../src/capture/addon';
import { KERNEL, kernelClass, kernelConstant, kernelContract } from '../../src/capture/contract';
import { DIR_EGRESS, DIR_INGRESS, EV_DATA, ROLE_SERVER } from '../../src/capture/layout';
import { PORT_BITMAP_BYTES } from '../../src/capture/ports';

describe('kernel contract', () => {
  const exported = loadAddon().layout().constants;

  it('every constant user space reads is the addon’s', () => {
    assert.deepEqual(KERNEL, {
      classUnknown: exported.SL_CLASS_UNKNOWN,
      maxChunk: exported.SL_MAX_CHUNK, maxChunksPerSyscall: exported.SL_MAX_CHUNKS_PER_SYSCALL, maxPids: exported.SL_MAX_PIDS, portWords: exported.SL_PORT_WORDS,
    });
    assert.deepEqual([EV_DATA, DIR_EGRESS, DIR_INGRESS, ROLE_SERVER], [exported.SL_EV_DATA, exported.SL_DIR_EGRESS, exported.SL_DIR_INGRESS, exported.SL_ROLE_SERVER]);
    assert.equal(PORT_BITMAP_BYTES, exported.SL_PORT_WORDS * 8);
    assert.deepEqual([kernelClass('http1'), kernelClass('http2')], [exported.SL_CLASS_HTTP1, exported.SL_CLASS_HTTP2]);
  });

  it('the class list of events.h reaches user space whole: distinct classes, 0 for not judged yet', () => {
    const classes = Object.entries(exported).filter(([k]) => k.startsWith('SL_CLASS_'));
    assert.deepEqual(classes.map(([k]) => k).sort(), ['SL_CLASS_HTTP1', 'SL_CLASS_HTTP2', 'SL_CLASS_OTHER', 'SL_CLASS_TLS', 'SL_CLASS_UNKNOWN']);
    assert.equal(new Set(classes.map(([, v]) => v)).size, classes.length);
    assert.equal(exported.SL_CLASS_UNKNOWN, 0);
  });

  it('an addon without a constant is refused, naming it and the fix', () => {
    const old = { ...exported };
    delete old.SL_MAX_PIDS;
    assert.throws(() => kernelContract(old), { message: 'the native addon does not export SL_MAX_PIDS: it is older than this agent; rebuild with: npm run build' });
    assert.throws(() => kernelClass('postgres'), { message: /does not export SL_CLASS_POSTGRES: / });
    assert.equal(kernelConstant('SL_MAX_CHUNK'), exported.SL_MAX_CHUNK);
  });
});
