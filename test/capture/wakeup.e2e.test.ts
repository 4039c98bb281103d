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

/**
 * How many ring bytes `n` of the writer's events take, measured by a short
 * capture of its own: the first event a capture sees on the connection and
 * the ones after it, each a record header (8 bytes) plus its size rounded up
 * to 8, as the kernel's ring lays them out.
 */
async function ringOccupancy(writer: Awaited<ReturnType<typeof stepWriter>>, n: number): Promise<number> {
  const { sink, data } = counting();
  const capture = new Capture();
  capture.start({ ...base(writer.pid), tickMs: 5, idleTickMs: 5 }, sink);
  const slot = (size: number): number => Math.ceil((size + 8) / 8) * 8;
  try {
    await writer.send(1);
    assert.ok(await poll(() => data() === 1, 5000), 'the calibration capture saw no event');
    const first = capture.stats();
    await writer.send(1);
    assert.ok(await poll(() => data() === 2, 5000), 'the calibration capture missed the second event');
    const second = capture.stats();
    assert.equal(first.events, 1, 'one record for the first event');
    assert.equal(second.events, 2, 'one record for the second event');
    return slot(first.bytes) + (n - 1) * slot(second.bytes - first.bytes);
  } finally {
    await capture.stop();
  }
}

describe('ring wake-ups', () => {
  it('events below the watermark wake nobody; the one that crosses it does, even with a minute-long tick', async (t) => {
    if (!needBpf(t)) return;
    const writer = await stepWriter(64);
    // The watermark sits so that the 110th event, the last one, crosses it
    // (a record wakes when the ring's bytes before it plus its own size reach
    // the watermark). Were an earlier one to cross, the writer would go on
    // writing while the poll thread drains the ring record by record, and a
    // later event could cross again: a right second wake-up, a flaky count.
    const wakeBytes = (await ringOccupancy(writer, 109)) + 1;
    const { sink, data } = counting();
    const capture = new Capture();
    capture.start({ ...base(writer.pid), tickMs: 60_000, idleTickMs: 60_000, wakeBytes }, sink);
    try {
      await writer.send(10);
      await sleep(500);
      assert.equal(data(), 0, 'ten events under the watermark were delivered: something woke the poll thread');
      assert.equal(capture.stats().rounds, 0, 'the poll thread looked at the ring before its tick');
      await writer.send(99);
      await sleep(500);
      assert.equal(data(), 0, '109 events under the watermark were delivered: something woke the poll thread');
      await writer.send(1);
      assert.ok(await poll(() => data() === 110, 5000), `the watermark woke nobody: ${data()} delivered`);
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
