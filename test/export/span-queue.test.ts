import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { SpanQueue, type SpanQueueOptions } from '../../src/export/span-queue';
import { sleep, waitUntil } from '../support/wait';

// ---------------------------------------------------------------------------
// Test doubles and helpers

/** A stand-in span: the queue never looks inside, only the name is used here. */
function span(i: number): ReadableSpan {
  return { name: `s${i}` } as unknown as ReadableSpan;
}

function spans(from: number, to: number): ReadableSpan[] {
  const out: ReadableSpan[] = [];
  for (let i = from; i < to; i++) out.push(span(i));
  return out;
}

function names(from: number, to: number): string[] {
  return spans(from, to).map((s) => s.name);
}

interface Call {
  batch: string[];
  settled: boolean;
  settle(result: ExportResult): void;
}

const OK: ExportResult = { code: ExportResultCode.SUCCESS };
function failed(message: string): ExportResult {
  return { code: ExportResultCode.FAILED, error: new Error(message) };
}

/**
 * An exporter whose every answer the test decides: held until settled by the
 * test, or answered on the next turn when `auto` is set; `throwNext` makes
 * the next export call throw synchronously.
 */
class ScriptedExporter implements SpanExporter {
  readonly calls: Call[] = [];
  auto: ExportResult | undefined;
  throwNext: string | undefined;
  inFlight = 0;
  maxInFlight = 0;
  shutdowns = 0;
  /** Export calls under way when shutdown() was called. */
  inFlightAtShutdown: number | undefined;

  export(batch: ReadableSpan[], cb: (result: ExportResult) => void): void {
    if (this.throwNext !== undefined) {
      const message = this.throwNext;
      this.throwNext = undefined;
      this.calls.push({ batch: batch.map((s) => s.name), settled: true, settle: () => undefined });
      throw new Error(message);
    }
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const call: Call = {
      batch: batch.map((s) => s.name),
      settled: false,
      settle: (result) => {
        if (call.settled) throw new Error('call settled twice');
        call.settled = true;
        this.inFlight--;
        cb(result);
      },
    };
    this.calls.push(call);
    const auto = this.auto;
    if (auto) setImmediate(() => call.settle(auto));
  }

  async shutdown(): Promise<void> {
    this.shutdowns++;
    this.inFlightAtShutdown = this.inFlight;
  }

  /** The n-th export call (1-based), once it has been made. */
  async call(n: number): Promise<Call> {
    await waitFor(() => this.calls.length >= n, `export call #${n}`);
    return this.calls[n - 1];
  }

  /** Names of the spans of successful calls, in call order. */
  get batches(): string[][] {
    return this.calls.map((c) => c.batch);
  }
}

const waitFor = (pred: () => boolean, what: string, timeoutMs = 3000): Promise<void> => waitUntil(what, pred, timeoutMs, 2);

/** Every span offered is exported, dropped, queued or in flight: never two, never none. */
function assertBalanced(q: SpanQueue<ReadableSpan>, offered: number): void {
  const s = q.stats;
  assert.equal(s.exported + s.droppedQueueFull + s.queued + s.inFlight, offered, `stats ${JSON.stringify(s)} vs ${offered} offered`);
}

/**
 * Records the delays SpanQueue<ReadableSpan> passes to setTimeout (its batch delay and
 * backoff), calling the real setTimeout: the timers stay real, only the
 * requested delays are observed. Calls from anywhere else are not recorded.
 */
function spyQueueTimers(): { delays: number[]; restore(): void } {
  const real = globalThis.setTimeout;
  const delays: number[] = [];
  const spy = (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const caller = new Error().stack?.split('\n')[2] ?? '';
    if (/[\\/]src[\\/]export[\\/]span-queue\.(js|ts)/.test(caller)) delays.push(ms ?? 0);
    return real(fn, ms, ...args);
  };
  globalThis.setTimeout = spy as unknown as typeof setTimeout;
  return { delays, restore: () => void (globalThis.setTimeout = real) };
}

const FAILED_MSG = (m: string) => `OTLP trace export failed (${m}); retrying with backoff, spans kept up to the queue size`;
const RECOVERED_MSG = (n: number) => `OTLP trace export recovered after ${n} failed attempt(s)`;

function queue(exp: ScriptedExporter, opts: Partial<SpanQueueOptions>, errors: string[] = []): SpanQueue<ReadableSpan> {
  return new SpanQueue<ReadableSpan>(
    exp,
    { maxQueueSize: 100, maxBatchSize: 3, delayMs: 10_000, minBackoffMs: 20, maxBackoffMs: 80, ...opts },
    (m) => errors.push(m),
  );
}

// ---------------------------------------------------------------------------

describe('SpanQueue batching', () => {
  it('sends a full batch at once, one export in flight, the next full batch when it ends', async () => {
    const exp = new ScriptedExporter();
    const q = queue(exp, { maxBatchSize: 3, delayMs: 10_000 });
    let offered = 0;
    for (const s of spans(0, 3)) {
      q.offer(s);
      offered++;
      assertBalanced(q, offered);
    }
    // Sent synchronously by the offer that filled the batch.
    assert.deepEqual(exp.batches, [names(0, 3)]);
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 0, exportErrors: 0, queued: 0, inFlight: 3 });

    for (const s of spans(3, 7)) {
      q.offer(s);
      offered++;
      assertBalanced(q, offered);
    }
    // A second full batch is waiting, but one export is already under way.
    assert.equal(exp.calls.length, 1);
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 0, exportErrors: 0, queued: 4, inFlight: 3 });

    (await exp.call(1)).settle(OK);
    const second = await exp.call(2);
    assert.deepEqual(second.batch, names(3, 6));
    assert.deepEqual(q.stats, { exported: 3, droppedQueueFull: 0, exportErrors: 0, queued: 1, inFlight: 3 });
    assertBalanced(q, offered);

    second.settle(OK);
    await waitFor(() => q.stats.inFlight === 0, 'second export to end');
    // s6 is a partial batch: it waits for delayMs (10 s here), not sent now.
    await sleep(50);
    assert.equal(exp.calls.length, 2);
    assert.deepEqual(q.stats, { exported: 6, droppedQueueFull: 0, exportErrors: 0, queued: 1, inFlight: 0 });
    assertBalanced(q, offered);
    assert.equal(exp.maxInFlight, 1);

    exp.auto = OK;
    await q.shutdown(1000);
    assert.deepEqual(exp.batches, [names(0, 3), names(3, 6), ['s6']]);
    assert.deepEqual(q.stats, { exported: 7, droppedQueueFull: 0, exportErrors: 0, queued: 0, inFlight: 0 });
    assert.equal(exp.shutdowns, 1);
    assert.equal(exp.inFlightAtShutdown, 0);
  });

  it('sends a partial batch after delayMs', async () => {
    const timers = spyQueueTimers();
    try {
      const exp = new ScriptedExporter();
      exp.auto = OK;
      const q = queue(exp, { maxBatchSize: 10, delayMs: 30 });
      q.offer(span(0));
      q.offer(span(1));
      assert.equal(exp.calls.length, 0);
      assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 0, exportErrors: 0, queued: 2, inFlight: 0 });
      // One timer, armed by the first offer with the batch delay.
      assert.deepEqual(timers.delays, [30]);
      await exp.call(1);
      assert.deepEqual(exp.batches, [['s0', 's1']]);
      await waitFor(() => q.stats.exported === 2, 'export of the partial batch');
      assert.deepEqual(q.stats, { exported: 2, droppedQueueFull: 0, exportErrors: 0, queued: 0, inFlight: 0 });
      assert.deepEqual(timers.delays, [30]);
      await q.shutdown(1000);
      assert.equal(exp.calls.length, 1);
    } finally {
      timers.restore();
    }
  });

  it('many spans: every batch full but the last, in order, one export at a time', async () => {
    const exp = new ScriptedExporter();
    exp.auto = OK;
    const q = queue(exp, { maxBatchSize: 4, delayMs: 20 });
    for (let i = 0; i < 30; i++) {
      q.offer(span(i));
      assertBalanced(q, i + 1);
    }
    await waitFor(() => q.stats.exported === 30, 'all 30 exported');
    assert.deepEqual(exp.batches, [
      names(0, 4), names(4, 8), names(8, 12), names(12, 16), names(16, 20), names(20, 24), names(24, 28), names(28, 30),
    ]);
    assert.equal(exp.maxInFlight, 1);
    assert.deepEqual(q.stats, { exported: 30, droppedQueueFull: 0, exportErrors: 0, queued: 0, inFlight: 0 });
    await q.shutdown(1000);
  });
});

describe('SpanQueue bound', () => {
  it('drops the oldest when full, keeps the newest, counts exactly', async () => {
    const exp = new ScriptedExporter();
    exp.auto = OK;
    const q = queue(exp, { maxQueueSize: 5, maxBatchSize: 10, delayMs: 10_000 });
    for (let i = 0; i < 8; i++) {
      q.offer(span(i));
      assertBalanced(q, i + 1);
    }
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 3, exportErrors: 0, queued: 5, inFlight: 0 });
    await q.shutdown(1000);
    assert.deepEqual(exp.batches, [names(3, 8)]);
    assert.deepEqual(q.stats, { exported: 5, droppedQueueFull: 3, exportErrors: 0, queued: 0, inFlight: 0 });
    assertBalanced(q, 8);
  });

  it('a failed batch goes back only as far as there is room, its oldest dropped first', async () => {
    const exp = new ScriptedExporter();
    const errors: string[] = [];
    const q = queue(exp, { maxQueueSize: 4, maxBatchSize: 2, delayMs: 10_000 }, errors);
    q.offer(span(0));
    q.offer(span(1)); // batch [s0, s1] in flight
    for (let i = 2; i < 5; i++) q.offer(span(i)); // queue [s2, s3, s4]
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 0, exportErrors: 0, queued: 3, inFlight: 2 });
    (await exp.call(1)).settle(failed('down'));
    // Room for one: s1 goes back ahead of the newer spans, s0 is dropped.
    const c2 = await exp.call(2);
    assert.deepEqual(c2.batch, ['s1', 's2']);
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 1, exportErrors: 1, queued: 2, inFlight: 2 });
    assertBalanced(q, 5);
    exp.auto = OK;
    c2.settle(OK);
    await waitFor(() => q.stats.exported === 4 && q.stats.inFlight === 0, 'retry to drain the queue');
    assert.deepEqual(exp.batches, [['s0', 's1'], ['s1', 's2'], ['s3', 's4']]);
    assert.deepEqual(q.stats, { exported: 4, droppedQueueFull: 1, exportErrors: 1, queued: 0, inFlight: 0 });
    assert.deepEqual(errors, [FAILED_MSG('down'), RECOVERED_MSG(1)]);
    await q.shutdown(1000);
  });

  it('a failed batch with no room left is dropped whole', async () => {
    const exp = new ScriptedExporter();
    const q = queue(exp, { maxQueueSize: 3, maxBatchSize: 2, delayMs: 10_000 });
    q.offer(span(0));
    q.offer(span(1)); // in flight
    for (let i = 2; i < 7; i++) {
      q.offer(span(i));
      assertBalanced(q, i + 1);
    }
    // s2, s3 pushed out by s5, s6.
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 2, exportErrors: 0, queued: 3, inFlight: 2 });
    (await exp.call(1)).settle(failed('down'));
    const c2 = await exp.call(2);
    assert.deepEqual(c2.batch, ['s4', 's5']);
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 4, exportErrors: 1, queued: 1, inFlight: 2 });
    assertBalanced(q, 7);
    exp.auto = OK;
    c2.settle(OK);
    await waitFor(() => q.stats.exported === 2 && q.stats.inFlight === 0, 'retry');
    await q.shutdown(1000); // flushes the partial batch [s6]
    assert.deepEqual(exp.batches, [['s0', 's1'], ['s4', 's5'], ['s6']]);
    assert.deepEqual(q.stats, { exported: 3, droppedQueueFull: 4, exportErrors: 1, queued: 0, inFlight: 0 });
    assertBalanced(q, 7);
  });
});

describe('SpanQueue retry', () => {
  it('keeps a failed batch ahead of newer spans, backs off, recovers in order exactly once', async () => {
    const timers = spyQueueTimers();
    try {
      const exp = new ScriptedExporter();
      const errors: string[] = [];
      const q = queue(exp, { maxBatchSize: 3, delayMs: 10, minBackoffMs: 20, maxBackoffMs: 80 }, errors);
      let offered = 0;
      const offer = (from: number, to: number) => {
        for (const s of spans(from, to)) {
          q.offer(s);
          offered++;
          assertBalanced(q, offered);
        }
      };
      offer(0, 3);
      const c1 = await exp.call(1);
      offer(3, 7); // newer spans, while the first batch is in flight
      assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 0, exportErrors: 0, queued: 4, inFlight: 3 });

      c1.settle(failed('E1'));
      const c2 = await exp.call(2);
      assert.deepEqual(c2.batch, names(0, 3)); // the failed batch first, not the newer spans
      assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 0, exportErrors: 1, queued: 4, inFlight: 3 });
      assert.deepEqual(errors, [FAILED_MSG('E1')]);
      c2.settle(failed('E1')); // same message: not reported again
      const c3 = await exp.call(3);
      assert.deepEqual(c3.batch, names(0, 3));
      assert.deepEqual(errors, [FAILED_MSG('E1')]);
      c3.settle(failed('E2')); // a different message: reported
      const c4 = await exp.call(4);
      assert.deepEqual(c4.batch, names(0, 3));
      assert.deepEqual(errors, [FAILED_MSG('E1'), FAILED_MSG('E2')]);
      assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 0, exportErrors: 3, queued: 4, inFlight: 3 });
      assertBalanced(q, offered);

      exp.auto = OK;
      c4.settle(OK);
      await waitFor(() => q.stats.exported === 7 && q.stats.inFlight === 0, 'recovery to export everything');
      assert.deepEqual(exp.batches, [names(0, 3), names(0, 3), names(0, 3), names(0, 3), names(3, 6), ['s6']]);
      const delivered = exp.calls.slice(3).flatMap((c) => c.batch);
      assert.deepEqual(delivered, names(0, 7)); // original order, each exactly once
      assert.deepEqual(errors, [FAILED_MSG('E1'), FAILED_MSG('E2'), RECOVERED_MSG(3)]);
      assert.deepEqual(q.stats, { exported: 7, droppedQueueFull: 0, exportErrors: 3, queued: 0, inFlight: 0 });
      // The batch delay armed by the first offer, backoff 20, 40, 80 before
      // each retry, then the batch delay for the partial batch [s6].
      assert.deepEqual(timers.delays, [10, 20, 40, 80, 10]);
      assert.equal(exp.maxInFlight, 1);
      await q.shutdown(1000);
    } finally {
      timers.restore();
    }
  });

  it('backoff doubles from min and caps at max, and starts again from min after recovery', async () => {
    const timers = spyQueueTimers();
    try {
      const exp = new ScriptedExporter();
      const errors: string[] = [];
      const q = queue(exp, { maxBatchSize: 2, delayMs: 10, minBackoffMs: 20, maxBackoffMs: 80 }, errors);
      q.offer(span(0));
      q.offer(span(1));
      (await exp.call(1)).settle(failed('refused'));
      for (let n = 2; n <= 5; n++) {
        const c = await exp.call(n);
        assert.deepEqual(c.batch, ['s0', 's1']);
        c.settle(failed('refused'));
      }
      const c6 = await exp.call(6);
      // Batch delay of the first offer, then 5 failures: 20, 40, 80, 80, 80.
      assert.deepEqual(timers.delays, [10, 20, 40, 80, 80, 80]);
      assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 0, exportErrors: 5, queued: 0, inFlight: 2 });
      assert.deepEqual(errors, [FAILED_MSG('refused')]);
      exp.auto = OK;
      c6.settle(OK);
      await waitFor(() => q.stats.exported === 2 && q.stats.inFlight === 0, 'recovery');
      assert.deepEqual(q.stats, { exported: 2, droppedQueueFull: 0, exportErrors: 5, queued: 0, inFlight: 0 });
      assert.deepEqual(errors, [FAILED_MSG('refused'), RECOVERED_MSG(5)]);

      // A second outage: reported again, backoff from min again.
      exp.auto = undefined;
      q.offer(span(2));
      q.offer(span(3));
      (await exp.call(7)).settle(failed('refused'));
      const c8 = await exp.call(8);
      assert.deepEqual(c8.batch, ['s2', 's3']);
      assert.deepEqual(timers.delays, [10, 20, 40, 80, 80, 80, 10, 20]);
      exp.auto = OK;
      c8.settle(OK);
      await waitFor(() => q.stats.exported === 4 && q.stats.inFlight === 0, 'second recovery');
      assert.deepEqual(q.stats, { exported: 4, droppedQueueFull: 0, exportErrors: 6, queued: 0, inFlight: 0 });
      assert.equal(errors.length, 4);
      assert.equal(errors[2], FAILED_MSG('refused'));
      // The recovery message counts this outage's failures only.
      assert.equal(errors[3], 'OTLP trace export recovered after 1 failed attempt(s)');
      await q.shutdown(1000);
    } finally {
      timers.restore();
    }
  });

  it('a full batch offered during backoff waits for the backoff', async () => {
    const exp = new ScriptedExporter();
    // Backoff long enough that the retry cannot come during this test.
    const q = queue(exp, { maxBatchSize: 2, delayMs: 10, minBackoffMs: 30_000, maxBackoffMs: 30_000 });
    q.offer(span(0));
    q.offer(span(1));
    (await exp.call(1)).settle(failed('refused'));
    await waitFor(() => q.stats.exportErrors === 1 && q.stats.inFlight === 0, 'failure to be handled');
    q.offer(span(2));
    q.offer(span(3));
    assert.equal(exp.calls.length, 1);
    await sleep(50);
    assert.equal(exp.calls.length, 1);
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 0, exportErrors: 1, queued: 4, inFlight: 0 });
    // Shutdown during backoff does not retry: all four are dropped.
    await q.shutdown(1000);
    assert.equal(exp.calls.length, 1);
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 4, exportErrors: 1, queued: 0, inFlight: 0 });
  });

  it('an exporter that throws synchronously counts as a failed export', async () => {
    const timers = spyQueueTimers();
    try {
      const exp = new ScriptedExporter();
      const errors: string[] = [];
      const q = queue(exp, { maxBatchSize: 2, delayMs: 10, minBackoffMs: 20, maxBackoffMs: 80 }, errors);
      exp.throwNext = 'serializer exploded';
      q.offer(span(0));
      q.offer(span(1));
      assert.equal(exp.calls.length, 1);
      const c2 = await exp.call(2);
      assert.deepEqual(c2.batch, ['s0', 's1']);
      assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 0, exportErrors: 1, queued: 0, inFlight: 2 });
      assert.deepEqual(errors, [FAILED_MSG('serializer exploded')]);
      assert.deepEqual(timers.delays, [10, 20]);
      c2.settle(OK);
      await waitFor(() => q.stats.exported === 2 && q.stats.inFlight === 0, 'retry');
      assert.deepEqual(exp.batches, [['s0', 's1'], ['s0', 's1']]);
      assert.deepEqual(q.stats, { exported: 2, droppedQueueFull: 0, exportErrors: 1, queued: 0, inFlight: 0 });
      assert.deepEqual(errors, [FAILED_MSG('serializer exploded'), RECOVERED_MSG(1)]);
      await q.shutdown(1000);
    } finally {
      timers.restore();
    }
  });

  it('a failure without an error object is reported as unknown error', async () => {
    const exp = new ScriptedExporter();
    const errors: string[] = [];
    const q = queue(exp, { maxBatchSize: 1 }, errors);
    q.offer(span(0));
    (await exp.call(1)).settle({ code: ExportResultCode.FAILED });
    (await exp.call(2)).settle(OK);
    await waitFor(() => q.stats.exported === 1 && q.stats.inFlight === 0, 'retry');
    assert.deepEqual(errors, [FAILED_MSG('unknown error'), RECOVERED_MSG(1)]);
    await q.shutdown(1000);
  });
});

describe('SpanQueue invariant', () => {
  it('exported + dropped + queued + inFlight equals offered at every step of an outage', async () => {
    const exp = new ScriptedExporter();
    const q = queue(exp, { maxQueueSize: 6, maxBatchSize: 4, delayMs: 10, minBackoffMs: 20, maxBackoffMs: 40 });
    let offered = 0;
    const offer = (n: number) => {
      for (let i = 0; i < n; i++) {
        q.offer(span(offered));
        offered++;
        assertBalanced(q, offered);
      }
    };
    offer(4); // [s0..s3] in flight
    offer(9); // queue of 6: s4..s6 dropped
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 3, exportErrors: 0, queued: 6, inFlight: 4 });
    (await exp.call(1)).settle(failed('x')); // no room: s0..s3 dropped
    const c2 = await exp.call(2);
    assert.deepEqual(c2.batch, names(7, 11));
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 7, exportErrors: 1, queued: 2, inFlight: 4 });
    assertBalanced(q, offered);
    offer(3);
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 7, exportErrors: 1, queued: 5, inFlight: 4 });
    c2.settle(failed('x')); // room for 1 of the 4: s10 back, s7..s9 dropped
    const c3 = await exp.call(3);
    assert.deepEqual(c3.batch, names(10, 14));
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 10, exportErrors: 2, queued: 2, inFlight: 4 });
    assertBalanced(q, offered);
    exp.auto = OK;
    c3.settle(OK);
    await waitFor(() => q.stats.queued === 0 && q.stats.inFlight === 0, 'recovery');
    assert.deepEqual(exp.batches.slice(2).flat(), names(10, 16));
    assert.deepEqual(q.stats, { exported: 6, droppedQueueFull: 10, exportErrors: 2, queued: 0, inFlight: 0 });
    assertBalanced(q, offered);
    await q.shutdown(1000);
    assertBalanced(q, offered);
  });
});

describe('SpanQueue shutdown', () => {
  it('flushes everything queued, partial batch included, then shuts the exporter', async () => {
    const exp = new ScriptedExporter();
    exp.auto = OK;
    const q = queue(exp, { maxBatchSize: 2, delayMs: 10_000 });
    for (const s of spans(0, 5)) q.offer(s);
    await q.shutdown(2000);
    assert.deepEqual(exp.batches, [names(0, 2), names(2, 4), ['s4']]);
    assert.deepEqual(q.stats, { exported: 5, droppedQueueFull: 0, exportErrors: 0, queued: 0, inFlight: 0 });
    assert.equal(exp.shutdowns, 1);
    assert.equal(exp.inFlightAtShutdown, 0);
  });

  it('while the endpoint is down: no retry, the rest counted as dropped', async () => {
    const exp = new ScriptedExporter();
    exp.auto = failed('down');
    const errors: string[] = [];
    const q = queue(exp, { maxBatchSize: 2, delayMs: 10_000, minBackoffMs: 20, maxBackoffMs: 80 }, errors);
    for (const s of spans(0, 3)) q.offer(s);
    await q.shutdown(2000);
    assert.deepEqual(exp.batches, [names(0, 2)]);
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 3, exportErrors: 1, queued: 0, inFlight: 0 });
    assert.deepEqual(errors, [FAILED_MSG('down')]);
    assert.equal(exp.shutdowns, 1);
    // Nothing happens afterwards: no retry timer survives shutdown.
    await sleep(120);
    assert.equal(exp.calls.length, 1);
    assertBalanced(q, 3);
  });

  it('past the deadline: shutdown returns on time; the export under way is counted when it settles', async () => {
    const exp = new ScriptedExporter();
    const q = queue(exp, { maxBatchSize: 2, delayMs: 10_000 });
    for (const s of spans(0, 3)) q.offer(s); // [s0, s1] in flight, [s2] queued
    const c1 = await exp.call(1);
    const t0 = Date.now();
    await q.shutdown(60);
    const took = Date.now() - t0;
    assert.ok(took < 140, `shutdown(60) took ${took} ms`);
    // [s2] could not be sent in time; [s0, s1] are still under way.
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 1, exportErrors: 0, queued: 0, inFlight: 2 });
    assert.equal(exp.shutdowns, 1);
    c1.settle(OK);
    await waitFor(() => q.stats.inFlight === 0, 'settled');
    assert.deepEqual(exp.batches, [names(0, 2)]);
    assert.deepEqual(q.stats, { exported: 2, droppedQueueFull: 1, exportErrors: 0, queued: 0, inFlight: 0 });
    assertBalanced(q, 3);
  });

  it('past the deadline: no export starts after it, and a late failure is counted as dropped', async () => {
    const exp = new ScriptedExporter();
    const q = queue(exp, { maxBatchSize: 1, delayMs: 10_000 });
    for (const s of spans(0, 3)) q.offer(s); // [s0] in flight, [s1, s2] queued
    const c1 = await exp.call(1);
    await q.shutdown(60);
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 2, exportErrors: 0, queued: 0, inFlight: 1 });
    c1.settle(failed('late'));
    await waitFor(() => q.stats.inFlight === 0, 'settled');
    await sleep(50);
    assert.equal(exp.calls.length, 1, 'no export after the deadline');
    assert.deepEqual(q.stats, { exported: 0, droppedQueueFull: 3, exportErrors: 1, queued: 0, inFlight: 0 });
    assertBalanced(q, 3);
  });

  it('spans offered after shutdown', async () => {
    const exp = new ScriptedExporter();
    exp.auto = OK;
    const q = queue(exp, { maxBatchSize: 2 });
    q.offer(span(0));
    await q.shutdown(1000);
    assert.deepEqual(q.stats, { exported: 1, droppedQueueFull: 0, exportErrors: 0, queued: 0, inFlight: 0 });
    q.offer(span(1));
    q.offer(span(2));
    assert.equal(exp.calls.length, 1);
    assert.equal(q.stats.queued, 0);
    // Counted, never lost silently.
    assert.equal(q.stats.droppedQueueFull, 2);
    assertBalanced(q, 3);
  });
});
