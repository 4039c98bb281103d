// When JavaScript falls behind, the poll thread waits, the kernel ring
// fills and every lost event is counted: delivered + dropped = produced.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Capture } from '../../src/capture/capture';
import { needBpf } from '../support/requirements';
import { stepWriter } from '../support/step-writer';
import { sleep } from '../support/wait';

const N = 100_000;

describe('capture back-pressure', () => {
  it('a slow consumer loses events only as counted kernel drops', async (t) => {
    if (!needBpf(t)) return;
    const writer = await stepWriter(64);
    const pid = writer.pid;

    let data = 0;
    let closes = 0;
    const capture = new Capture();
    capture.start(
      { captureBytes: 4096, syscallCapBytes: 16384, ringBytes: 64 * 1024, maxConnections: 1024, pids: [pid], ports: [], excludePorts: [] },
      {
        onData: () => {
          data++;
          // 20 µs per event: far slower than the writer.
          const until = process.hrtime.bigint() + 20_000n;
          while (process.hrtime.bigint() < until);
        },
        onClose: () => closes++,
        onTlsBind: () => assert.fail('no TLS session expected'),
      },
    );
    await writer.send(N);
    await writer.end();
    await sleep(500);
    await capture.stop();
    const s = capture.stats();
    const dataDrops = s.kernel.ringbufDrops - s.kernel.ringbufCloseDrops;
    t.diagnostic(`delivered ${data}, dropped ${dataDrops}, poll thread waits ${s.waits}`);
    assert.ok(s.kernel.ringbufDrops > 0, 'the ring overflowed');
    assert.ok(s.waits > 0, 'the poll thread waited for JavaScript');
    assert.equal(data + dataDrops, N, `delivered ${data} + dropped ${dataDrops}`);
    assert.equal(s.events, data + closes);
  });
});
