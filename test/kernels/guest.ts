// Runs inside a test guest booted by test/kernels/run.sh: the agent on the
// guest's kernel, the HTTP/1 scenario (keep-alive and pipelining), one gRPC
// scenario with exact counts, HTTP/2 and HTTP/1 batched past the per-syscall cap, the
// kernel's loss counters, and the start-up report. Prints one line,
// SIDELIGHT-KERNEL-RESULT <json>, that the host reads off the serial console.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { KernelStats } from '../../src/capture/addon';
import type { StartupReport } from '../../src/capture/startup-report';
import { ROOT, expectedBuild, httpGet, startAgent, type RunningAgent } from '../support/agent';
import { loadCatalog, type Item, type Unary } from '../support/catalog';
import { sleep } from '../support/wait';

interface Result {
  kernel: string;
  ok: boolean;
  checks: Record<string, string>;
  startup?: StartupReport;
}

async function http1(agent: RunningAgent, port: number): Promise<void> {
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 10; i++) {
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: `/keep/${i}`, agent: keepAlive }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
  }
  keepAlive.destroy();
  // Five requests in one write: pipelining.
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write([0, 1, 2, 3, 4].map((i) => `GET /pipe/${i} HTTP/1.1\r\nHost: g\r\n\r\n`).join('')));
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      if ((got.match(/HTTP\/1\.1 200/g) ?? []).length === 5 && got.endsWith('/pipe/4\n')) s.end();
    });
    s.on('close', () => resolve());
    s.on('error', reject);
  });
  await agent.waitFor(30, (t) => t.path.startsWith('/keep/') || t.path.startsWith('/pipe/'), 120_000);
  await sleep(1000);
  const rows = agent.transactions().filter((t) => t.path.startsWith('/keep/') || t.path.startsWith('/pipe/')).map((t) => `${t.role} ${t.path} ${t.status}`).sort();
  const want = [...[...Array(10).keys()].map((i) => `/keep/${i}`), ...[...Array(5).keys()].map((i) => `/pipe/${i}`)].flatMap((p) => [`client ${p} 200`, `server ${p} 200`]).sort();
  assert.deepEqual(rows, want);
}

async function grpcCalls(agent: RunningAgent): Promise<void> {
  const Catalog = loadCatalog();
  const server = new grpc.Server();
  server.addService(Catalog.service, {
    Get(call: grpc.ServerUnaryCall<Item, Item>, cb: grpc.sendUnaryData<Item>) {
      if (call.request.name === 'missing') cb({ code: grpc.status.NOT_FOUND, details: 'no such item' });
      else cb(null, { name: call.request.name, n: call.request.n + 1 });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new Catalog(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Get: Unary };
  try {
    for (const name of ['a', 'b', 'missing']) {
      await new Promise<void>((resolve) => client.Get({ name, n: 1 }, new grpc.Metadata(), () => resolve()));
    }
    await agent.waitFor(6, (t) => t.path === '/shop.Catalog/Get', 120_000);
    await sleep(1000);
    const rows = agent
      .transactions()
      .filter((t) => t.path === '/shop.Catalog/Get')
      .map((t) => `${t.role} ${t.rpcService}/${t.rpcMethod} ${t.grpcStatusCode}`)
      .sort();
    assert.deepEqual(rows, ['client shop.Catalog/Get 0', 'client shop.Catalog/Get 0', 'client shop.Catalog/Get 5', 'server shop.Catalog/Get 0', 'server shop.Catalog/Get 0', 'server shop.Catalog/Get 5']);
  } finally {
    client.close();
    server.forceShutdown();
  }
}

/**
 * A server answering many streams in one writev, far past the per-syscall
 * cap: every stream on both ends, since the kernel ships the frame heads
 * past the cap (kernels with bpf_loop, 5.17 and later).
 */
async function h2Batch(agent: RunningAgent): Promise<void> {
  const body = Buffer.alloc(2048, 'x');
  const server = http2.createServer((_req, res) => res.end(body));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
  try {
    await Promise.all(
      [...Array(50).keys()].map(
        (i) =>
          new Promise<void>((resolve, reject) => {
            const r = session.request({ ':path': `/batch/${i}` });
            r.on('error', reject).on('end', resolve).resume();
            r.end();
          }),
      ),
    );
  } finally {
    session.close();
    server.close();
  }
  await agent.waitFor(100, (t) => t.path.startsWith('/batch/'), 120_000);
  await sleep(1000);
  const rows = agent.transactions().filter((t) => t.path.startsWith('/batch/')).map((t) => `${t.role} ${t.path} ${t.status} ${t.responseBytes}`).sort();
  assert.deepEqual(rows, [...Array(50).keys()].flatMap((i) => [`client /batch/${i} 200 2048`, `server /batch/${i} 200 2048`]).sort());
}

/**
 * A server writing six pipelined responses in one write (130 KB, eight
 * times the per-syscall cap), one of them chunked: every exchange on both
 * ends, since the kernel reads the HTTP/1 heads past the cap (bpf_loop).
 */
async function h1Batch(agent: RunningAgent): Promise<void> {
  const sizes = [20000, 30000, 20000, 25000, 40000, 17]; // [2] is chunked
  const chunk = Buffer.alloc(20000, 'c');
  const reply = Buffer.concat(
    sizes.map((n, i) =>
      i === 2
        ? Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4e20\r\n'), chunk, Buffer.from('\r\n0\r\n\r\n')])
        : Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${n}\r\n\r\n`), Buffer.alloc(n, 'b')]),
    ),
  );
  const server = net.createServer((s) => {
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.split('\r\n\r\n').length > sizes.length) s.write(reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await new Promise<void>((resolve, reject) => {
      const s = net.connect((server.address() as { port: number }).port, '127.0.0.1', () =>
        s.write(sizes.map((_, i) => `GET /h1batch/${i} HTTP/1.1\r\nHost: g\r\n\r\n`).join('')),
      );
      let n = 0;
      s.on('data', (d) => {
        n += d.length;
        if (n === reply.length) s.end();
      });
      s.on('close', () => resolve());
      s.on('error', reject);
    });
  } finally {
    server.close();
  }
  await agent.waitFor(12, (t) => t.path.startsWith('/h1batch/'), 120_000);
  await sleep(1000);
  const rows = agent.transactions().filter((t) => t.path.startsWith('/h1batch/')).map((t) => `${t.role} ${t.path} ${t.status} ${t.responseBytes} ${t.truncated ?? false}`).sort();
  assert.deepEqual(rows, sizes.flatMap((n, i) => [`client /h1batch/${i} 200 ${n} false`, `server /h1batch/${i} 200 ${n} false`]).sort());
}

/** Kernels with bpf_loop (5.17): the HTTP/2 frame walk past the cap runs there. */
function hasBpfLoop(release = os.release()): boolean {
  const [major, minor] = release.split('.').map(Number);
  return major! > 5 || (major === 5 && minor! >= 17);
}

/** Nothing lost in the kernel, and every syscall's arguments found (probed off the kernel stack before 5.15). */
async function kernelCounters(agent: RunningAgent): Promise<void> {
  const { capture } = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { capture: { kernel: KernelStats } };
  assert.deepEqual({ ringbufDrops: capture.kernel.ringbufDrops, syscallArgsUnread: capture.kernel.syscallArgsUnread, readFaults: capture.kernel.readFaults }, { ringbufDrops: 0, syscallArgsUnread: 0, readFaults: 0 });
}

/**
 * Before 5.11 eBPF maps count against RLIMIT_MEMLOCK: without CAP_SYS_RESOURCE
 * and under a hard limit the agent must refuse in one line, not fail a load.
 */
function memlockRefusal(): void {
  const r = spawnSync(
    'prlimit',
    ['--memlock=8388608:8388608', 'setpriv', '--bounding-set', '-sys_resource', process.execPath, 'bin/sidelight.js', 'run', '--output', 'none', '--duration', '1', '--admin-port', '0'],
    { encoding: 'utf8', cwd: ROOT, timeout: 300_000 },
  );
  assert.deepEqual(
    { status: r.status, stderr: r.stderr },
    {
      status: 2,
      stderr: `sidelight: kernel ${os.release()} charges eBPF maps to the locked-memory limit (before 5.11), capped here at 8192 KiB: grant CAP_SYS_RESOURCE, or raise it (ulimit -l unlimited, LimitMEMLOCK=infinity)\n`,
    },
  );
}

async function main(): Promise<Result> {
  const result: Result = { kernel: os.release(), ok: false, checks: {} };
  const srv = http.createServer((req, res) => {
    const body = `${req.url}\n`;
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  // Under emulation the verifier and Node start slowly.
  const agent = await startAgent(['--pid', String(process.pid)], 600_000);
  try {
    result.startup = (JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { startup: StartupReport }).startup;
    result.checks.build = result.startup.build === expectedBuild() ? 'ok' : `build ${result.startup.build}, expected ${expectedBuild()}`;
    for (const [name, check] of [
      ['http1', () => http1(agent, port)],
      ['grpc', () => grpcCalls(agent)],
      ...(hasBpfLoop() ? ([['h2batch', () => h2Batch(agent)], ['h1batch', () => h1Batch(agent)]] as const) : []),
      ['counters', () => kernelCounters(agent)],
      ...(/^5\.10\./.test(os.release()) ? ([['memlock', memlockRefusal]] as const) : []),
    ] as const) {
      try {
        await check();
        result.checks[name] = 'ok';
      } catch (err) {
        result.checks[name] = (err as Error).message.split('\n').slice(0, 12).join(' | ');
      }
    }
  } finally {
    await agent.stop();
    srv.close();
  }
  result.checks.exit = (await agent.exited) === 0 ? 'ok' : `agent exited ${String(await agent.exited)}: ${agent.stderr.slice(-500)}`;
  result.ok = Object.values(result.checks).every((v) => v === 'ok') && (result.startup?.failed.length ?? 1) === 0;
  return result;
}

// Exits once the line is out: a failed start may leave servers listening.
main()
  .then((r) => console.log(`SIDELIGHT-KERNEL-RESULT ${JSON.stringify(r)}`))
  .catch((err: Error) => console.log(`SIDELIGHT-KERNEL-RESULT ${JSON.stringify({ kernel: os.release(), ok: false, checks: { start: err.message.slice(0, 2000) } })}`))
  .finally(() => process.exit(0));
