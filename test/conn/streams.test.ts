// The connection streams between decoder and parser: roles, stream positions, skips for
// uncaptured or dropped bytes, closes — fed with batches in the addon's format.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchDecoder } from '../../src/capture/decoder';
import { EV_F_SKIPPED } from '../../src/capture/layout';
import { ConnectionStages } from '../../src/pipeline';
import { WallClock } from '../../src/transactions/clock';
import type { HttpTransaction } from '../../src/transactions/transaction';
import { closeRecord, dataRecord, tlsBindRecord, type BindSpec, type DataSpec } from '../support/batch';
import * as h2 from '../support/h2';

const IN = 1 as const;
const OUT = 0 as const;

function setup(listening: number[] = []) {
  const txs: HttpTransaction[] = [];
  const tracker = new ConnectionStages({
    emit: (tx) => txs.push(tx),
    clock: new WallClock(() => 1_000_000_000_000n),
    listeners: { has: (port) => listening.includes(port) },
    processes: { nameOf: (pid, fallback) => `${fallback()}#${pid}` },
    maxConnections: 4,
    idleTimeoutMs: 60_000,
  });
  const dec = new BatchDecoder(tracker);
  const feed = (...specs: (DataSpec | BindSpec | { close: bigint; connId: number })[]) => {
    const recs = specs.map((s) => ('close' in s ? closeRecord(s.close, s.connId) : 'tlsId' in s ? tlsBindRecord(s) : dataRecord(s)));
    dec.decode(Buffer.concat(recs), recs.length);
  };
  return { txs, tracker, feed };
}

const REQ = Buffer.from('GET /a HTTP/1.1\r\nHost: h\r\n\r\n');
const HEAD = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 30000\r\n\r\n');

describe('connection streams', () => {
  it('steps over uncaptured body bytes by count and ends the exchange on the last write', () => {
    const { txs, tracker, feed } = setup();
    feed(
      { ts: 10n, connId: 1, streamPos: 0, syscallBytes: REQ.length, payload: REQ, direction: IN, role: 2, comm: 'srv', tgid: 7 },
      { ts: 20n, connId: 1, streamPos: 0, syscallBytes: HEAD.length, payload: HEAD, direction: OUT, role: 2, tgid: 7 },
      // 16384-byte write, 4096 captured in two chunks
      { ts: 30n, connId: 1, streamPos: HEAD.length, syscallBytes: 16384, captured: 4096, payload: Buffer.alloc(2048, 0x61), direction: OUT, role: 2, tgid: 7 },
      { ts: 30n, connId: 1, streamPos: HEAD.length, syscallBytes: 16384, captured: 4096, chunkOffset: 2048, payload: Buffer.alloc(2048, 0x61), direction: OUT, role: 2, tgid: 7 },
      { ts: 40n, connId: 1, streamPos: HEAD.length + 16384, syscallBytes: 13616, captured: 4096, payload: Buffer.alloc(4096, 0x62), direction: OUT, role: 2, tgid: 7 },
    );
    assert.equal(txs.length, 1);
    assert.match(txs[0].traceId, /^[0-9a-f]{32}$/);
    assert.match(txs[0].spanId, /^[0-9a-f]{16}$/);
    assert.deepEqual(
      { ...txs[0], local: undefined, peer: undefined, traceId: 'T', spanId: 'S' },
      {
        kind: 'http', role: 'server', protocol: 'HTTP/1.1', tls: false, pid: 7, process: 'srv#7', method: 'GET', target: '/a', host: 'h',
        userAgent: undefined, status: 200, startTimeUnixNano: 1_000_000_000_010n, durationNs: 30, requestBytes: 0,
        responseBytes: 30000, local: undefined, peer: undefined, truncated: false,
        traceId: 'T', spanId: 'S', parentSpanId: '', traceState: '', sampled: true, route: undefined,
        rpc: undefined, unknownFields: [], resetCode: undefined,
      },
    );
    assert.deepEqual([tracker.stats.bytesUncaptured, tracker.stats.bytesLost], [16384 - 4096 + 13616 - 4096, 0]);
  });

  it('a dropped event inside a known-length body is a counted gap, not a lost exchange', () => {
    const { txs, tracker, feed } = setup();
    feed(
      { ts: 1n, connId: 5, streamPos: 0, syscallBytes: REQ.length, payload: REQ, direction: OUT, role: 1, comm: 'curl' },
      { ts: 2n, connId: 5, streamPos: 0, syscallBytes: HEAD.length, payload: HEAD, direction: IN, role: 1 },
      // the event for bytes HEAD.length .. +10000 never arrived
      { ts: 4n, connId: 5, streamPos: HEAD.length + 10000, syscallBytes: 20000, captured: 4096, payload: Buffer.alloc(4096), direction: IN, role: 1 },
    );
    assert.deepEqual(txs.map((tx) => [tx.role, tx.status, tx.responseBytes, tx.durationNs, tx.truncated]), [['client', 200, 30000, 3, false]]);
    assert.deepEqual([tracker.stats.bytesUncaptured, tracker.stats.bytesLost], [20000 - 4096, 10000]);
  });

  it('a connection opened before the agent gets its role from the listening port or the request direction', () => {
    const { txs, feed } = setup([8080]);
    feed(
      // local port 8080 listens: server
      { ts: 1n, connId: 1, streamPos: 0, syscallBytes: REQ.length, payload: REQ, direction: IN, role: 0 },
      // client side of another connection: it sends the request
      { ts: 1n, connId: 2, streamPos: 0, syscallBytes: REQ.length, payload: REQ, direction: OUT, role: 0, local: [[127, 0, 0, 1], 50000], peer: [[127, 0, 0, 1], 9090] },
      { ts: 2n, connId: 2, streamPos: 0, syscallBytes: 38, payload: Buffer.from('HTTP/1.1 204 No Content\r\nA: b\r\n\r\n'.padEnd(38, ' ').slice(0, 38)), direction: IN, role: 0, local: [[127, 0, 0, 1], 50000], peer: [[127, 0, 0, 1], 9090] },
      { ts: 3n, connId: 1, streamPos: 0, syscallBytes: 19, payload: Buffer.from('HTTP/1.1 204 OK\r\n\r\n'), direction: OUT, role: 0 },
    );
    assert.deepEqual(txs.map((tx) => [tx.role, tx.status, tx.local.port]), [['client', 204, 50000], ['server', 204, 8080]]);
  });

  it('bytes before the role is known are counted and skipped; a later request starts cleanly', () => {
    const { txs, tracker, feed } = setup();
    const local: [number[], number] = [[127, 0, 0, 1], 40001];
    feed(
      { ts: 1n, connId: 3, streamPos: 0, syscallBytes: 500, payload: Buffer.alloc(500, 0x7a), direction: IN, role: 0, local },
      { ts: 2n, connId: 3, streamPos: 0, syscallBytes: REQ.length, payload: REQ, direction: OUT, role: 0, local },
      { ts: 3n, connId: 3, streamPos: 500, syscallBytes: 38, payload: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), direction: IN, role: 0, local },
    );
    assert.equal(tracker.stats.bytesBeforeRole, 500);
    assert.deepEqual(txs.map((tx) => [tx.role, tx.target, tx.status]), [['client', '/a', 200]]);
  });

  it('a close ends a read-until-close response; a second close is ignored', () => {
    const { txs, tracker, feed } = setup();
    const req10 = Buffer.from('GET /old HTTP/1.0\r\n\r\n');
    const res10 = Buffer.from('HTTP/1.0 200 OK\r\n\r\nhello');
    feed(
      { ts: 1n, connId: 9, streamPos: 0, syscallBytes: req10.length, payload: req10, direction: IN },
      { ts: 2n, connId: 9, streamPos: 0, syscallBytes: res10.length, payload: res10, direction: OUT },
      { close: 3n, connId: 9 },
      { close: 4n, connId: 9 },
    );
    assert.deepEqual(txs.map((tx) => [tx.protocol, tx.target, tx.responseBytes, tx.durationNs]), [['HTTP/1.0', '/old', 5, 1]]);
    assert.equal(tracker.stats.connectionsClosed, 1);
    assert.equal(tracker.size, 0);
  });

  it('HTTP/2 from the start: the server SETTINGS sent before the verdict are parsed once it comes', () => {
    const { txs, tracker, feed } = setup();
    const srvSettings = h2.settings([[3, 100]]);
    const request = Buffer.concat([h2.PREFACE, h2.settings(), h2.headers(1, h2.literals({ ':method': 'GET', ':path': '/x', ':authority': 'h' }), true)]);
    const response = Buffer.concat([h2.headers(1, h2.literals({ ':status': '204' }), true)]);
    feed(
      { ts: 1n, connId: 4, streamPos: 0, syscallBytes: srvSettings.length, payload: srvSettings, direction: OUT, klass: 0 },
      { ts: 2n, connId: 4, streamPos: 0, syscallBytes: request.length, payload: request, direction: IN, klass: 2 },
      { ts: 5n, connId: 4, streamPos: srvSettings.length, syscallBytes: response.length, payload: response, direction: OUT, klass: 2 },
    );
    assert.deepEqual(
      txs.map((tx) => [tx.role, tx.protocol, tx.method, tx.target, tx.host, tx.status, tx.durationNs]),
      [['server', 'HTTP/2', 'GET', '/x', 'h', 204, 3]],
    );
    assert.deepEqual([tracker.stats.bytesUnclassified, tracker.stats.http1.parseErrors, tracker.stats.http2.frames.desyncs], [0, 0, 0]);
  });

  it('HTTP/2 heads past the cap (as the kernel ships them): every stream of a batched write, bodies counted as uncaptured, a real gap still lost', () => {
    const { txs, tracker, feed } = setup();
    const request = Buffer.concat([h2.PREFACE, h2.settings(), ...[1, 3, 5, 7].map((id) => h2.headers(id, h2.literals({ ':method': 'GET', ':path': `/s${id}` }), true))]);
    // One write answering four streams with 3000-byte bodies; the cap is 4096.
    const frames = [1, 3, 5, 7].flatMap((id) => [h2.headers(id, h2.literals({ ':status': '200' })), h2.data(id, Buffer.alloc(3000, id), true)]);
    const write = Buffer.concat([h2.settings(), ...frames]);
    const CAP = 4096;
    // The ranges the kernel picks: the capped prefix, then past it each
    // frame header, non-DATA frames whole, and 6 bytes of each DATA payload.
    const ranges: [number, number][] = [[0, CAP]];
    let at = 0;
    for (const f of [h2.settings(), ...frames]) {
      const keep = at + 9 + (f[3] === 0 ? Math.min(6, f.length - 9) : f.length - 9);
      const from = Math.max(at, CAP);
      if (from < keep) {
        const last = ranges[ranges.length - 1]!;
        if (last[0] + last[1] === from) last[1] = keep - last[0];
        else ranges.push([from, keep - from]);
      }
      at += f.length;
    }
    const last = ranges[ranges.length - 1]!;
    feed(
      { ts: 1n, connId: 8, streamPos: 0, syscallBytes: request.length, payload: request, direction: IN, role: 2, klass: 2 },
      ...ranges.map(([off, len], i) => ({
        ts: 2n, connId: 8, streamPos: 0, syscallBytes: write.length, captured: last[0] + last[1], chunkOffset: off,
        payload: write.subarray(off, off + len), direction: OUT, role: 2, klass: 2, flags: i > 0 ? EV_F_SKIPPED : 0,
      })),
    );
    assert.ok(ranges.length >= 3, 'heads past the cap were shipped apart');
    assert.deepEqual(txs.map((tx) => [tx.target, tx.status, tx.responseBytes]), [1, 3, 5, 7].map((id) => [`/s${id}`, 200, 3000]));
    const shipped = ranges.reduce((n, [, len]) => n + len, 0);
    assert.deepEqual([tracker.stats.bytesUncaptured, tracker.stats.bytesLost, tracker.stats.http2.frames.desyncs], [write.length - shipped, 0, 0]);

    // The same shape without the flag is a loss (an event the ring dropped).
    const again = setup();
    again.feed(
      { ts: 1n, connId: 9, streamPos: 0, syscallBytes: request.length, payload: request, direction: IN, role: 2, klass: 2 },
      ...ranges.map(([off, len]) => ({
        ts: 2n, connId: 9, streamPos: 0, syscallBytes: write.length, captured: last[0] + last[1], chunkOffset: off,
        payload: write.subarray(off, off + len), direction: OUT, role: 2, klass: 2,
      })),
    );
    assert.equal(again.tracker.stats.bytesLost, write.length - shipped - (write.length - last[0] - last[1]));

    // The same ranges packed as pieces into one event, as the kernel's gather packs them.
    const packed = setup();
    packed.feed(
      { ts: 1n, connId: 10, streamPos: 0, syscallBytes: request.length, payload: request, direction: IN, role: 2, klass: 2 },
      { ts: 2n, connId: 10, streamPos: 0, syscallBytes: write.length, direction: OUT, role: 2, klass: 2, pieces: ranges.map(([off, len]) => [off, write.subarray(off, off + len)]) },
    );
    assert.deepEqual(packed.txs.map((tx) => [tx.target, tx.status, tx.responseBytes]), [1, 3, 5, 7].map((id) => [`/s${id}`, 200, 3000]));
    assert.deepEqual([packed.tracker.stats.bytesUncaptured, packed.tracker.stats.bytesLost, packed.tracker.stats.http2.frames.desyncs], [write.length - shipped, 0, 0]);
  });

  it('HTTP/1 heads alone (as the kernel ships a followed syscall): pipelined responses and a chunked one, bodies counted as uncaptured', () => {
    const { txs, tracker, feed } = setup();
    const requests = Buffer.from(['/a', '/b', '/c', '/d'].map((p) => `GET ${p} HTTP/1.1\r\nHost: h\r\n\r\n`).join(''));
    const head = (n: number) => Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${n}\r\n\r\n`);
    const chunkedHead = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n');
    const parts = [head(3000), Buffer.alloc(3000, 1), head(5), Buffer.from('fives'), chunkedHead, Buffer.alloc(3002, 2), Buffer.from('0\r\n\r\n'), head(4000), Buffer.alloc(4000, 3)];
    const write = Buffer.concat(parts);
    // What the kernel ships: heads, a response body's first 7 bytes, the
    // chunk-size lines; runs that touch merge.
    const keep = [true, 7, true, true, true, 0, true, true, 7];
    const pieces: [number, Buffer][] = [];
    let at = 0;
    parts.forEach((part, i) => {
      const n = keep[i] === true ? part.length : Math.min(part.length, keep[i] as number);
      const last = pieces[pieces.length - 1];
      if (n > 0 && last && last[0] + last[1].length === at) last[1] = Buffer.concat([last[1], part.subarray(0, n)]);
      else if (n > 0) pieces.push([at, part.subarray(0, n)]);
      at += part.length;
    });
    feed(
      { ts: 1n, connId: 11, streamPos: 0, syscallBytes: requests.length, payload: requests, direction: IN, role: 2 },
      { ts: 2n, connId: 11, streamPos: 0, syscallBytes: write.length, direction: OUT, role: 2, pieces },
    );
    assert.deepEqual(txs.map((tx) => [tx.target, tx.status, tx.responseBytes, tx.truncated]), [['/a', 200, 3000, false], ['/b', 200, 5, false], ['/c', 200, 3000, false], ['/d', 200, 4000, false]]);
    const shipped = pieces.reduce((n, [, b]) => n + b.length, 0);
    assert.deepEqual([tracker.stats.bytesUncaptured, tracker.stats.bytesLost, tracker.stats.http1.parseErrors], [write.length - shipped, 0, 0]);
    assert.equal(pieces.length, 3, 'three runs of heads apart, in one event');
  });

  it('bytes held for a verdict are bounded; past 8 KiB they become a counted gap, never counted twice', () => {
    const { txs, tracker, feed } = setup();
    const blob = Buffer.alloc(5000, 0x78);
    feed(
      { ts: 1n, connId: 6, streamPos: 0, syscallBytes: 5000, payload: blob, direction: IN, klass: 0 },
      { ts: 2n, connId: 6, streamPos: 5000, syscallBytes: 5000, payload: blob, direction: IN, klass: 0 },
    );
    assert.equal(tracker.stats.bytesUnclassified, 10000);
    feed({ ts: 3n, connId: 6, streamPos: 10000, syscallBytes: REQ.length, payload: REQ, direction: IN, klass: 1 });
    // The first 5000 were kept and parsed (not HTTP: discarded by the parser), the next 5000 are a gap.
    assert.deepEqual([tracker.stats.bytesUnclassified, tracker.stats.bytesLost], [0, 5000]);
    assert.equal(txs.length, 0);
  });

    it('a running HTTP/2 connection judged at its second syscall: the first one is not lost', () => {
    const { txs, feed } = setup();
    const request = h2.headers(9, h2.literals({ ':method': 'POST', ':path': '/a.B/C', 'content-type': 'application/grpc' }), true);
    const response = h2.headers(9, h2.literals({ ':status': '200', 'grpc-status': '0' }), true);
    const at = 0;
    feed(
      { ts: 1n, connId: 5, streamPos: at, syscallBytes: request.length, payload: request, direction: OUT, role: 0, klass: 0, local: [[127, 0, 0, 1], 40001], peer: [[127, 0, 0, 1], 50051] },
      { ts: 4n, connId: 5, streamPos: at, syscallBytes: response.length, payload: response, direction: IN, role: 0, klass: 2, local: [[127, 0, 0, 1], 40001], peer: [[127, 0, 0, 1], 50051] },
    );
    assert.deepEqual(
      txs.map((tx) => [tx.role, tx.method, tx.target, tx.rpc?.service, tx.rpc?.method, tx.rpc?.statusCode, tx.durationNs, tx.unknownFields]),
      [['client', 'POST', '/a.B/C', 'a.B', 'C', 0, 3, []]],
    );
  });

  it('keeps at most maxConnections, evicting the least recently seen', () => {
    const { tracker, feed } = setup();
    for (let id = 1; id <= 6; id++) feed({ ts: BigInt(id), connId: id, streamPos: 0, syscallBytes: REQ.length, payload: REQ, direction: IN });
    tracker.sweep(Date.now());
    assert.equal(tracker.size, 4);
    assert.equal(tracker.stats.connectionsEvicted, 2);
    assert.equal(tracker.stats.http1.unansweredRequests, 2);
  });

  describe('TLS sessions', () => {
    const TLS = 1;
    const RESP = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    const bind = (tlsId: number, connId: number, filtered = false): BindSpec => ({
      ts: 5n, tgid: 9, tlsId, connId, local: [[127, 0, 0, 1], 8443], peer: [[127, 0, 0, 1], 50000], role: 2, filtered,
    });
    // Plaintext of a session with no socket yet: no tuple (family 0), role unknown.
    const unbound = (tlsId: number, ts: bigint, dir: 0 | 1, payload: Buffer, pos = 0): DataSpec => ({
      ts, tgid: 9, connId: tlsId, streamPos: pos, syscallBytes: payload.length, payload, direction: dir, role: 0, flags: TLS, family: 0,
    });

    it('holds plaintext until the bind, then reports it with the socket endpoints and role, marked tls', () => {
      const { txs, tracker, feed } = setup();
      feed(unbound(77, 10n, IN, REQ), unbound(77, 20n, OUT, RESP));
      assert.equal(txs.length, 0);
      feed(bind(77, 5));
      assert.deepEqual(
        txs.map((t) => [t.tls, t.role, t.method, t.target, t.status, t.local, t.peer, t.durationNs]),
        [[true, 'server', 'GET', '/a', 200, { address: '127.0.0.1', port: 8443 }, { address: '127.0.0.1', port: 50000 }, 10]],
      );
      assert.deepEqual([tracker.stats.tlsSessionsBound, tracker.stats.bytesTlsUnbound], [1, 0]);
    });

    it("a bound session's data opens it directly; the socket's close ends it, unanswered requests unreported", () => {
      const { txs, tracker, feed } = setup();
      feed(bind(78, 6));
      feed({ ts: 10n, tgid: 9, connId: 78, streamPos: 0, syscallBytes: REQ.length, payload: REQ, direction: IN, role: 2, flags: TLS, local: [[127, 0, 0, 1], 8443] });
      feed({ ts: 20n, tgid: 9, connId: 78, streamPos: 0, syscallBytes: RESP.length, payload: RESP, direction: OUT, role: 2, flags: TLS, local: [[127, 0, 0, 1], 8443] });
      feed({ ts: 30n, tgid: 9, connId: 78, streamPos: REQ.length, syscallBytes: REQ.length, payload: REQ, direction: IN, role: 2, flags: TLS, local: [[127, 0, 0, 1], 8443] });
      assert.equal(tracker.size, 1);
      feed({ close: 40n, connId: 6 });
      assert.deepEqual(txs.map((t) => [t.tls, t.role, t.status]), [[true, 'server', 200]]);
      assert.deepEqual([tracker.size, tracker.stats.connectionsClosed], [0, 1]);
    });

    it('a filtered bind drops the held plaintext and everything after, counted', () => {
      const { txs, tracker, feed } = setup();
      feed(unbound(79, 10n, IN, REQ), bind(79, 7, true), unbound(79, 20n, OUT, RESP));
      assert.equal(txs.length, 0);
      assert.deepEqual([tracker.size, tracker.stats.bytesTlsFiltered, tracker.stats.tlsSessionsBound], [0, REQ.length + RESP.length, 0]);
    });

    it('holds at most 64 KiB unbound; the rest, and what never binds, is counted', () => {
      const { tracker, feed } = setup();
      const big = Buffer.alloc(40 * 1024, 0x61);
      feed(unbound(80, 10n, IN, big), unbound(80, 11n, IN, big, big.length));
      assert.equal(tracker.stats.bytesTlsUnbound, big.length);
      tracker.sweep(Date.now() + 120_000);
      assert.equal(tracker.stats.bytesTlsUnbound, 2 * big.length);
    });
  });
});
