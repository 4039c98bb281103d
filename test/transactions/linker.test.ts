// Trace linking through the connection stages, fed batches in the addon's format:
// same-thread parent/child, both ends of one connection, incoming W3C and
// B3 headers, SDK-instrumented clients, and the cases that must not link.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchDecoder } from '../../src/capture/decoder';
import { ConnectionStages } from '../../src/pipeline';
import { WallClock } from '../../src/transactions/clock';
import { TraceLinker } from '../../src/transactions/linker';
import { buildSampler, SpanSampler } from '../../src/transactions/sampling';
import type { HttpTransaction } from '../../src/transactions/transaction';
import { closeRecord, dataRecord, type DataSpec } from '../support/batch';

const IN = 1 as const;
const OUT = 0 as const;
const SERVER = 2;
const CLIENT = 1;

type Ep = [number[], number];
const LO = [127, 0, 0, 1];

function setup(linker = new TraceLinker()) {
  const txs: HttpTransaction[] = [];
  const tracker = new ConnectionStages({
    emit: (tx) => txs.push(tx),
    clock: new WallClock(() => 0n),
    listeners: { has: () => false },
    processes: { nameOf: (pid) => `p${pid}` },
    maxConnections: 1000,
    idleTimeoutMs: 60_000,
    linker,
  });
  const dec = new BatchDecoder(tracker);
  let ts = 0n;
  const pos = new Map<string, number>();
  /** One syscall's bytes on a connection, at the next stream position of that direction. */
  const io = (connId: number, role: number, dir: 0 | 1, text: string, tgid: number, tid: number, local: Ep, peer: Ep) => {
    const payload = Buffer.from(text);
    const k = `${connId}/${dir}`;
    const at = pos.get(k) ?? 0;
    pos.set(k, at + payload.length);
    const spec: DataSpec = { ts: ++ts, connId, streamPos: at, syscallBytes: payload.length, payload, direction: dir, role, tgid, tid, local, peer };
    dec.decode(dataRecord(spec), 1);
  };
  const close = (connId: number, atNs?: bigint) => dec.decode(closeRecord(atNs ?? ++ts, connId), 1);
  return { txs, tracker, linker, io, close };
}

function req(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
}
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

/** curl (pid 1) -> A (pid 2, tid 22 serves; port 8001) -> B (pid 3, tid 33; port 8002). */
function chain(s: ReturnType<typeof setup>, n: number, curlHeaders = '') {
  const curlEp: Ep = [LO, 50000];
  const aEp: Ep = [LO, 8001];
  const aOut: Ep = [LO, 50001];
  const bEp: Ep = [LO, 8002];
  for (let i = 0; i < n; i++) {
    s.io(1, CLIENT, OUT, req(`/a/${i}`, curlHeaders), 1, 1, curlEp, aEp);
    s.io(2, SERVER, IN, req(`/a/${i}`, curlHeaders), 2, 22, aEp, curlEp);
    s.io(3, CLIENT, OUT, req(`/b/${i}`), 2, 22, aOut, bEp);
    s.io(4, SERVER, IN, req(`/b/${i}`), 3, 33, bEp, aOut);
    s.io(4, SERVER, OUT, OK, 3, 33, bEp, aOut);
    s.io(3, CLIENT, IN, OK, 2, 22, aOut, bEp);
    s.io(2, SERVER, OUT, OK, 2, 22, aEp, curlEp);
    s.io(1, CLIENT, IN, OK, 1, 1, curlEp, aEp);
  }
}

function byKey(txs: HttpTransaction[]) {
  const m = new Map<string, HttpTransaction>();
  for (const tx of txs) m.set(`${tx.process} ${tx.role} ${tx.target}`, tx);
  return (k: string) => {
    const tx = m.get(k);
    assert.ok(tx, `no transaction ${k}; have ${[...m.keys()].join(', ')}`);
    return tx;
  };
}

describe('trace linking', () => {
  it('curl -> A -> B forms one trace per request, every parent exact', () => {
    const s = setup();
    chain(s, 3);
    assert.equal(s.txs.length, 12);
    const get = byKey(s.txs);
    const traces = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const curl = get(`p1 client /a/${i}`);
      const aServer = get(`p2 server /a/${i}`);
      const aClient = get(`p2 client /b/${i}`);
      const bServer = get(`p3 server /b/${i}`);
      assert.equal(curl.parentSpanId, '');
      assert.equal(aServer.parentSpanId, curl.spanId);
      assert.equal(aClient.parentSpanId, aServer.spanId);
      assert.equal(bServer.parentSpanId, aClient.spanId);
      for (const tx of [aServer, aClient, bServer]) assert.equal(tx.traceId, curl.traceId);
      assert.equal(new Set([curl.spanId, aServer.spanId, aClient.spanId, bServer.spanId]).size, 4);
      traces.add(curl.traceId);
    }
    assert.equal(traces.size, 3);
    assert.deepEqual(s.linker.stats, { threadLinks: 3, connectionLinks: 6, headerLinks: 0, ambiguousThreads: 0 });
  });

  it('an incoming traceparent is honoured and tracestate kept', () => {
    const s = setup();
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    s.io(2, SERVER, IN, req('/in', `traceparent: ${tp}\r\ntracestate: vendor=a\r\ntracestate: other=b\r\n`), 2, 22, [LO, 8001], [[10, 0, 0, 9], 4000]);
    s.io(3, CLIENT, OUT, req('/down'), 2, 22, [LO, 50001], [LO, 8002]);
    s.io(3, CLIENT, IN, OK, 2, 22, [LO, 50001], [LO, 8002]);
    s.io(2, SERVER, OUT, OK, 2, 22, [LO, 8001], [[10, 0, 0, 9], 4000]);
    const get = byKey(s.txs);
    const server = get('p2 server /in');
    const client = get('p2 client /down');
    assert.deepEqual([server.traceId, server.parentSpanId, server.traceState], ['4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 'vendor=a,other=b']);
    assert.deepEqual([client.traceId, client.parentSpanId, client.traceState], ['4bf92f3577b34da6a3ce929d0e0e4736', server.spanId, 'vendor=a,other=b']);
  });

  it('B3 single and multi headers are honoured; 64-bit trace ids are padded', () => {
    const s = setup();
    const peer: Ep = [[10, 0, 0, 9], 4000];
    s.io(2, SERVER, IN, req('/single', 'b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90\r\n'), 2, 22, [LO, 8001], peer);
    s.io(2, SERVER, OUT, OK, 2, 22, [LO, 8001], peer);
    s.io(2, SERVER, IN, req('/multi', 'X-B3-TraceId: 463ac35c9f6413ad\r\nX-B3-SpanId: A2FB4A1D1A96D312\r\nX-B3-Sampled: 1\r\n'), 2, 22, [LO, 8001], peer);
    s.io(2, SERVER, OUT, OK, 2, 22, [LO, 8001], peer);
    s.io(2, SERVER, IN, req('/bad', 'traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01\r\n'), 2, 22, [LO, 8001], peer);
    s.io(2, SERVER, OUT, OK, 2, 22, [LO, 8001], peer);
    const get = byKey(s.txs);
    assert.deepEqual([get('p2 server /single').traceId, get('p2 server /single').parentSpanId], ['80f198ee56343ba864fe8b2a57d3eff7', 'e457b5a2e4d86bd1']);
    assert.deepEqual([get('p2 server /multi').traceId, get('p2 server /multi').parentSpanId], ['0000000000000000463ac35c9f6413ad', 'a2fb4a1d1a96d312']);
    // An invalid traceparent is ignored, not half-used: a new root.
    assert.equal(get('p2 server /bad').parentSpanId, '');
    assert.notEqual(get('p2 server /bad').traceId, '00000000000000000000000000000000');
  });

  it('a client request that carries an SDK traceparent keeps its trace, as the child of the SDK span', () => {
    const s = setup();
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    s.io(3, CLIENT, OUT, req('/sdk', `traceparent: ${tp}\r\n`), 5, 55, [LO, 50005], [LO, 8002]);
    s.io(4, SERVER, IN, req('/sdk', `traceparent: ${tp}\r\n`), 3, 33, [LO, 8002], [LO, 50005]);
    s.io(4, SERVER, OUT, OK, 3, 33, [LO, 8002], [LO, 50005]);
    s.io(3, CLIENT, IN, OK, 5, 55, [LO, 50005], [LO, 8002]);
    const get = byKey(s.txs);
    const client = get('p5 client /sdk');
    const server = get('p3 server /sdk');
    assert.deepEqual([client.traceId, client.parentSpanId], ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331']);
    // Both ends seen: the server span hangs under sidelight's client span, in the SDK's trace.
    assert.deepEqual([server.traceId, server.parentSpanId], ['0af7651916cd43dd8448eb211c80319c', client.spanId]);
  });

  it('a forwarded traceparent (proxy) keeps the client under the thread\'s server span', () => {
    const s = setup();
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const peer: Ep = [[10, 0, 0, 9], 4000];
    s.io(2, SERVER, IN, req('/p', `traceparent: ${tp}\r\n`), 2, 22, [LO, 8001], peer);
    s.io(3, CLIENT, OUT, req('/p', `traceparent: ${tp}\r\n`), 2, 22, [LO, 50001], [[10, 0, 0, 7], 80]);
    s.io(3, CLIENT, IN, OK, 2, 22, [LO, 50001], [[10, 0, 0, 7], 80]);
    s.io(2, SERVER, OUT, OK, 2, 22, [LO, 8001], peer);
    const get = byKey(s.txs);
    assert.equal(get('p2 client /p').parentSpanId, get('p2 server /p').spanId);
  });

  it('a thread with two server requests in flight gives no link rather than a wrong one', () => {
    const s = setup();
    const p1: Ep = [[10, 0, 0, 9], 4001];
    const p2: Ep = [[10, 0, 0, 9], 4002];
    s.io(10, SERVER, IN, req('/one'), 2, 22, [LO, 8001], p1);
    s.io(11, SERVER, IN, req('/two'), 2, 22, [LO, 8001], p2);
    s.io(3, CLIENT, OUT, req('/down'), 2, 22, [LO, 50001], [[10, 0, 0, 7], 80]);
    s.io(3, CLIENT, IN, OK, 2, 22, [LO, 50001], [[10, 0, 0, 7], 80]);
    s.io(10, SERVER, OUT, OK, 2, 22, [LO, 8001], p1);
    // One request left in flight: links again.
    s.io(3, CLIENT, OUT, req('/down2'), 2, 22, [LO, 50001], [[10, 0, 0, 7], 80]);
    s.io(3, CLIENT, IN, OK, 2, 22, [LO, 50001], [[10, 0, 0, 7], 80]);
    s.io(11, SERVER, OUT, OK, 2, 22, [LO, 8001], p2);
    // After the response: the thread serves nothing, no link.
    s.io(3, CLIENT, OUT, req('/later'), 2, 22, [LO, 50001], [[10, 0, 0, 7], 80]);
    s.io(3, CLIENT, IN, OK, 2, 22, [LO, 50001], [[10, 0, 0, 7], 80]);
    const get = byKey(s.txs);
    assert.equal(get('p2 client /down').parentSpanId, '');
    assert.equal(get('p2 client /down2').parentSpanId, get('p2 server /two').spanId);
    assert.equal(get('p2 client /later').parentSpanId, '');
    assert.equal(s.linker.stats.ambiguousThreads, 1);
    assert.deepEqual(s.linker.sizes.threads, 0);
  });

  it('the server side settles even when its read is reported before the client\'s write', () => {
    const s = setup();
    const c: Ep = [LO, 50009];
    const b: Ep = [LO, 8002];
    s.io(4, SERVER, IN, req('/race'), 3, 33, b, c);
    s.io(3, CLIENT, OUT, req('/race'), 9, 99, c, b);
    s.io(4, SERVER, OUT, OK, 3, 33, b, c);
    s.io(3, CLIENT, IN, OK, 9, 99, c, b);
    const get = byKey(s.txs);
    assert.equal(get('p3 server /race').parentSpanId, get('p9 client /race').spanId);
    assert.equal(get('p3 server /race').traceId, get('p9 client /race').traceId);
  });

  it('a request the server never saw does not shift the pairing of the next ones', () => {
    const s = setup();
    const c: Ep = [LO, 50010];
    const b: Ep = [LO, 8002];
    // The client sends /lost, whose server-side events were dropped.
    s.io(3, CLIENT, OUT, req('/lost'), 9, 99, c, b);
    s.io(3, CLIENT, IN, OK, 9, 99, c, b);
    s.io(3, CLIENT, OUT, req('/seen'), 9, 99, c, b);
    s.io(4, SERVER, IN, req('/seen'), 3, 33, b, c);
    s.io(4, SERVER, OUT, OK, 3, 33, b, c);
    s.io(3, CLIENT, IN, OK, 9, 99, c, b);
    const get = byKey(s.txs);
    assert.equal(get('p3 server /seen').parentSpanId, get('p9 client /seen').spanId);
  });

  it('parentbased_traceidratio: roots sampled by ratio, children follow their parent', () => {
    const s = setup(new TraceLinker(new SpanSampler(buildSampler('parentbased_traceidratio', 0))));
    chain(s, 2);
    assert.deepEqual(s.txs.map((t) => t.sampled), Array(8).fill(false));
    const s2 = setup(new TraceLinker(new SpanSampler(buildSampler('parentbased_traceidratio', 0))));
    chain(s2, 1, 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n');
    // curl's own span is a root with a header: it is the header's child, sampled by the header's flag.
    assert.deepEqual(s2.txs.map((t) => t.sampled), Array(4).fill(true));
    const s3 = setup(new TraceLinker(new SpanSampler(buildSampler('parentbased_always_on', 1))));
    chain(s3, 1, 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\r\n');
    assert.deepEqual(s3.txs.map((t) => t.sampled), Array(4).fill(false));
  });

  it('link state is freed when requests end and connections close', () => {
    const s = setup();
    chain(s, 5);
    // Every sent request was taken by its server side; the two client connections remain known.
    assert.deepEqual(s.linker.sizes, { threads: 0, peers: 2, sent: 0 });
    s.close(1);
    s.close(3);
    s.tracker.sweep(Date.now());
    assert.equal(s.linker.sizes.peers, 2, 'kept for a grace period after close');
    s.io(9, CLIENT, OUT, req('/tick'), 9, 9, [LO, 50100], [LO, 9]);
    s.close(9, 10_000_000_000n);
    s.tracker.sweep(Date.now());
    assert.deepEqual(s.linker.sizes, { threads: 0, peers: 1, sent: 1 });
  });
});
