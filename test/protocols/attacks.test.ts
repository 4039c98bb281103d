// Hostile input through the whole user-space path (batches -> decoder ->
// tracker -> parser): each attack crosses its bound in src/protocols/limits.ts,
// its connection is marked and skipped, the self-metrics count it exactly, and
// a well-behaved connection next to it is still reported exactly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchDecoder } from '../../src/capture/decoder';
import { ConnectionStages } from '../../src/pipeline';
import { parserStats } from '../../src/export/self-metrics';
import { MAX_HEADER_BLOCK, MAX_HEAD_BYTES, MAX_OPEN_STREAMS, MAX_PENDING_REQUESTS, type Limit } from '../../src/protocols/limits';
import { WallClock } from '../../src/transactions/clock';
import type { HttpTransaction } from '../../src/transactions/transaction';
import { closeRecord, dataRecord } from '../support/batch';
import * as h2 from '../support/h2';

const IN = 1 as const;
const OUT = 0 as const;
/** Bytes per syscall, all captured: the kernel's default event size. */
const SYSCALL = 4096;
const HTTP1 = 1;
const HTTP2 = 2;

function setup() {
  const txs: HttpTransaction[] = [];
  const tracker = new ConnectionStages({
    emit: (tx) => txs.push(tx),
    clock: new WallClock(() => 1_000_000_000_000n),
    listeners: { has: () => false },
    processes: { nameOf: (_pid, fallback) => fallback() },
    maxConnections: 1024,
    idleTimeoutMs: 60_000,
  });
  const dec = new BatchDecoder(tracker);
  const pos = new Map<string, number>();
  let ts = 1n;
  /** Ships `bytes` as the server side of connection `connId` saw them, one event per 4 KiB syscall. */
  const send = (connId: number, direction: 0 | 1, bytes: Buffer, klass: number) => {
    const key = `${connId}/${direction}`;
    let at = pos.get(key) ?? 0;
    const recs: Buffer[] = [];
    for (let off = 0; off < bytes.length; off += SYSCALL) {
      const payload = bytes.subarray(off, off + SYSCALL);
      recs.push(dataRecord({ ts: ts++, connId, streamPos: at, syscallBytes: payload.length, payload, direction, role: 2, klass, local: [[127, 0, 0, 1], 8080], peer: [[127, 0, 0, 1], 40000 + connId] }));
      at += payload.length;
    }
    pos.set(key, at);
    // Batches of at most 64 records, as the poll thread hands them over.
    for (let i = 0; i < recs.length; i += 64) dec.decode(Buffer.concat(recs.slice(i, i + 64)), Math.min(64, recs.length - i));
  };
  const close = (connId: number) => dec.decode(closeRecord(ts++, connId), 1);
  const stats = () => parserStats(tracker);
  return { txs, tracker, send, close, stats };
}

/** Only this limit counted, once. */
function limitedOnce(counts: Record<string, number>, limit: Limit): void {
  const nonZero = Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
  assert.deepEqual(nonZero, { [limit]: 1 });
}

const GOOD_REQ = Buffer.from('GET /good HTTP/1.1\r\nHost: h\r\n\r\n');
const GOOD_RESP = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');

/** A well-behaved HTTP/1 exchange on another connection: the attack must not cost it. */
function goodNeighbour(t: ReturnType<typeof setup>, connId: number): void {
  t.send(connId, IN, GOOD_REQ, HTTP1);
  t.send(connId, OUT, GOOD_RESP, HTTP1);
  t.close(connId);
}

function assertGoodNeighbourOnly(txs: HttpTransaction[]): void {
  assert.deepEqual(txs.map((tx) => `${tx.method} ${tx.target} ${tx.status}`), ['GET /good 200']);
}

describe('hostile input: each attack is cut at its bound, skipped and counted', () => {
  it('a 1 MiB header line: cut at 64 KiB of head; the rest of the connection is counted, not parsed', () => {
    const t = setup();
    const attack = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nX-Long: '), Buffer.alloc(1 << 20, 0x61), Buffer.from('\r\n\r\n')]);
    t.send(1, IN, attack, HTTP1);
    t.send(1, OUT, GOOD_RESP, HTTP1);
    t.send(1, IN, GOOD_REQ, HTTP1);
    t.close(1);
    goodNeighbour(t, 2);
    assertGoodNeighbourOnly(t.txs);
    const s = t.stats();
    limitedOnce(s.connectionsLimited, 'http1_head');
    // The head crossed 64 KiB inside the 17th 4 KiB syscall: that one and everything after it.
    const crossing = Math.floor(MAX_HEAD_BYTES / SYSCALL) * SYSCALL;
    assert.equal(s.bytesUnparsed.limit, attack.length - crossing + GOOD_RESP.length + GOOD_REQ.length);
    assert.equal(s.parseErrors.http1, 0);
    assert.equal(t.tracker.stats.http1.requests, 1, 'only the neighbour request was parsed');
  });

  it('100,000 header fields: the same 64 KiB bound', () => {
    const t = setup();
    const attack = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n'), Buffer.from('X-a: b\r\n'.repeat(100_000)), Buffer.from('\r\n')]);
    t.send(1, IN, attack, HTTP1);
    t.close(1);
    goodNeighbour(t, 2);
    assertGoodNeighbourOnly(t.txs);
    const s = t.stats();
    limitedOnce(s.connectionsLimited, 'http1_head');
    assert.equal(s.bytesUnparsed.limit, attack.length - Math.floor(MAX_HEAD_BYTES / SYSCALL) * SYSCALL);
  });

  it('a chunk size that overflows 2^53: the response is never reported, its request counts as unanswered', () => {
    const t = setup();
    t.send(1, IN, Buffer.from('GET /o HTTP/1.1\r\nHost: h\r\n\r\n'), HTTP1);
    const resp = Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${'f'.repeat(40)}\r\nbody`);
    t.send(1, OUT, resp, HTTP1);
    t.close(1);
    goodNeighbour(t, 2);
    assertGoodNeighbourOnly(t.txs);
    const s = t.stats();
    limitedOnce(s.connectionsLimited, 'http1_chunk_size');
    assert.equal(s.bytesUnparsed.limit, resp.length);
    assert.equal(t.tracker.stats.http1.unansweredRequests, 1);
  });

  it('a chunk extension without end: cut at 64 KiB of chunk-size line', () => {
    const t = setup();
    t.send(1, IN, Buffer.from('GET /o HTTP/1.1\r\nHost: h\r\n\r\n'), HTTP1);
    t.send(1, OUT, Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext='), Buffer.alloc(200_000, 0x78)]), HTTP1);
    t.close(1);
    goodNeighbour(t, 2);
    assertGoodNeighbourOnly(t.txs);
    limitedOnce(t.stats().connectionsLimited, 'http1_chunk_line');
  });

  it(`a pipelining flood: the ${MAX_PENDING_REQUESTS + 1}th request waiting for its response stops the connection`, () => {
    const t = setup();
    t.send(1, IN, Buffer.from('GET /p HTTP/1.1\r\nHost: h\r\n\r\n'.repeat(MAX_PENDING_REQUESTS + 100)), HTTP1);
    t.send(1, OUT, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'.repeat(10)), HTTP1);
    t.close(1);
    goodNeighbour(t, 2);
    assertGoodNeighbourOnly(t.txs);
    limitedOnce(t.stats().connectionsLimited, 'http1_pending_requests');
    assert.equal(t.tracker.stats.http1.unansweredRequests, MAX_PENDING_REQUESTS);
  });

  const preface = Buffer.concat([h2.PREFACE, h2.settings()]);
  const getBlock = (path: string) => h2.block({ index: 2 }, { index: 6 }, { nameIndex: 4, value: path }, { nameIndex: 1, value: 'h' });

  it('an HPACK table size update above SETTINGS_HEADER_TABLE_SIZE: a decoding error, the connection stops', () => {
    const t = setup();
    t.send(1, IN, Buffer.concat([preface, h2.headers(1, getBlock('/ok'), true)]), HTTP2);
    t.send(1, OUT, Buffer.concat([h2.settings(), h2.headers(1, h2.literals({ ':status': '200' }), true)]), HTTP2);
    t.send(1, IN, h2.headers(3, Buffer.concat([h2.block({ sizeUpdate: 8192 }), getBlock('/x')]), true), HTTP2);
    t.send(1, OUT, h2.headers(3, h2.literals({ ':status': '200' }), true), HTTP2);
    t.close(1);
    goodNeighbour(t, 2);
    // Stream 1 ended before the bad block: reported. Stream 3 never is.
    assert.deepEqual(t.txs.map((tx) => `${tx.method} ${tx.target} ${tx.status}`), ['GET /ok 200', 'GET /good 200']);
    limitedOnce(t.stats().connectionsLimited, 'hpack');
    assert.equal(t.tracker.stats.http2.unansweredStreams, 0, 'stream 3 was never opened');
  });

  it('a table size update to 2^31 - 1 after a lost block (the SETTINGS in force unknown): still capped at 64 KiB', () => {
    const t = setup();
    // A CONTINUATION nothing waits for: a block was lost, so the client's table and SETTINGS are unknown from here.
    t.send(1, IN, Buffer.concat([preface, h2.frame(h2.CONTINUATION, h2.END_HEADERS, 1, Buffer.from([0]))]), HTTP2);
    const grow = Buffer.concat([h2.block({ sizeUpdate: 0x7fffffff }), getBlock('/grow'), h2.block({ name: 'x-big', value: 'v'.repeat(200_000), indexing: true })]);
    t.send(1, IN, h2.headers(3, grow, true), HTTP2);
    t.send(1, OUT, Buffer.concat([h2.settings(), h2.headers(3, h2.literals({ ':status': '200' }), true)]), HTTP2);
    t.close(1);
    goodNeighbour(t, 2);
    assertGoodNeighbourOnly(t.txs);
    limitedOnce(t.stats().connectionsLimited, 'http2_header_table');
  });

  it('an HPACK integer above 2^31 - 1: a decoding error, the connection stops', () => {
    const t = setup();
    const overflow = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    t.send(1, IN, Buffer.concat([preface, h2.headers(1, overflow, true), h2.headers(3, getBlock('/after'), true)]), HTTP2);
    t.send(1, OUT, Buffer.concat([h2.settings(), h2.headers(3, h2.literals({ ':status': '200' }), true)]), HTTP2);
    t.close(1);
    goodNeighbour(t, 2);
    assertGoodNeighbourOnly(t.txs);
    limitedOnce(t.stats().connectionsLimited, 'hpack');
  });

  it(`a CONTINUATION flood: cut when the header block passes ${MAX_HEADER_BLOCK / 1024} KiB`, () => {
    const t = setup();
    const frames: Buffer[] = [preface, h2.frame(h2.HEADERS, 0, 1, getBlock('/flood'))];
    for (let i = 0; i < 200; i++) frames.push(h2.frame(h2.CONTINUATION, 0, 1, Buffer.alloc(16_384, 0x41)));
    const attack = Buffer.concat(frames);
    t.send(1, IN, attack, HTTP2);
    t.close(1);
    goodNeighbour(t, 2);
    assertGoodNeighbourOnly(t.txs);
    const s = t.stats();
    limitedOnce(s.connectionsLimited, 'http2_header_block');
    assert.ok(s.bytesUnparsed.limit > attack.length - MAX_HEADER_BLOCK - 64 * 1024 && s.bytesUnparsed.limit < attack.length - MAX_HEADER_BLOCK + 64 * 1024, `${s.bytesUnparsed.limit}`);
  });

  it('an HPACK bomb (small references to one large table entry): cut when the decoded list passes 256 KiB', () => {
    const t = setup();
    const big = h2.block({ name: 'x-big', value: 'v'.repeat(4000), indexing: true });
    const refs = Buffer.alloc(100, 0x80 | 62);
    t.send(1, IN, Buffer.concat([preface, h2.headers(1, Buffer.concat([getBlock('/bomb'), big]), true)]), HTTP2);
    t.send(1, OUT, Buffer.concat([h2.settings(), h2.headers(1, h2.literals({ ':status': '200' }), true)]), HTTP2);
    t.send(1, IN, h2.headers(3, Buffer.concat([getBlock('/bomb2'), refs]), true), HTTP2);
    t.send(1, OUT, h2.headers(3, h2.literals({ ':status': '200' }), true), HTTP2);
    t.close(1);
    goodNeighbour(t, 2);
    // One 4 KB entry is fine; a hundred references to it are not.
    assert.deepEqual(t.txs.map((tx) => `${tx.method} ${tx.target} ${tx.status}`), ['GET /bomb 200', 'GET /good 200']);
    limitedOnce(t.stats().connectionsLimited, 'http2_header_list');
  });

  it(`a stream-id storm: the ${MAX_OPEN_STREAMS + 1}th open stream stops the connection; the open ones count as unanswered`, () => {
    const t = setup();
    const frames: Buffer[] = [preface];
    for (let i = 0; i < MAX_OPEN_STREAMS + 500; i++) frames.push(h2.headers(2 * i + 1, getBlock('/s'), true));
    t.send(1, IN, Buffer.concat(frames), HTTP2);
    t.send(1, OUT, Buffer.concat([h2.settings(), h2.headers(1, h2.literals({ ':status': '200' }), true)]), HTTP2);
    t.close(1);
    goodNeighbour(t, 2);
    assertGoodNeighbourOnly(t.txs);
    limitedOnce(t.stats().connectionsLimited, 'http2_open_streams');
    assert.equal(t.tracker.stats.http2.unansweredStreams, MAX_OPEN_STREAMS);
  });

  it('after every attack the tracker holds nothing of the skipped connections', () => {
    const t = setup();
    t.send(1, IN, Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nX: '), Buffer.alloc(200_000, 0x61)]), HTTP1);
    const flood: Buffer[] = [h2.PREFACE, h2.settings(), h2.frame(h2.HEADERS, 0, 1, getBlock('/f'))];
    for (let i = 0; i < 40; i++) flood.push(h2.frame(h2.CONTINUATION, 0, 1, Buffer.alloc(16_384)));
    t.send(3, IN, Buffer.concat(flood), HTTP2);
    assert.equal(t.tracker.size, 2);
    t.close(1);
    t.close(3);
    assert.equal(t.tracker.size, 0);
    const s = t.stats();
    assert.deepEqual([s.connectionsLimited.http1_head, s.connectionsLimited.http2_header_block], [1, 1]);
  });
});
