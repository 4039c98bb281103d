// End to end: the real agent (real eBPF) watching real HTTP/2 and gRPC
// peers on loopback — @grpc/grpc-js server and client (every call shape, an
// error status, a channel opened before the agent), a Node http2 server
// with curl --http2-prior-knowledge, and nghttp2's h2load with many
// concurrent streams. Exact counts, statuses and gRPC codes on both ends.
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { JsonTransaction } from '../../src/export/console';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, httpGet, ROOT, startAgent, type RunningAgent } from '../support/agent';
import { spawn } from '../support/children';
import { loadCatalog, type Item, type Unary } from '../support/catalog';
import { OtlpReceiver } from '../support/otlp-receiver';
import { bpfSkip } from '../support/requirements';
import { sleep } from '../support/wait';

const run = promisify(execFile);
const SETTLE_MS = 400;
const TWO_KIB = Buffer.alloc(2048, 'x');

const skip = bpfSkip();

interface CatalogClient extends grpc.Client {
  Get: Unary;
  Watch(req: Item): grpc.ClientReadableStream<Item>;
  Upload(cb: (err: grpc.ServiceError | null, res?: Item) => void): grpc.ClientWritableStream<Item>;
  Chat(): grpc.ClientDuplexStream<Item, Item>;
}

/** Server: Get answers NOT_FOUND for names starting "missing"; Watch streams req.n messages 2 ms apart. */
function catalogServer(Catalog: grpc.ServiceClientConstructor, streamed: { startNs: bigint; endNs: bigint }[]): grpc.Server {
  const server = new grpc.Server();
  server.addService(Catalog.service, {
    Get(call: grpc.ServerUnaryCall<Item, Item>, cb: grpc.sendUnaryData<Item>) {
      if (call.request.name.startsWith('missing')) cb({ code: grpc.status.NOT_FOUND, details: `no ${call.request.name}` });
      else cb(null, { name: `item ${call.request.name}`, n: call.request.n + 1 });
    },
    Watch(call: grpc.ServerWritableStream<Item, Item>) {
      const t0 = process.hrtime.bigint();
      let i = 0;
      const tick = () => {
        if (i === call.request.n) {
          call.end();
          streamed.push({ startNs: t0, endNs: process.hrtime.bigint() });
          return;
        }
        call.write({ name: 'tick', n: i++ });
        setTimeout(tick, 2);
      };
      tick();
    },
    Upload(call: grpc.ServerReadableStream<Item, Item>, cb: grpc.sendUnaryData<Item>) {
      let n = 0;
      call.on('data', () => n++);
      call.on('end', () => cb(null, { name: 'uploaded', n }));
    },
    Chat(call: grpc.ServerDuplexStream<Item, Item>) {
      call.on('data', (m: Item) => call.write({ name: `echo ${m.name}`, n: m.n }));
      call.on('end', () => call.end());
    },
  });
  return server;
}

function unary(client: CatalogClient, name: string, md = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res?: Item }> {
  return new Promise((resolve) => client.Get({ name, n: 1 }, md, (err, res) => resolve({ err, res })));
}

function h2get(session: http2.ClientHttp2Session, p: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = session.request({ ':path': p });
    r.on('error', reject).on('end', resolve).resume();
    r.end();
  });
}

// Debian's python owns python3-grpcio; python3 on PATH may be another build.
const BULK = path.join(ROOT, 'test', 'fixtures', 'grpc-bulk.py');

const server = (port: number) => (tx: JsonTransaction) => tx.role === 'server' && tx.localPort === port;
const client = (port: number) => (tx: JsonTransaction) => tx.role === 'client' && tx.peerPort === port;

describe('HTTP/2 and gRPC end to end with real eBPF', { skip }, () => {
  const ports = { grpc: 0, pre: 0, h2: 0, front: 0, bulk: 0, corePre: 0 };
  const streamed: { startNs: bigint; endNs: bigint }[] = [];
  const grpcServers: grpc.Server[] = [];
  let h2server: http2.Http2Server;
  let preH2: http2.ClientHttp2Session;
  let Catalog: grpc.ServiceClientConstructor;
  let preClient: CatalogClient;
  let backendClient: CatalogClient;
  let agent: RunningAgent;
  let receiver: OtlpReceiver;
  let coreServer: ChildProcess | undefined;
  let coreSteps: { child: ChildProcess; lines: AsyncIterator<string> } | undefined;
  const seen = new Map<number, number>(); // port -> transactions taken so far

  async function tracker(): Promise<{ bytesLost: number; bytesUncaptured: number; http2: { frames: { desyncs: number } }; kernel: { h2FramingLost: number; headsUnshipped: number } }> {
    const stats = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as {
      capture: { kernel: { h2FramingLost: number; headsUnshipped: number } };
      tracker: { bytesLost: number; bytesUncaptured: number; http2: { frames: { desyncs: number } } };
    };
    return { ...stats.tracker, kernel: stats.capture.kernel };
  }

  /** Waits for `count` more transactions touching `port`, then returns them. */
  async function settled(port: number, count: number): Promise<JsonTransaction[]> {
    const match = (tx: JsonTransaction) => tx.localPort === port || tx.peerPort === port;
    const before = seen.get(port) ?? 0;
    seen.set(port, before + count);
    await agent.waitFor(before + count, match, 30_000);
    await sleep(SETTLE_MS);
    return agent.transactions().filter(match).slice(before);
  }

  before(async () => {
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
    Catalog = loadCatalog();
    for (const port of [ports.grpc, ports.pre]) {
      const s = catalogServer(Catalog, streamed);
      await new Promise<void>((resolve, reject) =>
        s.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
      );
      grpcServers.push(s);
    }
    // A channel that is busy before the agent starts: its HPACK tables fill
    // with entries the agent never sees.
    preClient = new Catalog(`127.0.0.1:${ports.pre}`, grpc.credentials.createInsecure()) as unknown as CatalogClient;
    for (let i = 0; i < 5; i++) assert.equal((await unary(preClient, `before-${i}`)).err, null);

    // A front service whose Get calls the catalog's Get: gRPC A -> B.
    const backend = new Catalog(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure()) as unknown as CatalogClient;
    const front = new grpc.Server();
    front.addService(Catalog.service, {
      Get(call: grpc.ServerUnaryCall<Item, Item>, cb: grpc.sendUnaryData<Item>) {
        backend.Get({ name: `via front ${call.request.name}`, n: 0 }, new grpc.Metadata(), (err, res) => cb(err, res));
      },
    });
    await new Promise<void>((resolve, reject) =>
      front.bindAsync(`127.0.0.1:${ports.front}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    grpcServers.push(front);
    backendClient = backend;

    h2server = http2.createServer();
    h2server.on('stream', (stream, headers) => {
      const p = String(headers[':path']);
      if (p === '/missing') {
        stream.respond({ ':status': 404 });
        stream.end('not here');
      } else if (p === '/2k') {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' });
        stream.end(TWO_KIB);
      } else {
        const body = `hello ${p}`;
        stream.respond({ ':status': 200, 'content-type': 'text/plain' });
        stream.end(body);
      }
    });
    await new Promise<void>((resolve) => h2server.listen(ports.h2, '127.0.0.1', resolve));

    // A plain HTTP/2 connection busy before the agent starts (its frames are
    // found mid-stream).
    preH2 = http2.connect(`http://127.0.0.1:${ports.h2}`);
    for (let i = 0; i < 3; i++) await h2get(preH2, `/warm/${i}`);

    // A gRPC C-core channel busy before the agent starts: its encoder
    // indexed :path and the server's indexed grpc-status, so later calls
    // refer to table entries the agent never saw.
    coreServer = spawn('/usr/bin/python3', [BULK, 'serve', String(ports.corePre)], { stdio: ['ignore', 'pipe', 'inherit'] });
    assert.equal((await createInterface({ input: coreServer.stdout! })[Symbol.asyncIterator]().next()).value, 'ready');
    const stepper = spawn('/usr/bin/python3', [BULK, 'steps', String(ports.corePre)], { stdio: ['pipe', 'pipe', 'inherit'] });
    coreSteps = { child: stepper, lines: createInterface({ input: stepper.stdout! })[Symbol.asyncIterator]() };
    assert.equal((await coreSteps.lines.next()).value, 'ready');
    await coreCalls(5);

    receiver = await OtlpReceiver.start({ transport: 'http' });
    agent = await startAgent([
      ...Object.values(ports).flatMap((p) => ['--port', String(p)]),
      '--otlp-traces-endpoint', `${receiver.endpoint}/v1/traces`, '--otlp-protocol', 'http/protobuf', '--span-delay', '200',
    ]);
  });

  /** K unary calls on the C-core channel opened before the agent. */
  async function coreCalls(k: number): Promise<void> {
    coreSteps!.child.stdin!.write(`${k}\n`);
    assert.equal((await coreSteps!.lines.next()).value, `did ${k}`);
  }

  after(async () => {
    coreSteps?.child.stdin!.end('\n');
    coreSteps?.child.kill();
    coreServer?.kill();
    preClient?.close();
    preH2?.close();
    backendClient?.close();
    for (const s of grpcServers) s.forceShutdown();
    h2server?.close();
    if (agent) {
      const { code } = await agent.stop();
      assert.equal(code, 0);
    }
    await receiver?.stop();
  });

  it('gRPC unary: 20 OK and 3 NOT_FOUND, on both ends, with service, method and status', async () => {
    const c = new Catalog(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure()) as unknown as CatalogClient;
    for (let i = 0; i < 20; i++) assert.equal((await unary(c, `ok-${i}`)).err, null);
    for (let i = 0; i < 3; i++) assert.equal((await unary(c, `missing-${i}`)).err?.code, grpc.status.NOT_FOUND);
    c.close();
    const txs = await settled(ports.grpc, 46);
    for (const side of [server(ports.grpc), client(ports.grpc)]) {
      const list = txs.filter(side);
      assert.equal(list.length, 23);
      assert.deepEqual(
        list.map((tx) => [tx.protocol, tx.method, tx.path, tx.status, tx.rpcSystem, tx.rpcService, tx.rpcMethod, tx.grpcStatusCode, tx.requestMessages, tx.responseMessages]),
        [
          ...Array.from({ length: 20 }, () => ['HTTP/2', 'POST', '/shop.Catalog/Get', 200, 'grpc', 'shop.Catalog', 'Get', 0, 1, 1]),
          ...Array.from({ length: 3 }, () => ['HTTP/2', 'POST', '/shop.Catalog/Get', 200, 'grpc', 'shop.Catalog', 'Get', 5, 1, 0]),
        ],
      );
      for (const tx of list) assert.equal(tx.unknownFields, undefined);
    }
  });

  it('gRPC spans over OTLP: named service/method, RPC attributes, status by the RPC conventions; RPC metrics on /metrics', async () => {
    const before = receiver.spans.length;
    const c = new Catalog(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure()) as unknown as CatalogClient;
    assert.equal((await unary(c, 'otlp')).err, null);
    assert.equal((await unary(c, 'missing-otlp')).err?.code, grpc.status.NOT_FOUND);
    c.close();
    const txs = await settled(ports.grpc, 4);
    const spans = (await receiver.waitForSpans(before + 4, 20_000)).slice(before);
    assert.equal(spans.length, 4);
    const byId = new Map(spans.map((sp) => [sp.spanId, sp]));
    for (const tx of txs) {
      const sp = byId.get(tx.spanId);
      assert.ok(sp, `span of ${tx.role} ${tx.grpcStatusCode}`);
      const server = tx.role === 'server';
      assert.equal(sp.name, 'shop.Catalog/Get');
      assert.equal(sp.kind, server ? 2 : 3);
      assert.deepEqual(sp.attributes, {
        'rpc.system': 'grpc',
        'rpc.service': 'shop.Catalog',
        'rpc.method': 'Get',
        'rpc.grpc.status_code': tx.grpcStatusCode,
        'sidelight.rpc.request_messages': 1,
        'sidelight.rpc.response_messages': tx.grpcStatusCode === 0 ? 1 : 0,
        'server.address': '127.0.0.1',
        'server.port': ports.grpc,
        ...(server ? { 'client.address': '127.0.0.1' } : {}),
        'network.peer.address': '127.0.0.1',
        'network.peer.port': server ? tx.peerPort : ports.grpc,
        'network.protocol.version': '2',
        'http.request.body.size': tx.requestBytes,
        'http.response.body.size': tx.responseBytes,
        'user_agent.original': sp.attributes['user_agent.original'],
      });
      assert.match(String(sp.attributes['user_agent.original']), /^grpc-node-js\//);
      // NOT_FOUND is not a server error by the RPC conventions; it is one for the client.
      assert.equal(sp.status.code, tx.grpcStatusCode === 5 && !server ? 2 : 0, `${tx.role} ${tx.grpcStatusCode}`);
    }
    const metrics = (await httpGet(agent.adminPort, '/metrics')).body;
    const count = (side: string, code: number) =>
      metrics.split('\n').find((l) => l.startsWith(`rpc_${side}_call_duration_seconds_count{`) && l.includes('rpc_method="Get"') && l.includes(`rpc_grpc_status_code="${code}"`));
    assert.match(count('server', 5) ?? '', / 4$/, 'three NOT_FOUND calls before, this one');
    assert.match(count('client', 5) ?? '', / 4$/);
  });

  it('gRPC server streaming of 100 messages ends at END_STREAM, not at the response headers', async () => {
    const c = new Catalog(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure()) as unknown as CatalogClient;
    const t0 = process.hrtime.bigint();
    let got = 0;
    const clientNs = await new Promise<number>((resolve, reject) => {
      const call = c.Watch({ name: 'all', n: 100 });
      call.on('data', () => got++);
      call.on('error', reject);
      call.on('status', () => resolve(Number(process.hrtime.bigint() - t0)));
    });
    c.close();
    assert.equal(got, 100);
    const serverStreamNs = Number(streamed[streamed.length - 1].endNs - streamed[streamed.length - 1].startNs);
    const txs = await settled(ports.grpc, 2);
    for (const side of [server(ports.grpc), client(ports.grpc)]) {
      const [tx] = txs.filter(side);
      assert.deepEqual([tx.rpcMethod, tx.grpcStatusCode, tx.requestMessages, tx.responseMessages], ['Watch', 0, 1, 100]);
      // The stream lasts as long as the server kept writing, and no longer than the client waited.
      assert.ok(tx.durationNs >= serverStreamNs, `${tx.role}: ${tx.durationNs} ns < server streaming ${serverStreamNs} ns`);
      assert.ok(tx.durationNs <= clientNs, `${tx.role}: ${tx.durationNs} ns > client-measured ${clientNs} ns`);
    }
  });

  it('gRPC client streaming and bidi streaming: message counts on both ends', async () => {
    const c = new Catalog(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure()) as unknown as CatalogClient;
    const uploaded = await new Promise<Item | undefined>((resolve, reject) => {
      const call = c.Upload((err, res) => (err ? reject(err) : resolve(res)));
      for (let i = 0; i < 30; i++) call.write({ name: 'part', n: i });
      call.end();
    });
    assert.equal(uploaded?.n, 30);
    const echoed = await new Promise<number>((resolve, reject) => {
      const call = c.Chat();
      let n = 0;
      call.on('data', () => {
        n++;
        if (n < 20) call.write({ name: `m${n}`, n });
        else call.end();
      });
      call.on('error', reject);
      call.on('status', () => resolve(n));
      call.write({ name: 'm0', n: 0 });
    });
    c.close();
    assert.equal(echoed, 20);
    const txs = await settled(ports.grpc, 4);
    for (const side of [server(ports.grpc), client(ports.grpc)]) {
      assert.deepEqual(
        txs.filter(side).map((tx) => [tx.rpcMethod, tx.grpcStatusCode, tx.requestMessages, tx.responseMessages]),
        [['Upload', 0, 30, 1], ['Chat', 0, 20, 20]],
      );
    }
  });

  it('a channel opened before the agent: every later call has its service and method', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await unary(preClient, `after-${i}`)).err, null);
    for (let i = 0; i < 2; i++) assert.equal((await unary(preClient, `missing-after-${i}`)).err?.code, grpc.status.NOT_FOUND);
    const txs = await settled(ports.pre, 24);
    for (const side of [server(ports.pre), client(ports.pre)]) {
      const list = txs.filter(side);
      // The channel's encoders indexed :authority, content-type and the
      // grpc-status name before the agent came: those are flagged unknown,
      // never guessed; :path is sent as a literal, so method and service are exact.
      assert.deepEqual(
        list.map((tx) => [tx.rpcSystem, tx.rpcService, tx.rpcMethod, tx.grpcStatusCode, tx.status, tx.host, tx.unknownFields, tx.requestMessages, tx.responseMessages]),
        [
          ...Array.from({ length: 10 }, () => ['grpc', 'shop.Catalog', 'Get', undefined, 200, undefined, ['authority', 'grpcStatus'], 1, 1]),
          ...Array.from({ length: 2 }, () => ['grpc', 'shop.Catalog', 'Get', undefined, 200, undefined, ['authority', 'grpcStatus'], 1, 0]),
        ],
      );
    }
  });

  it('a C-core channel opened before the agent: later calls are gRPC by their shape, the parts only the old tables knew flagged', async () => {
    await coreCalls(10);
    const txs = await settled(ports.corePre, 20);
    for (const side of [server(ports.corePre), client(ports.corePre)]) {
      assert.deepEqual(
        txs.filter(side).map((tx) => [tx.method, tx.path, tx.status, tx.rpcSystem, tx.rpcService, tx.rpcMethod, tx.grpcStatusCode, tx.unknownFields, tx.requestMessages, tx.responseMessages, tx.requestBytes]),
        Array.from({ length: 10 }, () => ['POST', '', 200, 'grpc', undefined, undefined, undefined, ['path', 'authority', 'grpcStatus'], 1, 1, 1029]),
      );
    }
  });

  it('traceparent in gRPC metadata: the server span joins that trace', async () => {
    const c = new Catalog(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure()) as unknown as CatalogClient;
    const md = new grpc.Metadata();
    md.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    assert.equal((await unary(c, 'traced', md)).err, null);
    c.close();
    const txs = await settled(ports.grpc, 2);
    const [s] = txs.filter(server(ports.grpc));
    const [cl] = txs.filter(client(ports.grpc));
    assert.equal(cl.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(cl.parentSpanId, '00f067aa0ba902b7');
    // The client span is on this node: the server span is its child.
    assert.equal(s.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(s.parentSpanId, cl.spanId);
  });

  it('gRPC A -> B, one call at a time: one trace per call, every parent exact (same thread, then both ends)', async () => {
    const c = new Catalog(`127.0.0.1:${ports.front}`, grpc.credentials.createInsecure()) as unknown as CatalogClient;
    for (let i = 0; i < 3; i++) assert.equal((await unary(c, `chain-${i}`)).err, null);
    c.close();
    const toFront = await settled(ports.front, 6);
    const toBack = await settled(ports.grpc, 6);
    for (let i = 0; i < 3; i++) {
      const [entry, frontSrv] = [toFront.filter(client(ports.front))[i], toFront.filter(server(ports.front))[i]];
      const [call, backSrv] = [toBack.filter(client(ports.grpc))[i], toBack.filter(server(ports.grpc))[i]];
      assert.deepEqual(
        [entry.parentSpanId, frontSrv.parentSpanId, call.parentSpanId, backSrv.parentSpanId],
        ['', entry.spanId, frontSrv.spanId, call.spanId],
        `call ${i}`,
      );
      assert.equal(new Set([entry.traceId, frontSrv.traceId, call.traceId, backSrv.traceId]).size, 1, `call ${i}: one trace`);
    }
    assert.equal(new Set(toFront.filter(client(ports.front)).map((tx) => tx.traceId)).size, 3);
  });

  it('Node http2 server with curl --http2-prior-knowledge: 5 requests', async () => {
    // One curl per request: Debian 12's curl 7.88 fails to reuse a prior-knowledge connection.
    for (const p of ['/a', '/b', '/missing', '/c?x=1', '/d']) {
      const { stdout } = await run('curl', ['-s', '--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `http://127.0.0.1:${ports.h2}${p}`]);
      assert.equal(stdout, `${p === '/missing' ? 404 : 200} 2`);
    }
    const txs = await settled(ports.h2, 10);
    for (const side of [server(ports.h2), client(ports.h2)]) {
      assert.deepEqual(
        txs.filter(side).map((tx) => [tx.protocol, tx.method, tx.path, tx.query, tx.status, tx.responseBytes, tx.host]),
        [
          ['HTTP/2', 'GET', '/a', undefined, 200, 8, `127.0.0.1:${ports.h2}`],
          ['HTTP/2', 'GET', '/b', undefined, 200, 8, `127.0.0.1:${ports.h2}`],
          ['HTTP/2', 'GET', '/missing', undefined, 404, 8, `127.0.0.1:${ports.h2}`],
          ['HTTP/2', 'GET', '/c', 'x=REDACTED', 200, 12, `127.0.0.1:${ports.h2}`],
          ['HTTP/2', 'GET', '/d', undefined, 200, 8, `127.0.0.1:${ports.h2}`],
        ],
      );
    }
    for (const tx of txs.filter(client(ports.h2))) assert.equal(tx.process, 'curl');
  });

  it('h2load: 2,000 requests over 4 connections, 25 concurrent streams each', async () => {
    const { stdout } = await run('h2load', ['-n', '2000', '-c', '4', '-m', '25', `http://127.0.0.1:${ports.h2}/load`], { timeout: 60_000 });
    assert.match(stdout, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/);
    const txs = await settled(ports.h2, 4000);
    for (const side of [server(ports.h2), client(ports.h2)]) {
      const list = txs.filter(side);
      assert.equal(list.length, 2000);
      assert.equal(list.filter((tx) => tx.path === '/load' && tx.status === 200 && tx.responseBytes === 11 && tx.method === 'GET').length, 2000);
      assert.equal(new Set(list.map((tx) => (tx.role === 'server' ? tx.peerPort : tx.localPort))).size, 4);
    }
  });

  it('h2load, 25 streams of 2 KiB per connection: Node batches ~51 KB per writev, past the 16 KiB cap; every stream on both ends', async () => {
    const before = await tracker();
    const { stdout } = await run('h2load', ['-n', '2000', '-c', '4', '-m', '25', `http://127.0.0.1:${ports.h2}/2k`], { timeout: 60_000 });
    assert.match(stdout, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/);
    const txs = await settled(ports.h2, 4000);
    for (const side of [server(ports.h2), client(ports.h2)]) {
      const list = txs.filter(side);
      assert.equal(list.length, 2000);
      assert.equal(list.filter((tx) => tx.path === '/2k' && tx.status === 200 && tx.responseBytes === 2048 && tx.method === 'GET').length, 2000);
    }
    const now = await tracker();
    // The bodies past the cap were skipped by count, not lost, and every frame stayed in step.
    assert.equal(now.bytesLost - before.bytesLost, 0);
    assert.ok(now.bytesUncaptured - before.bytesUncaptured > 0, 'bodies past the cap were skipped');
    assert.equal(now.http2.frames.desyncs - before.http2.frames.desyncs, 0);
    assert.equal(now.kernel.h2FramingLost, 0);
    assert.equal(now.kernel.headsUnshipped, 0);
  });

  it('python grpcio (C-core sends many frames per sendmsg, reads 64 KiB at once): 30 unary calls of 100 KiB, 200 x 10 KiB streamed, 50 x 4 KiB bidi; every call named and counted exactly on both ends', async () => {
    const srv = spawn('/usr/bin/python3', [BULK, 'serve', String(ports.bulk)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      assert.equal((await createInterface({ input: srv.stdout! })[Symbol.asyncIterator]().next()).value, 'ready');
      const { stdout } = await run('/usr/bin/python3', [BULK, 'call', String(ports.bulk), '30'], { timeout: 60_000 });
      assert.equal(stdout.trim(), 'done');
      const txs = await settled(ports.bulk, 64);
      const rows = (side: (tx: JsonTransaction) => boolean) => {
        const count = new Map<string, number>();
        for (const tx of txs.filter(side)) {
          const k = [tx.rpcService, tx.rpcMethod, tx.grpcStatusCode, tx.requestMessages, tx.responseMessages, tx.messagesLowerBound ?? false].join(' ');
          count.set(k, (count.get(k) ?? 0) + 1);
        }
        return Object.fromEntries([...count].sort());
      };
      const want = {
        'bulk.Bulk Chat 0 50 50 false': 1,
        'bulk.Bulk Download 0 1 200 false': 1,
        'bulk.Bulk Upload 0 1 1 false': 30,
      };
      assert.deepEqual(rows(server(ports.bulk)), want);
      assert.deepEqual(rows(client(ports.bulk)), want);
      const uploads = txs.filter((tx) => tx.rpcMethod === 'Upload');
      assert.ok(uploads.every((tx) => tx.requestBytes === 102405), 'each request is one 100 KiB message and its prefix');
    } finally {
      srv.kill();
    }
  });

  it('a plain HTTP/2 connection opened before the agent, then 50 streams of 2 KiB in one batch: every stream on both ends', async () => {
    const before = await tracker();
    await Promise.all([...Array(50).keys()].map(() => h2get(preH2, '/2k')));
    const txs = await settled(ports.h2, 100);
    for (const side of [server(ports.h2), client(ports.h2)]) {
      const list = txs.filter(side);
      assert.equal(list.length, 50);
      assert.equal(list.filter((tx) => tx.path === '/2k' && tx.status === 200 && tx.responseBytes === 2048 && tx.method === 'GET').length, 50);
    }
    const now = await tracker();
    assert.equal(now.bytesLost - before.bytesLost, 0);
    assert.equal(now.kernel.h2FramingLost, 0);
  });
});
