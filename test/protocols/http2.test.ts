// HTTP/2 session: frames → streams → transactions. Every scenario is
// replayed whole, with each syscall's bytes split in two at every byte
// boundary, and in random chunks; the transactions and counters must be
// exactly the expected ones in every replay.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { Http2Session, newHttp2Stats, type Http2Stats, type Http2Transaction, type Side } from '../../src/protocols/http2';
import {
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  HEADERS,
  PADDED,
  PING,
  PREFACE,
  PRIORITY_FLAG,
  WINDOW_UPDATE,
  block,
  data,
  frame,
  goaway,
  grpcMessages,
  headers,
  literals,
  rst,
  settings,
} from '../support/h2';

const C: Side = 1; // client side = ingress: a server's view
const S: Side = 0;

type Step = { side: Side; bytes: Uint8Array; ts: bigint } | { side: Side; skip: number; ts: bigint } | { close: true };

interface Scenario {
  opts: { clientSide: Side | undefined; complete: boolean; synced: [boolean, boolean]; onGrpcKnown?: (grpc: boolean) => void };
  steps: Step[];
}

interface Outcome {
  txs: Http2Transaction<number>[];
  stats: Http2Stats;
  requests: string[];
  /** Bounds crossed (src/protocols/limits.ts): the session stops at the first. */
  limits: string[];
}

type Splitter = (n: number) => number[];

function run(sc: Scenario, split: Splitter = (n) => [n]): Outcome {
  const txs: Http2Transaction<number>[] = [];
  const stats = newHttp2Stats();
  const requests: string[] = [];
  const limits: string[] = [];
  let next = 1;
  const session = new Http2Session<number>(
    {
      transaction: (tx) => txs.push(tx),
      request: (head) => {
        requests.push(`${head.method} ${head.target}`);
        return next++;
      },
      limit: (limit) => limits.push(limit),
    },
    stats,
    sc.opts,
  );
  for (const step of sc.steps) {
    if ('close' in step) session.close();
    else if ('skip' in step) session.skip(step.side, step.skip, step.ts);
    else {
      let at = 0;
      for (const len of split(step.bytes.length)) {
        session.push(step.side, step.bytes.subarray(at, at + len), step.ts, at === 0);
        at += len;
      }
    }
  }
  return { txs, stats, requests, limits };
}

/** Runs whole, split at every byte, and in random pieces; all runs must agree. */
function replay(sc: Scenario): Outcome {
  const whole = run(sc);
  const total = Math.max(...sc.steps.map((s) => ('bytes' in s ? s.bytes.length : 0)));
  for (let cut = 1; cut < total; cut++) {
    const r = run(sc, (n) => (cut < n ? [cut, n - cut] : [n]));
    assert.deepEqual(r.txs, whole.txs, `split at ${cut}`);
    assert.deepEqual(r.stats, whole.stats, `split at ${cut}`);
    assert.deepEqual(r.limits, whole.limits, `split at ${cut}`);
  }
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 }), (sizes) => {
      const r = run(sc, (n) => {
        const out: number[] = [];
        let i = 0;
        for (let left = n; left > 0; i++) {
          const k = Math.min(left, sizes[i % sizes.length]);
          out.push(k);
          left -= k;
        }
        return out;
      });
      assert.deepEqual(r.txs, whole.txs);
      assert.deepEqual(r.stats, whole.stats);
      assert.deepEqual(r.limits, whole.limits);
    }),
    { numRuns: 30 },
  );
  return whole;
}

const FRESH = { clientSide: C, complete: true, synced: [true, true] as [boolean, boolean] };

const GET_A = block({ index: 2 }, { index: 6 }, { index: 4, }, { nameIndex: 1, value: 'example.com' });
const GET = (path: string) => block({ index: 2 }, { index: 6 }, { nameIndex: 4, value: path }, { nameIndex: 1, value: 'example.com' });
const STATUS = (code: number) => literals({ ':status': String(code) });
const GRPC_REQ = (path: string) =>
  block({ index: 3 }, { index: 6 }, { nameIndex: 4, value: path }, { nameIndex: 1, value: 'localhost:50051' }, { nameIndex: 31, value: 'application/grpc' }, { name: 'te', value: 'trailers' });
const GRPC_RESP = literals({ ':status': '200', 'content-type': 'application/grpc+proto' });
const TRAILERS = (code: number) => literals({ 'grpc-status': String(code), 'grpc-message': code === 0 ? '' : 'nope' });

function base(tx: Partial<Http2Transaction<number>>): Http2Transaction<number> {
  return {
    streamId: 1,
    method: 'GET',
    path: '/',
    authority: 'example.com',
    userAgent: undefined,
    status: 200,
    startNs: 0n,
    endNs: 0n,
    requestBodyBytes: 0,
    responseBodyBytes: 0,
    grpc: undefined,
    resetCode: undefined,
    unknown: [],
    truncated: false,
    ctx: 1,
    ...tx,
  };
}

describe('HTTP/2 session', () => {
  it('one GET from a fresh connection: preface, SETTINGS, HEADERS, DATA', () => {
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings([[1, 4096], [4, 65535]]), frame(WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 1, 0]))]), ts: 1n },
        { side: S, bytes: Buffer.concat([settings([[3, 100]]), frame(4, 1, 0)]), ts: 2n },
        { side: C, bytes: headers(1, GET_A, true), ts: 10n },
        { side: S, bytes: Buffer.concat([headers(1, STATUS(200)), data(1, Buffer.from('hello'), true)]), ts: 20n },
      ],
    });
    assert.deepEqual(out.txs, [base({ startNs: 10n, endNs: 20n, responseBodyBytes: 5 })]);
    assert.deepEqual(out.requests, ['GET /']);
    assert.equal(out.stats.transactions, 1);
    assert.equal(out.stats.frames.desyncs, 0);
  });

  it('tells once, at the first request whose content type is known, whether the connection carries gRPC; undecodable blocks never tell', () => {
    const told: string[] = [];
    const session = (what: string) =>
      new Http2Session<undefined>({ transaction: () => undefined }, newHttp2Stats(), { ...FRESH, onGrpcKnown: (grpc) => told.push(`${what} ${grpc}`) });
    const grpc = session('grpc');
    grpc.push(C, Buffer.concat([PREFACE, settings(), headers(1, GRPC_REQ('/a.B/C')), headers(3, GRPC_REQ('/a.B/D'))]), 1n, true);
    // A block that refers to a table entry never seen: its content type is unknown.
    const unknown = new Http2Session<undefined>({ transaction: () => undefined }, newHttp2Stats(), { clientSide: C, complete: false, synced: [true, true], onGrpcKnown: () => told.push('unknown') });
    unknown.push(C, headers(1, block({ index: 70 })), 1n, true);
    // gRPC first: the connection keeps its bodies, whatever follows.
    const mixed = session('mixed');
    mixed.push(C, Buffer.concat([PREFACE, settings(), headers(1, GRPC_REQ('/a.B/C')), headers(3, GET('/x'), true), headers(5, GET('/y'), true)]), 1n, true);
    const plain = session('plain');
    plain.push(C, Buffer.concat([PREFACE, settings(), headers(1, GET('/x'), true), headers(3, GRPC_REQ('/a.B/C'))]), 1n, true);
    assert.deepEqual(told, ['grpc true', 'mixed true', 'plain false']);
  });

  it('concurrent streams pair by stream id, whatever the order of the answers', () => {
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings()]), ts: 1n },
        { side: C, bytes: Buffer.concat([headers(1, GET('/one'), true), headers(3, GET('/three'), true), headers(5, GET('/five'), true)]), ts: 10n },
        { side: S, bytes: Buffer.concat([headers(5, STATUS(404)), headers(1, STATUS(200)), data(1, Buffer.alloc(3)), data(5, Buffer.alloc(2), true)]), ts: 20n },
        { side: S, bytes: Buffer.concat([headers(3, STATUS(500), true), data(1, Buffer.alloc(4), true)]), ts: 30n },
      ],
    });
    assert.deepEqual(out.txs, [
      base({ streamId: 5, path: '/five', status: 404, startNs: 10n, endNs: 20n, responseBodyBytes: 2, ctx: 3 }),
      base({ streamId: 3, path: '/three', status: 500, startNs: 10n, endNs: 30n, ctx: 2 }),
      base({ streamId: 1, path: '/one', status: 200, startNs: 10n, endNs: 30n, responseBodyBytes: 7, ctx: 1 }),
    ]);
  });

  it('gRPC unary: service and method from :path, status from the trailers, message counts', () => {
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings()]), ts: 1n },
        { side: C, bytes: Buffer.concat([headers(1, GRPC_REQ('/helloworld.Greeter/SayHello')), data(1, grpcMessages(Buffer.from('hi')), true)]), ts: 10n },
        { side: S, bytes: Buffer.concat([headers(1, GRPC_RESP), data(1, grpcMessages(Buffer.from('hello hi')))]), ts: 20n },
        { side: S, bytes: headers(1, TRAILERS(0), true), ts: 25n },
      ],
    });
    assert.deepEqual(out.txs, [
      base({
        method: 'POST',
        path: '/helloworld.Greeter/SayHello',
        authority: 'localhost:50051',
        startNs: 10n,
        endNs: 25n,
        requestBodyBytes: 7,
        responseBodyBytes: 13,
        grpc: { service: 'helloworld.Greeter', method: 'SayHello', statusCode: 0, requestMessages: 1, responseMessages: 1, messagesExact: true },
      }),
    ]);
  });

  it('gRPC trailers-only error (NOT_FOUND) ends the call at that HEADERS frame', () => {
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings()]), ts: 1n },
        { side: C, bytes: Buffer.concat([headers(1, GRPC_REQ('/shop.Catalog/Get')), data(1, grpcMessages(Buffer.from('x')), true)]), ts: 10n },
        { side: S, bytes: headers(1, literals({ ':status': '200', 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'no such item' }), true), ts: 12n },
      ],
    });
    assert.equal(out.txs.length, 1);
    assert.deepEqual(out.txs[0].grpc, { service: 'shop.Catalog', method: 'Get', statusCode: 5, requestMessages: 1, responseMessages: 0, messagesExact: true });
    assert.equal(out.txs[0].endNs, 12n);
  });

  it('server streaming: 100 messages split across DATA frames, the call ends at the trailers', () => {
    const msgs = grpcMessages(...Array.from({ length: 100 }, (_, i) => Buffer.alloc(i % 7, i)));
    const frames: Buffer[] = [];
    for (let at = 0; at < msgs.length; at += 37) frames.push(data(1, msgs.subarray(at, at + 37)));
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings()]), ts: 1n },
        { side: C, bytes: Buffer.concat([headers(1, GRPC_REQ('/feed.Ticker/Watch')), data(1, grpcMessages(Buffer.from('all')), true)]), ts: 10n },
        { side: S, bytes: Buffer.concat([headers(1, GRPC_RESP), ...frames.slice(0, 5)]), ts: 20n },
        { side: S, bytes: Buffer.concat(frames.slice(5)), ts: 30n },
        { side: S, bytes: headers(1, TRAILERS(0), true), ts: 90n },
      ],
    });
    assert.equal(out.txs.length, 1);
    assert.equal(out.txs[0].endNs, 90n);
    assert.equal(out.txs[0].responseBodyBytes, msgs.length);
    assert.deepEqual(out.txs[0].grpc, { service: 'feed.Ticker', method: 'Watch', statusCode: 0, requestMessages: 1, responseMessages: 100, messagesExact: true });
  });

  it('RST_STREAM ends a stream without a response; its code is kept', () => {
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings(), headers(1, GET('/slow'), true)]), ts: 10n },
        { side: C, bytes: rst(1, 8), ts: 40n },
      ],
    });
    assert.deepEqual(out.txs, [base({ path: '/slow', status: undefined, startNs: 10n, endNs: 40n, resetCode: 8 })]);
    assert.equal(out.stats.streamsReset, 1);
  });

  it('padding, priority and CONTINUATION are read as the RFC lays them out', () => {
    const blk = GET('/padded');
    const padded = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), blk.subarray(0, 4), Buffer.alloc(3)]);
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings()]), ts: 1n },
        {
          side: C,
          bytes: Buffer.concat([
            frame(PING, 0, 0, Buffer.alloc(8)),
            frame(HEADERS, PADDED | PRIORITY_FLAG | END_STREAM, 1, padded),
            frame(CONTINUATION, END_HEADERS, 1, blk.subarray(4)),
          ]),
          ts: 10n,
        },
        {
          side: S,
          bytes: Buffer.concat([headers(1, STATUS(200)), frame(DATA, PADDED | END_STREAM, 1, Buffer.concat([Buffer.from([4]), Buffer.from('abc'), Buffer.alloc(4)]))]),
          ts: 20n,
        },
      ],
    });
    assert.deepEqual(out.txs, [base({ path: '/padded', startNs: 10n, endNs: 20n, responseBodyBytes: 3 })]);
  });

  it('a HEADERS frame from a CONTINUATION-less block loses the block, never a wrong header', () => {
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings()]), ts: 1n },
        { side: C, bytes: frame(HEADERS, 0, 1, GET('/half').subarray(0, 3)), ts: 10n },
        { side: C, bytes: headers(3, GET('/whole'), true), ts: 11n },
        { side: S, bytes: headers(3, STATUS(200), true), ts: 20n },
      ],
    });
    assert.equal(out.stats.headerBlocksLost, 1);
    // The table of the client's encoder is unknown from there: /whole used literals only, so it decodes.
    assert.deepEqual(out.txs, [base({ streamId: 3, path: '/whole', startNs: 11n, endNs: 20n })]);
  });

  it("SETTINGS_HEADER_TABLE_SIZE bounds the other side's table size updates", () => {
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings([[1, 256]]), headers(1, GET('/a'), true), headers(3, GET('/b'), true)]), ts: 10n },
        { side: S, bytes: Buffer.concat([frame(4, 1, 0), headers(1, block({ sizeUpdate: 256 }, { index: 8 }), true)]), ts: 20n },
        { side: S, bytes: headers(3, block({ sizeUpdate: 1024 }, { index: 8 }), true), ts: 30n },
      ],
    });
    // The second update exceeds what the client allowed: a decoding error, which ends the connection for the peers
    // (RFC 9113 §4.3) and for the parser: stream 3 is never reported.
    assert.deepEqual(out.txs.map((t) => [t.streamId, t.status, t.unknown]), [[1, 200, []]]);
    assert.equal(out.stats.hpackErrors, 1);
    assert.equal(out.stats.unansweredStreams, 1);
    assert.deepEqual(out.limits, ['hpack']);
  });

  it('a lowered SETTINGS_HEADER_TABLE_SIZE binds only once acknowledged', () => {
    const ack = frame(4, 1, 0);
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings([[1, 256]]), headers(1, GET('/a'), true), headers(3, GET('/b'), true)]), ts: 10n },
        // Sent before the server saw the client's SETTINGS: the old 4096 still holds.
        { side: S, bytes: headers(1, block({ sizeUpdate: 4096 }, { index: 8 }), true), ts: 20n },
        { side: S, bytes: Buffer.concat([ack, headers(3, block({ sizeUpdate: 1024 }, { index: 8 }), true)]), ts: 30n },
      ],
    });
    assert.deepEqual(out.txs.map((t) => [t.streamId, t.status]), [[1, 200]]);
    assert.equal(out.stats.hpackErrors, 1);
    assert.deepEqual(out.limits, ['hpack']);
  });

  it('GOAWAY and close: unanswered streams are counted, never reported', () => {
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings(), headers(1, GET('/a'), true), headers(3, GET('/b'), true), headers(5, GET('/c'), true)]), ts: 10n },
        { side: S, bytes: Buffer.concat([goaway(3), headers(1, STATUS(200), true)]), ts: 20n },
        { close: true },
      ],
    });
    assert.deepEqual(out.txs, [base({ path: '/a', startNs: 10n, endNs: 20n })]);
    assert.equal(out.stats.unansweredStreams, 2);
  });

  it('attached mid-connection: resyncs at a syscall start, decodes what it can, flags the rest', () => {
    // The client's table holds entries from before the attach; index 62 is one of them.
    const pre = { side: C, bytes: Buffer.from([0x00, 0x00, 0x05, 0x00, 0x00, 1, 2, 3]), ts: 1n } as const;
    const out = replay({
      opts: { clientSide: undefined, complete: false, synced: [false, false] },
      steps: [
        { side: C, skip: 100, ts: 1n },
        pre,
        // Request 1: :method POST (static), :path from the unknown table, content-type grpc.
        { side: C, bytes: headers(7, block({ index: 3 }, { index: 62 }, { nameIndex: 31, value: 'application/grpc' })), ts: 10n },
        { side: S, bytes: headers(7, literals({ ':status': '200', 'content-type': 'application/grpc', 'grpc-status': '0' }), true), ts: 20n },
        // Request 2 inserts its :path after the attach; request 3 refers to it by index 62.
        { side: C, bytes: headers(9, block({ index: 3 }, { nameIndex: 4, value: '/shop.Cart/Add', indexing: true }, { nameIndex: 31, value: 'application/grpc' }), true), ts: 30n },
        { side: S, bytes: headers(9, literals({ ':status': '200', 'content-type': 'application/grpc', 'grpc-status': '0' }), true), ts: 40n },
        { side: C, bytes: headers(11, block({ index: 3 }, { index: 62 }, { nameIndex: 31, value: 'application/grpc' }), true), ts: 50n },
        { side: S, bytes: headers(11, block({ index: 8 }, { index: 63 }), true), ts: 60n },
      ],
    });
    const grpc = (service: string | undefined, method: string | undefined, statusCode: number | undefined) => ({
      service, method, statusCode, requestMessages: 0, responseMessages: 0, messagesExact: true,
    });
    assert.deepEqual(out.txs, [
      base({ streamId: 7, method: 'POST', path: undefined, authority: undefined, startNs: 10n, endNs: 20n, grpc: grpc(undefined, undefined, 0), unknown: ['path', 'authority'], ctx: 1 }),
      base({ streamId: 9, method: 'POST', path: '/shop.Cart/Add', authority: undefined, startNs: 30n, endNs: 40n, grpc: grpc('shop.Cart', 'Add', 0), ctx: 2 }),
      base({ streamId: 11, method: 'POST', path: '/shop.Cart/Add', authority: undefined, startNs: 50n, endNs: 60n, grpc: grpc('shop.Cart', 'Add', undefined), unknown: ['grpcStatus'], ctx: 3 }),
    ]);
    assert.equal(out.stats.hpack.unknownRefs, 2);
    assert.equal(out.stats.transactionsWithUnknownFields, 2);
    assert.equal(out.stats.frames.resyncs, 2);
  });

  it('attached mid-connection to a client that indexed :path (gRPC C-core): the shape of a gRPC call makes it one, its unknown parts flagged', () => {
    // Every index from 62 on refers to the tables from before the attach:
    // :path, content-type and te on the request; content-type and the
    // grpc-status field on the response.
    const REQ = block({ index: 3 }, { index: 7 }, { index: 62 }, { index: 63 }, { index: 64 });
    const RESP = block({ index: 8 }, { index: 65 });
    const RESP_TRAILERS = block({ index: 66 });
    const msg = grpcMessages(Buffer.from('ask'));
    const call = (id: number, t: bigint, reqBody: Buffer, respBody: Buffer, trailers: boolean) => [
      { side: C, bytes: Buffer.concat([headers(id, REQ), data(id, reqBody, true)]), ts: t },
      trailers
        ? { side: S, bytes: Buffer.concat([headers(id, RESP), data(id, respBody), headers(id, RESP_TRAILERS, true)]), ts: t + 5n }
        : { side: S, bytes: Buffer.concat([headers(id, RESP), data(id, respBody, true)]), ts: t + 5n },
    ];
    const told: boolean[] = [];
    const out = replay({
      opts: { clientSide: undefined, complete: false, synced: [false, false], onGrpcKnown: (g) => told.push(g) },
      steps: [
        { side: C, skip: 100, ts: 1n },
        // A gRPC call: whole messages both ways, trailers.
        ...call(1, 10n, msg, grpcMessages(Buffer.from('answer'), Buffer.from('more')), true),
        // No trailers: an HTTP/2 POST, whatever its bodies.
        ...call(3, 20n, msg, msg, false),
        // A body that is not length-prefixed messages: an HTTP/2 POST.
        ...call(5, 30n, Buffer.from('hello'), msg, true),
        // No message either way: nothing says gRPC.
        ...call(7, 40n, Buffer.alloc(0), Buffer.alloc(0), true),
      ],
    });
    const post = (streamId: number, startNs: bigint, requestBodyBytes: number, responseBodyBytes: number) =>
      base({ streamId, method: 'POST', path: undefined, authority: undefined, startNs, endNs: startNs + 5n, requestBodyBytes, responseBodyBytes, unknown: ['path', 'authority'], ctx: Number(streamId + 1) / 2 });
    assert.deepEqual(out.txs, [
      {
        ...post(1, 10n, 8, 20),
        grpc: { service: undefined, method: undefined, statusCode: undefined, requestMessages: 1, responseMessages: 2, messagesExact: true },
        unknown: ['path', 'authority', 'grpcStatus'],
      },
      post(3, 20n, 8, 8),
      post(5, 30n, 5, 8),
      post(7, 40n, 0, 0),
    ]);
    // No request's content type was readable: the first gRPC-shaped call tells the kernel to keep the message prefixes coming.
    assert.deepEqual([...new Set(told)], [true]);
  });

  it('lost bytes: inside DATA they are counted, over a frame header they desync until a syscall starts frames again', () => {
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings(), headers(1, GRPC_REQ('/a.B/C')), data(1, grpcMessages(Buffer.alloc(10)), true)]), ts: 10n },
        { side: S, bytes: Buffer.concat([headers(1, GRPC_RESP), data(1, grpcMessages(Buffer.alloc(100))).subarray(0, 30)]), ts: 20n },
        { side: S, skip: 84, ts: 21n },
        { side: S, bytes: headers(1, TRAILERS(0), true), ts: 30n },
        { side: C, bytes: headers(3, GRPC_REQ('/a.B/D'), false), ts: 40n },
        { side: C, skip: 20, ts: 41n },
        { side: S, bytes: headers(3, TRAILERS(0), true), ts: 50n },
      ],
    });
    assert.deepEqual(
      out.txs.map((t) => [t.streamId, t.responseBodyBytes, t.grpc?.statusCode, t.grpc?.responseMessages, t.truncated, t.grpc?.messagesExact]),
      [[1, 105, 0, 1, false, true], [3, 0, 0, 0, true, false]],
    );
    assert.equal(out.stats.frames.desyncs, 1);
  });

  it('a streamed response that loses a frame header mid-way reports its message count as a lower bound, never as exact', () => {
    const msgs = Array.from({ length: 20 }, (_, i) => data(1, grpcMessages(Buffer.alloc(8, i))));
    const out = replay({
      opts: FRESH,
      steps: [
        { side: C, bytes: Buffer.concat([PREFACE, settings(), headers(1, GRPC_REQ('/feed.Ticker/Watch')), data(1, grpcMessages(Buffer.from('all')), true)]), ts: 10n },
        { side: S, bytes: Buffer.concat([headers(1, GRPC_RESP), ...msgs.slice(0, 5)]), ts: 20n },
        // Five DATA frames never seen, headers and all: the frame boundaries are lost.
        { side: S, skip: Buffer.concat(msgs.slice(5, 10)).length, ts: 21n },
        { side: S, bytes: Buffer.concat(msgs.slice(10)), ts: 30n },
        { side: S, bytes: headers(1, TRAILERS(0), true), ts: 90n },
      ],
    });
    assert.equal(out.stats.frames.desyncs, 1);
    assert.deepEqual(
      out.txs.map((t) => [t.streamId, t.truncated, t.grpc?.requestMessages, t.grpc?.responseMessages, t.grpc?.messagesExact]),
      [[1, true, 1, 5, false]],
    );
  });
});

describe('HTTP/2 session under arbitrary bytes', () => {
  it('random bytes, random splits and gaps, both sides: never throws, every stream accounted for', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            side: fc.constantFrom<Side>(0, 1),
            bytes: fc.uint8Array({ maxLength: 64 }),
            start: fc.boolean(),
            skip: fc.nat({ max: 40 }),
          }),
          { maxLength: 40 },
        ),
        fc.boolean(),
        (steps, fresh) => {
          const stats = newHttp2Stats();
          let emitted = 0;
          const s = new Http2Session<undefined>({ transaction: () => emitted++ }, stats, fresh ? FRESH : { clientSide: undefined, complete: false, synced: [false, false] });
          for (const st of steps) {
            s.push(st.side, st.bytes, 1n, st.start);
            if (st.skip > 0) s.skip(st.side, st.skip, 1n);
          }
          s.close();
          assert.equal(emitted, stats.transactions);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('mutated real exchanges (a flipped byte, a cut) never throw', () => {
    const real = [
      Buffer.concat([PREFACE, settings([[1, 4096]]), headers(1, GRPC_REQ('/a.B/C')), data(1, grpcMessages(Buffer.from('hello')), true), headers(3, GET('/x'), true)]),
      Buffer.concat([settings(), headers(1, GRPC_RESP), data(1, grpcMessages(Buffer.from('world'))), headers(1, TRAILERS(0), true), headers(3, STATUS(204), true)]),
    ];
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), fc.nat(), (at, value, cut0, cut1) => {
        const c = Buffer.from(real[0]);
        const sv = Buffer.from(real[1]);
        (at % 2 ? c : sv)[at % (at % 2 ? c.length : sv.length)] = value;
        const s = new Http2Session<undefined>({ transaction: () => {} }, newHttp2Stats(), FRESH);
        s.push(C, c.subarray(0, cut0 % (c.length + 1)), 1n, true);
        s.push(S, sv.subarray(0, cut1 % (sv.length + 1)), 2n, true);
        s.push(C, c.subarray(cut0 % (c.length + 1)), 3n, true);
        s.push(S, sv.subarray(cut1 % (sv.length + 1)), 4n, false);
        s.close();
      }),
      { numRuns: 3000 },
    );
  });
});
