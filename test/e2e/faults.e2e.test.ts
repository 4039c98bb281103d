// test-file-bound: 600
// Faults around the agent, with the real agent process and real eBPF: a
// collector that refuses, one that is slow, SIGTERM under load (flushed
// within the deadline, programs detached, exit 0), SIGKILL (nothing left in
// the kernel), a restart in the middle of keep-alive connections, and a host
// without BTF or tracefs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { describe, it } from 'node:test';
import { BIN, freePort, httpGet, kernelObjectsAfterExit, startAgent, type RunningAgent } from '../support/agent';
import { OtlpReceiver } from '../support/otlp-receiver';
import { PrometheusServer } from '../support/prometheus';
import { bpfSkip } from '../support/requirements';
import { sleep, waitUntil } from '../support/wait';

const skip = bpfSkip();

interface SpanStats {
  exported: number;
  droppedQueueFull: number;
  queued: number;
  inFlight: number;
  exportErrors: number;
}

async function spanStats(agent: RunningAgent): Promise<SpanStats> {
  return (JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { spans: SpanStats }).spans;
}

async function server(): Promise<{ srv: http.Server; port: number }> {
  const srv = http.createServer((req, res) => {
    const body = `${req.url}\n`;
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { srv, port: (srv.address() as { port: number }).port };
}

const exportEnv = (receiver: OtlpReceiver, protocol: 'grpc' | 'http/protobuf', extra: Record<string, string> = {}) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
  OTEL_BSP_SCHEDULE_DELAY: '100',
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '50',
  OTEL_BSP_MAX_QUEUE_SIZE: '4096',
  ...extra,
});

function stoppedLog(agent: RunningAgent): { transactions: number; spansExported: number; spansDropped: number; spansInFlight: number } {
  const lines = agent.stderr.trim().split('\n').filter((l) => l.startsWith('{'));
  const stopped = lines.map((l) => JSON.parse(l) as { msg: string }).find((l) => l.msg === 'stopped');
  assert.ok(stopped, `a stopped line in ${agent.stderr}`);
  return stopped as unknown as { transactions: number; spansExported: number; spansDropped: number; spansInFlight: number };
}

describe('faults', { skip }, () => {
  it('a collector answering 503: export errors counted, spans kept and delivered once it answers again', async () => {
    const receiver = await OtlpReceiver.start({ transport: 'http' });
    receiver.faults.refuse = true;
    const { srv, port } = await server();
    const agent = await startAgent(['--port', String(port), '--pid', String(process.pid)], 30_000, exportEnv(receiver, 'http/protobuf'));
    try {
      for (let i = 0; i < 20; i++) await httpGet(port, `/refused/${i}`);
      await waitUntil('two refused exports', async () => receiver.refused >= 2 && (await spanStats(agent)).exportErrors >= 2, 20_000);
      const during = await spanStats(agent);
      assert.equal(during.exported, 0);
      const metrics = (await httpGet(agent.adminPort, '/metrics')).body;
      const errors = Number(/^sidelight_export_errors_total\{signal="traces"\} (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(errors >= 2 && errors <= receiver.refused, `${errors} errors counted, ${receiver.refused} refusals`);
      receiver.faults.refuse = false;
      await waitUntil('every span delivered', async () => (await spanStats(agent)).exported === 40, 60_000);
      const end = await spanStats(agent);
      assert.deepEqual([end.droppedQueueFull, end.queued, end.inFlight], [0, 0, 0]);
      assert.equal(receiver.spans.length, 40, 'refused exports recorded nothing, so nothing twice');
      // Kind 2 is SERVER, 3 CLIENT: both ends of every request.
      const got = receiver.spans.map((s) => `${s.kind} ${String(s.attributes['url.path'])}`).sort();
      const want = [...Array(20).keys()].flatMap((i) => [`2 /refused/${i}`, `3 /refused/${i}`]).sort();
      assert.deepEqual(got, want);
    } finally {
      await agent.stop();
      await receiver.stop();
      srv.close();
    }
    assert.equal(await agent.exited, 0, agent.stderr);
  });

  it('a collector slower than the export timeout: capture never waits for it; every span arrives once it is fast again', async () => {
    const receiver = await OtlpReceiver.start({ transport: 'grpc' });
    receiver.faults.delayMs = 2500;
    const { srv, port } = await server();
    const agent = await startAgent(['--port', String(port), '--pid', String(process.pid)], 30_000, exportEnv(receiver, 'grpc', { OTEL_EXPORTER_OTLP_TIMEOUT: '500' }));
    try {
      const t0 = Date.now();
      for (let i = 0; i < 30; i++) await httpGet(port, `/slow/${i}`);
      await agent.waitFor(60, (tx) => tx.path.startsWith('/slow/'), 10_000);
      assert.equal(agent.transactions().length, 60, `all 60 transactions printed while exports time out (${Date.now() - t0} ms)`);
      await waitUntil('an export timed out', async () => (await spanStats(agent)).exportErrors >= 1, 20_000);
      receiver.faults.delayMs = 0;
      await waitUntil('every span delivered', async () => {
        const s = await spanStats(agent);
        return s.exported === 60 && s.queued === 0 && s.inFlight === 0;
      }, 60_000);
      // OTLP is at least once: an export the agent gave up on may still have been recorded late.
      const ids = new Set(receiver.spans.map((s) => s.spanId));
      assert.equal(ids.size, 60);
      assert.equal((await spanStats(agent)).droppedQueueFull, 0);
    } finally {
      await agent.stop();
      await receiver.stop();
      srv.close();
    }
    assert.equal(await agent.exited, 0, agent.stderr);
  });

  it('SIGTERM under load: every span of every printed transaction flushed, programs detached, exit 0', async () => {
    const receiver = await OtlpReceiver.start({ transport: 'grpc' });
    const { srv, port } = await server();
    // Spans wait in the queue (a minute between exports): only the shutdown flush sends them.
    const agent = await startAgent(['--port', String(port), '--pid', String(process.pid)], 30_000, exportEnv(receiver, 'grpc', { OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512', OTEL_BSP_MAX_QUEUE_SIZE: '200000' }));
    let load = true;
    let sent = 0;
    const loader = (async () => {
      const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
      while (load) {
        await Promise.all([0, 1, 2, 3].map((k) => new Promise<void>((resolve) => {
          http.get({ host: '127.0.0.1', port, path: `/load/${sent++}/${k}`, agent: keepAlive }, (res) => res.resume().on('end', resolve)).on('error', () => resolve());
        })));
      }
      keepAlive.destroy();
    })();
    let code: number | null;
    let stopMs: number;
    try {
      await agent.waitFor(400, () => true, 20_000);
      const t0 = Date.now();
      agent.child.kill('SIGTERM');
      code = await agent.exited;
      stopMs = Date.now() - t0;
    } finally {
      load = false;
      await loader;
      srv.close();
    }
    await receiver.stop();
    assert.equal(code, 0, agent.stderr);
    assert.ok(stopMs < 5000 + 2000, `stopped in ${stopMs} ms (flush deadline 5 s)`);
    const printed = agent.transactions();
    const final = stoppedLog(agent);
    assert.equal(final.transactions, printed.length);
    assert.deepEqual([final.spansExported, final.spansDropped, final.spansInFlight], [printed.length, 0, 0]);
    assert.deepEqual(new Set(receiver.spans.map((s) => s.spanId)), new Set(printed.map((t) => t.spanId)));
    assert.equal(receiver.spans.length, printed.length);
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
  });

  it('Prometheus scraping every 500 ms under load: no failed or slow scrape, exact counts once the load stops', async () => {
    const { srv, port } = await server();
    const agent = await startAgent(['--port', String(port), '--pid', String(process.pid)]);
    const prom = await PrometheusServer.start({ targets: [`127.0.0.1:${agent.adminPort}`], scrapeIntervalMs: 500 });
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      await prom.waitForScrapes(1, 20_000);
      const t0 = Date.now();
      let n = 0;
      while (Date.now() - t0 < 8000) {
        await Promise.all([0, 1, 2, 3].map(() => new Promise<void>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, path: `/load/${n++ % 50}`, agent: keepAlive }, (res) => res.resume().on('end', resolve)).on('error', reject);
        })));
      }
      await agent.waitFor(2 * n, () => true, 30_000);
      await sleep(300);
      await prom.waitForScrapes(2, 20_000);
      const window = `${Math.ceil((Date.now() - t0) / 1000) + 1}s`;
      const [scrapes] = await prom.query(`count_over_time(up[${window}])`);
      const [worst] = await prom.query(`min_over_time(up[${window}])`);
      const [slowest] = await prom.query(`max_over_time(scrape_duration_seconds[${window}])`);
      assert.ok(scrapes.value >= 16, `${scrapes.value} scrapes`);
      assert.equal(worst.value, 1, 'every scrape succeeded');
      assert.ok(slowest.value < 0.25, `slowest scrape ${slowest.value} s`);
      const printed = agent.transactions();
      assert.equal(printed.length, 2 * n);
      const [server] = await prom.query('sum(http_server_request_duration_seconds_count)');
      const [client] = await prom.query('sum(http_client_request_duration_seconds_count)');
      const [total] = await prom.query('sidelight_transactions_total');
      assert.deepEqual([server.value, client.value, total.value], [n, n, 2 * n]);
    } finally {
      keepAlive.destroy();
      await prom.stop();
      await agent.stop();
      srv.close();
    }
    assert.equal(await agent.exited, 0, agent.stderr);
  });

  it('SIGTERM with a collector that never answers: exit 0 at the 5 s deadline, every span accounted for', async () => {
    const receiver = await OtlpReceiver.start({ transport: 'grpc' });
    receiver.faults.delayMs = 60_000;
    const { srv, port } = await server();
    const agent = await startAgent(['--port', String(port), '--pid', String(process.pid)], 30_000, exportEnv(receiver, 'grpc', { OTEL_EXPORTER_OTLP_TIMEOUT: '30000', SIDELIGHT_LOG_LEVEL: 'debug' }));
    try {
      for (let i = 0; i < 10; i++) await httpGet(port, `/hung/${i}`);
      await agent.waitFor(20, () => true);
      await waitUntil('an export under way', async () => (await spanStats(agent)).inFlight > 0, 10_000);
      const t0 = Date.now();
      agent.child.kill('SIGTERM');
      const code = await agent.exited;
      const stopMs = Date.now() - t0;
      assert.equal(code, 0, agent.stderr);
      // Detaching (one RCU grace period per link, in parallel) comes first, then the 5 s flush deadline.
      const steps = agent.stderr.split('\n').filter((l) => l.includes('"shutdown steps"')).map((l) => JSON.parse(l) as { detachMs: number; flushMs: number });
      assert.equal(steps.length, 1);
      assert.ok(steps[0].flushMs >= 4900 && steps[0].flushMs <= 5200, `flush took ${steps[0].flushMs} ms`);
      assert.ok(stopMs < steps[0].detachMs + 5000 + 1000, `stopped in ${stopMs} ms (${JSON.stringify(steps[0])})`);
      const final = stoppedLog(agent);
      assert.equal(final.spansExported, 0);
      assert.equal(final.spansExported + final.spansDropped + final.spansInFlight, 20);
      assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
    } finally {
      agent.child.kill('SIGKILL');
      srv.close();
      await receiver.stop();
    }
  });

  it('SIGKILL leaves nothing in the kernel: no program, no link, nothing pinned, no uprobe event', async () => {
    const pinnedBefore = readdirSync('/sys/fs/bpf');
    const uprobesBefore = readFileSync('/sys/kernel/tracing/uprobe_events', 'utf8');
    const agent = await startAgent(['--port', String(await freePort())]);
    const tls = (JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { tls: { attached: number } }).tls;
    assert.ok(tls.attached >= 1, 'TLS uprobes attached');
    agent.child.kill('SIGKILL');
    assert.equal(await agent.exited, null);
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
    assert.deepEqual(readdirSync('/sys/fs/bpf'), pinnedBefore);
    assert.equal(readFileSync('/sys/kernel/tracing/uprobe_events', 'utf8'), uprobesBefore);
  });

  it('an agent restarted in the middle of keep-alive connections reports their later requests exactly', async () => {
    const { srv, port } = await server();
    // Idle connections must outlive a slow start of the second agent (Node closes them after 5 s by default).
    srv.keepAliveTimeout = 120_000;
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
    const get = (p: string) => new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: p, agent: keepAlive }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    try {
      const first = await startAgent(['--port', String(port), '--pid', String(process.pid)]);
      await Promise.all([get('/before/0'), get('/before/1')]);
      await first.waitFor(4, () => true);
      first.child.kill('SIGKILL');
      await first.exited;
      const clientPorts = new Set(first.transactions().filter((t) => t.role === 'client').map((t) => t.localPort));
      assert.equal(clientPorts.size, 2);
      await kernelObjectsAfterExit();

      const second = await startAgent(['--port', String(port), '--pid', String(process.pid)]);
      try {
        for (let i = 0; i < 5; i++) await Promise.all([get(`/after/${i}/a`), get(`/after/${i}/b`)]);
        await second.waitFor(20, () => true);
        await sleep(300);
      } finally {
        await second.stop();
      }
      const txs = second.transactions();
      assert.deepEqual(
        txs.map((t) => `${t.role} ${t.path} ${t.status}`).sort(),
        [...Array(5).keys()].flatMap((i) => ['a', 'b'].flatMap((x) => [`client /after/${i}/${x} 200`, `server /after/${i}/${x} 200`])).sort(),
      );
      // The same two connections, opened before this agent started.
      assert.deepEqual(new Set(txs.filter((t) => t.role === 'client').map((t) => t.localPort)), clientPorts);
      for (const t of txs) assert.equal(t.responseBytes, t.path.length + 1);
    } finally {
      keepAlive.destroy();
      srv.close();
    }
  });
});

describe('a host without BTF or tracefs', () => {
  /** Runs the agent in a private mount namespace after `prep` (shell) has hidden something. */
  function inNamespace(prep: string, setpriv: string[] = []): { status: number | null; stderr: string } {
    const cmd = `${prep} && exec ${setpriv.length ? `setpriv ${setpriv.join(' ')} ` : ''}"${process.execPath}" "${BIN}" run --output none --admin-port 0 --duration 2`;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', cmd], { encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stderr: r.stderr };
  }

  it('no /sys/kernel/btf/vmlinux: one line naming the problem and the fix, exit 2', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
    const r = inNamespace('mount -t tmpfs none /sys/kernel/btf');
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'sidelight: no kernel BTF at /sys/kernel/btf/vmlinux: use a kernel built with CONFIG_DEBUG_INFO_BTF=y\n');
  });

  it('tracefs not mounted and no right to mount it: one line naming the problem and the fix, exit 2', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
    const r = inNamespace('mount -t tmpfs none /sys/kernel/tracing && mount -t tmpfs none /sys/kernel/debug', ['--bounding-set', '-sys_admin']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'sidelight: tracefs is not mounted and could not be mounted: run mount -t tracefs tracefs /sys/kernel/tracing (or mount /sys/kernel/tracing into the container)\n');
  });

  it('tracefs not mounted but mountable: the agent mounts it, says so and runs', { skip }, () => {
    const r = inNamespace('mount -t tmpfs none /sys/kernel/tracing && mount -t tmpfs none /sys/kernel/debug');
    assert.equal(r.status, 0, r.stderr);
    const msgs = r.stderr.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.ok(msgs.includes('mounted tracefs at /sys/kernel/tracing'), msgs.join(' | '));
    assert.ok(msgs.includes('capturing'));
  });
});
