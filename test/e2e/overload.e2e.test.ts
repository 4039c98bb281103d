// Overload: real HTTP/1.1 traffic into a 64 KiB ring while JavaScript is
// held busy on every event. The kernel drops events (counted); whatever is
// still reported must be exact (every response paired with its own request,
// nothing twice), and once the load drops the same pipeline reports every
// exchange again, with no further drop.
import assert from 'node:assert/strict';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { Capture } from '../../src/capture/capture';
import { ConnectionStages } from '../../src/pipeline';
import { WallClock } from '../../src/transactions/clock';
import type { HttpTransaction } from '../../src/transactions/transaction';
import { ROOT } from '../support/agent';
import { spawn } from '../support/children';
import { bpfSkip } from '../support/requirements';
import { poll, sleep } from '../support/wait';

const skip = bpfSkip();

/** Status the peers' server answers for request number n (test/fixtures/status-peers.py). */
const CODES = [200, 201, 202, 203, 206, 400, 401, 403, 404, 409, 418, 500, 502, 503];

describe('overload', { skip }, () => {
  it('a full ring loses events as counted drops, never pairs wrongly, and recovers when the load drops', async (t) => {
    const peers = spawn('python3', [path.join(ROOT, 'test', 'fixtures', 'status-peers.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: peers.stdout! })[Symbol.asyncIterator]();
    const ready = ((await lines.next()).value as string).split(' ');
    assert.equal(ready[0], 'ready');

    const txs: HttpTransaction[] = [];
    const tracker = new ConnectionStages({
      emit: (tx) => txs.push({ ...tx }),
      clock: new WallClock(() => 0n),
      listeners: { has: () => false },
      processes: { nameOf: (_pid, fallback) => fallback() },
      maxConnections: 1024,
      idleTimeoutMs: 60_000,
    });
    let busy = true;
    let delivered = 0;
    const capture = new Capture();
    capture.start(
      { captureBytes: 4096, syscallCapBytes: 16384, ringBytes: 64 * 1024, maxConnections: 1024, pids: [peers.pid!], ports: [], excludePorts: [] },
      {
        onData: (ev) => {
          delivered++;
          if (busy) {
            // 2 ms per event: 500 events a second, far below what the peers produce.
            const until = process.hrtime.bigint() + 2_000_000n;
            while (process.hrtime.bigint() < until);
          }
          tracker.onData(ev);
        },
        onClose: (ev) => tracker.onClose(ev),
        onTlsBind: (ev) => tracker.onTlsBind(ev),
      },
    );
    const settle = async () => {
      // Until the ring is drained: no event for half a second.
      let last = -1;
      while (capture.stats().events !== last) {
        last = capture.stats().events;
        await sleep(500);
      }
    };
    try {
      // Phase 1: 4 keep-alive connections x 750 requests, under load.
      const t0 = Date.now();
      peers.stdin!.write('run 4 750\n');
      assert.equal((await lines.next()).value, 'done 3000');
      const t1 = Date.now();
      await settle();
      t.diagnostic(`phase 1: traffic ${t1 - t0} ms, drained ${Date.now() - t1} ms`);
      const overloaded = capture.stats();
      const overloadTxs = txs.length;
      busy = false;
      t.diagnostic(`phase 1: ${overloadTxs} of 6000 transactions reported, ${overloaded.kernel.ringbufDrops} events dropped, ${tracker.stats.bytesLost} bytes lost`);

      assert.ok(overloaded.kernel.ringbufDrops > 0, 'the ring overflowed');
      assert.ok(tracker.stats.bytesLost > 0, 'the tracker saw the gaps');
      // Nothing lost in user space: every event taken from the ring reached the tracker.
      assert.equal(overloaded.decode.events, overloaded.events);
      assert.equal(overloaded.decode.malformed, 0);
      assert.ok(delivered > 0 && delivered <= overloaded.events);
      // Whatever was reported is exact: the status is the one the server chose for that path.
      const seen = new Set<string>();
      for (const tx of txs) {
        const [, , code, n] = tx.target.split('/');
        assert.equal(tx.status, Number(code), `${tx.role} ${tx.target} paired with ${tx.status}`);
        assert.equal(Number(code), CODES[Number(n) % CODES.length]);
        if (!tx.truncated) assert.equal(tx.responseBytes, Number(n) % 50, `${tx.role} ${tx.target}`);
        const key = `${tx.role} ${tx.target}`;
        assert.ok(!seen.has(key), `${key} reported twice`);
        seen.add(key);
      }
      assert.ok(overloadTxs < 6000, `some exchanges were lost with the events (${overloadTxs} of 6000 reported)`);

      // Phase 2: the load is gone; one fresh connection, 200 requests 2 ms
      // apart (a light load: unpaced, a pause of the consumer of a few ms on
      // a busy 2-core machine overflows the 64 KiB ring): every one on both sides.
      peers.stdin!.write('run 1 200 2\n');
      assert.equal((await lines.next()).value, 'done 200');
      await poll(() => txs.length >= overloadTxs + 400, 15_000);
      await settle();
      const after = txs.slice(overloadTxs);
      const expected: string[] = [];
      for (let j = 0; j < 200; j++) {
        const n = 2000 * 100000 + j;
        for (const role of ['client', 'server']) expected.push(`${role} /s/${CODES[n % CODES.length]}/${n} ${CODES[n % CODES.length]}`);
      }
      assert.equal(capture.stats().kernel.ringbufDrops, overloaded.kernel.ringbufDrops, 'no drop once the load is gone');
      assert.deepEqual(after.map((tx) => `${tx.role} ${tx.target} ${tx.status}`).sort(), expected.sort());
    } finally {
      peers.stdin!.end();
      await capture.stop();
      await new Promise((r) => (peers.exitCode === null ? peers.once('exit', r) : r(undefined)));
    }
  });
});

