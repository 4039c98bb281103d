import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GC_MIN_INTERVAL_MS } from '../../src/admin/collect-garbage';
import { boundPort, startAdminServer } from '../../src/admin/server';
import { httpGet, httpGetWithHeaders } from '../support/agent';
import { sleep } from '../support/wait';

describe('admin server', () => {
  it('/stats?gc collects garbage before reading memory, at most once a second', async () => {
    const server = await startAdminServer('127.0.0.1', 0, { ready: () => true, stats: () => ({ heapUsed: process.memoryUsage().heapUsed }) });
    try {
      const port = boundPort(server);
      // Garbage only a collection can take back: 64 MiB of short-lived objects.
      let junk: number[][] | undefined = Array.from({ length: 1024 }, () => new Array<number>(8192).fill(1.5));
      const before = (JSON.parse((await httpGet(port, '/stats')).body) as { heapUsed: number }).heapUsed;
      junk = undefined;
      const first = await httpGet(port, '/stats?gc');
      assert.equal(first.status, 200, first.body);
      const after = (JSON.parse(first.body) as { heapUsed: number }).heapUsed;
      assert.equal(junk, undefined);
      assert.ok(before - after > 48 * 1048576, `heapUsed ${before} before, ${after} after the collection`);
      const second = await httpGetWithHeaders(port, '/stats?gc');
      assert.deepEqual(
        { status: second.status, retryAfter: second.headers['retry-after'], body: second.body },
        { status: 429, retryAfter: '1', body: `a collection ran under ${GC_MIN_INTERVAL_MS} ms ago; retry in a second\n` },
      );
      assert.equal((await httpGet(port, '/stats')).status, 200, 'plain /stats is never throttled');
      await sleep(GC_MIN_INTERVAL_MS + 50);
      assert.equal((await httpGet(port, '/stats?gc')).status, 200);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
