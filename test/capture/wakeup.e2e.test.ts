// The wake-up policy: an event never wakes the poll thread from inside the
// traced syscall, except when it fills the ring past the watermark; the
// thread drains the ring on a timer that backs off when idle.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Capture, type CaptureOptions } from '../../src/capture/capture';
import type { EventSink } from '../../src/capture/events';
import { needBpf } from '../support/requirements';
import { stepWriter } from '../support/step-writer';
import { poll, sleep } from '../support/wait';

function counting(): { sink: EventSink; data: () => number } {
  let data = 0;
  return {
    sink: { onData: () => data++, onClose: () => {}, onTlsBind: () => assert.fail('no TLS session expected') },
    data: () => data,
  };
}

const base = (pid: number): CaptureOptions => ({ captureBytes: 4096, syscallCapBytes: 16384, ringBytes: 64 * 1024, maxConnections: 1024, pids: [pid], ports: [], excludePorts: [] });

describe('ring wake-ups', () => {
  it('events below the watermark wake nobody; the one that crosses it does, even with a minute-long tick', async (t) => {
    if (!needBpf(t)) return;
    const writer = await stepWriter(64);
    const { sink, data } = counting();
    const capture = new Capture();
    // 16 KiB: some 70 events of ~230 bytes.
    capture.start({ ...base(writer.pid), tickMs: 60_000, idleTickMs: 60_000, wakeBytes: 16 * 1024 }, sink);
    try {
      await writer.send(10);
      await sleep(500);
      assert.equal(data(), 0, 'ten events under the watermark were delivered: something woke the poll thread');
      assert.equal(capture.stats().rounds, 0, 'the poll thread looked at the ring before its tick');
      await writer.send(100);
      assert.ok(await poll(() => data() >= 60, 5000), `the watermark woke nobody: ${data()} delivered`);
      assert.equal(capture.stats().rounds, 1, 'one wake-up for the crossing');
    } finally {
      await writer.end();
      await capture.stop();
    }
    const s = capture.stats();
    assert.equal(s.kernel.ringbufDrops, 0);
    assert.equal(data(), 110, 'every event is delivered by the stop');
  });

  it('a lone request leaves on the next tick, and an idle ring is looked at a few times a second', async (t) => {
    if (!needBpf(t)) return;
    const writer = await stepWriter(64);
    const { sink, data } = counting();
    const capture = new Capture();
    capture.start(base(writer.pid), sink);
    try {
      await sleep(1000);
      const r0 = capture.stats().rounds;
      await sleep(1000);
      const idleRounds = capture.stats().rounds - r0;
      // Backed off to the 40 ms idle tick: 25 a second (5 ms would be 200).
      assert.ok(idleRounds >= 15 && idleRounds <= 40, `${idleRounds} rounds in an idle second`);
      await writer.send(1);
      assert.ok(await poll(() => data() === 1, 1000, 5), 'a lone request was not delivered within a second');
    } finally {
      await writer.end();
      await capture.stop();
    }
    assert.equal(capture.stats().kernel.ringbufDrops, 0);
  });
});
