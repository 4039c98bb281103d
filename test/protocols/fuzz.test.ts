// Robustness of every protocol parser against hostile input: random bytes,
// mutated real traffic (bench/recordings), random chunkings (down to one
// byte per push, through a reused and clobbered Buffer as the agent does),
// and random gaps. No exception may escape, every run must finish within
// RUN_TIME_LIMIT_MS, what a parser retains must stay within the bounds of
// src/protocols/limits.ts, and counters must stay consistent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { MAX_HEAD_BYTES, Http1Exchange, type Http1Transaction } from '../../src/protocols/http1';
import { FRAME_HEADER_BYTES, FrameReader, MAX_BUFFERED_FRAME, newFrameStats, type FrameHeader } from '../../src/protocols/http2/frames';
import { GrpcMessageCounter } from '../../src/protocols/http2/grpc';
import { HpackDecoder, HpackError, huffmanDecode } from '../../src/protocols/http2/hpack';
import { Http2Session, newHttp2Stats, type Http2Transaction } from '../../src/protocols/http2';
import { MAX_HEADER_BLOCK, MAX_HEADER_LIST, MAX_OPEN_STREAMS, MAX_PENDING_REQUESTS, type Limit } from '../../src/protocols/limits';
import {
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  HEADERS,
  PREFACE,
  block,
  frame,
  grpcMessages,
  headers,
  literals,
  settings,
} from '../support/h2';
import {
  Feeder,
  assertProperty,
  ascii,
  assertCounters,
  chunkingArb,
  concat,
  conversations,
  directionBytes,
  mutate,
  mutationArb,
  occurrences,
  pieces,
  retainedBytes,
  timed,
  type Chunking,
  type Side,
  type Step,
} from '../support/fuzz';

/** Runs per property; the whole file stays within a few seconds on 2 cores. */
const NUM_RUNS = 150;
/** Runs of the properties that push megabytes each. */
const HEAVY_RUNS = 6;
/** Bytes pushed by each memory-bound run. */
const HOSTILE_BYTES = 4 * 1024 * 1024;
/** heapUsed may grow by at most this over one heavy run (no --expose-gc: garbage counts too, hence generous). */
const HEAP_MARGIN = 256 * 1024 * 1024;

const HTTP1_PREFIX = ascii('HTTP/1.');

// ---------------------------------------------------------------- HTTP/1

const HTTP1_TOKENS = [
  'GET ', 'POST ', 'HEAD ', 'CONNECT ', 'HTTP/1.1', 'HTTP/1.0', ' 200 OK', ' 101 ', ' 100 Continue', ' 204 ', ' 304 ',
  '\r\n', '\r\n\r\n', '\n', '\r', ': ', ' ', '\t', 'Content-Length: ', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip',
  'Host: h', 'Upgrade: h2c', '0\r\n\r\n', 'ffffffffffffffffff', ';ext=1', '5\r\nhello\r\n', '/', '9007199254740993', ', ', 'traceparent: x',
].map(ascii);

/** dir 0: requests, dir 1: responses. */
type H1Op = Step | { readonly close: true; readonly ts: bigint };

interface H1Outcome {
  txs: Http1Transaction<number>[];
  unanswered: number[];
  limits: Limit[];
  requestsSeen: number;
  ex: Http1Exchange<number>;
  pushed: [number, number];
  skipped: number;
}

function runHttp1(ops: readonly H1Op[], chunking: Chunking, feeder = new Feeder()): H1Outcome {
  const txs: Http1Transaction<number>[] = [];
  const unanswered: number[] = [];
  const limits: Limit[] = [];
  let next = 0;
  const ex = new Http1Exchange<number>({
    transaction: (tx) => txs.push(tx),
    request: () => next++,
    unanswered: (ctx) => unanswered.push(ctx ?? -1),
    limit: (l) => limits.push(l),
  });
  const pushed: [number, number] = [0, 0];
  let skipped = 0;
  for (const op of ops) {
    if ('close' in op) ex.close(op.ts);
    else if ('skip' in op) {
      skipped += op.skip;
      if (op.dir === 0) ex.skipRequest(op.skip, op.ts);
      else ex.skipResponse(op.skip, op.ts);
    } else {
      pushed[op.dir] += op.bytes.length;
      feeder.feed(op.bytes, chunking, (view) => (op.dir === 0 ? ex.pushRequest(view, op.ts) : ex.pushResponse(view, op.ts)));
    }
  }
  return { txs, unanswered, limits, requestsSeen: next, ex, pushed, skipped };
}

/** Invariants read off src/protocols/http1 (see the comments at each). */
function checkHttp1(o: H1Outcome, ops: readonly H1Op[]): void {
  const s = o.ex.stats;
  assertCounters(s);
  assert.equal(s.transactions, o.txs.length);
  assert.equal(s.unansweredRequests, o.unanswered.length);
  assert.equal(s.requests, o.requestsSeen);
  // A request is reported once or given up once, never both, never twice.
  const reported = new Set(o.txs.map((t) => t.ctx));
  assert.equal(reported.size, o.txs.length, 'a request was reported twice');
  for (const u of o.unanswered) assert.ok(!reported.has(u), `request ${u} both reported and unanswered`);
  assert.equal(new Set(o.unanswered).size, o.unanswered.length, 'a request was given up twice');
  assert.ok(s.transactions + s.unansweredRequests <= s.requests);
  // Every transaction pairs a counted request head with a counted final status line.
  assert.ok(s.transactions <= s.responses);
  // Each request line and each status line holds its own "HTTP/1." (both parsed from pushed bytes only).
  const steps = ops.filter((op): op is Step => !('close' in op));
  assert.ok(s.requests <= occurrences(directionBytes(steps, 0), HTTP1_PREFIX), 'more request heads than request lines in the input');
  assert.ok(s.responses <= occurrences(directionBytes(steps, 1), HTTP1_PREFIX), 'more responses than status lines in the input');
  // Discarded bytes are bytes that were pushed or skipped, each counted once.
  assert.ok(s.discardedBytes <= o.pushed[0] + o.pushed[1] + o.skipped, `discarded ${s.discardedBytes} > fed ${o.pushed[0] + o.pushed[1] + o.skipped}`);
  for (const tx of o.txs) {
    assert.ok(tx.status >= 100 && tx.status <= 999, `status ${tx.status}`);
    assert.ok(Number.isSafeInteger(tx.requestBodyBytes) && tx.requestBodyBytes >= 0);
    assert.ok(Number.isSafeInteger(tx.responseBodyBytes) && tx.responseBodyBytes >= 0);
    assert.ok(tx.method.length > 0);
  }
  const pending = o.ex.pendingRequests;
  assert.ok(pending <= MAX_PENDING_REQUESTS);
  // Per direction: the line copy (grown to twice the need, need <= MAX_HEAD_BYTES) and the head's strings;
  // per waiting request (plus the few held by reference elsewhere): its head's strings.
  const bound = 2 * (3 * MAX_HEAD_BYTES + 4096) + (pending + 4) * (MAX_HEAD_BYTES + 1024);
  const held = retainedBytes(o.ex);
  assert.ok(held <= bound, `exchange retains ${held} bytes, bound ${bound}`);
}

const tsCounter = (): (() => bigint) => {
  let t = 0n;
  return () => ++t;
};

/** Ops with increasing timestamps. */
function h1Ops(raw: ReadonlyArray<{ kind: 'push'; dir: Side; bytes: Uint8Array } | { kind: 'skip'; dir: Side; n: number } | { kind: 'close' }>): H1Op[] {
  const ts = tsCounter();
  return raw.map((r) => {
    if (r.kind === 'close') return { close: true as const, ts: ts() };
    if (r.kind === 'skip') return { dir: r.dir, skip: r.n, ts: ts() };
    return { dir: r.dir, bytes: r.bytes, ts: ts(), syscallStart: true };
  });
}

const sideArb = fc.constantFrom<Side>(0, 1);
/** Random bytes, or words of the protocol glued with random bytes (reaches deeper states). */
function bytesArb(tokens: readonly Uint8Array[], maxLength = 512): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength }),
    fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...tokens) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }) }), { maxLength: 48 }).map(concat),
  );
}
function rawOpsArb(tokens: readonly Uint8Array[]) {
  return fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('push' as const), dir: sideArb, bytes: bytesArb(tokens) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('skip' as const), dir: sideArb, n: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 2 ** 40 })) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
    ),
    { maxLength: 24 },
  );
}

/** An HTTP/1 recording's connections, requests as dir 0. */
function http1Conversations(): Step[][] {
  const out: Step[][] = [];
  for (const c of conversations('http1', 8 * 1024)) {
    const first = c.steps.find((s): s is Extract<Step, { bytes: Uint8Array }> => 'bytes' in s);
    if (!first) continue;
    const reqDir = occurrences(first.bytes.subarray(0, 8), ascii('HTTP/1.')) > 0 ? (first.dir === 0 ? 1 : 0) : first.dir;
    out.push(c.steps.map((s) => ({ ...s, dir: (s.dir === reqDir ? 0 : 1) as Side })));
  }
  assert.ok(out.length > 0, 'no HTTP/1 connections in the recording');
  return out;
}

/** Real steps with some pushes mutated, some dropped or turned into skips, some duplicated. */
function mutatedStepsArb(convs: readonly Step[][], tokens: readonly Uint8Array[]): fc.Arbitrary<Step[]> {
  return fc
    .record({
      conv: fc.nat({ max: convs.length - 1 }),
      edits: fc.array(
        fc.record({
          at: fc.nat(),
          kind: fc.constantFrom('mutate', 'mutate', 'mutate', 'drop', 'skip', 'dup'),
          muts: fc.array(mutationArb(tokens), { minLength: 1, maxLength: 6 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    })
    .map(({ conv, edits }) => {
      const steps = convs[conv].slice();
      for (const e of edits) {
        if (steps.length === 0) break;
        const i = e.at % steps.length;
        const s = steps[i];
        if (e.kind === 'drop') steps.splice(i, 1);
        else if (e.kind === 'dup') steps.splice(i, 0, s);
        else if ('bytes' in s) {
          steps[i] = e.kind === 'skip' ? { dir: s.dir, skip: s.bytes.length, ts: s.ts } : { ...s, bytes: mutate(s.bytes, e.muts) };
        }
      }
      return steps;
    });
}

describe('HTTP/1 parser under hostile input', () => {
  const convs = http1Conversations();

  it(`random bytes, chunkings, skips and closes: nothing escapes, invariants hold (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(rawOpsArb(HTTP1_TOKENS), chunkingArb, (raw, chunking) => {
        const ops = h1Ops(raw);
        const o = timed('HTTP/1 run', () => runHttp1(ops, chunking));
        checkHttp1(o, ops);
        // No status line in the responses: nothing can be reported.
        const steps = ops.filter((op): op is Step => !('close' in op));
        if (occurrences(directionBytes(steps, 1), HTTP1_PREFIX) === 0) assert.equal(o.txs.length, 0);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`purely random bytes without "HTTP/1." never yield a transaction (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.array(fc.record({ dir: sideArb, bytes: fc.uint8Array({ maxLength: 2048 }) }), { maxLength: 12 }), chunkingArb, (raw, chunking) => {
        const ops = h1Ops(raw.map((r) => ({ kind: 'push' as const, ...r })));
        ops.push({ close: true, ts: 999n });
        const o = timed('HTTP/1 run', () => runHttp1(ops, chunking));
        checkHttp1(o, ops);
        const steps = ops.filter((op): op is Step => !('close' in op));
        if (occurrences(directionBytes(steps, 1), HTTP1_PREFIX) === 0) {
          assert.equal(o.txs.length, 0);
          assert.equal(o.ex.stats.responses, 0);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`mutated real traffic (bench/recordings/http1), chunked and with gaps (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(mutatedStepsArb(convs, HTTP1_TOKENS), chunkingArb, fc.boolean(), (steps, chunking, close) => {
        const ops: H1Op[] = close ? [...steps, { close: true, ts: 2n ** 62n }] : steps;
        const o = timed('HTTP/1 run', () => runHttp1(ops, chunking));
        checkHttp1(o, ops);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`real traffic gives the same transactions in any chunking (${NUM_RUNS} runs)`, () => {
    const wholeRuns = convs.map((steps) => runHttp1(steps, { kind: 'whole' }));
    assert.ok(wholeRuns.some((r) => r.txs.length > 0), 'the recording yields transactions');
    assertProperty(
      fc.property(fc.nat({ max: convs.length - 1 }), chunkingArb, (i, chunking) => {
        const o = timed('HTTP/1 run', () => runHttp1(convs[i], chunking));
        checkHttp1(o, convs[i]);
        assert.deepEqual(o.txs, wholeRuns[i].txs);
        assert.deepEqual(o.ex.stats, wholeRuns[i].ex.stats);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  // Megabytes aimed at each bound: the parser must stop or stay in place, never grow with the input.
  const HOSTILE_H1: Record<string, { dir: Side; prefix: string; repeat: string }> = {
    'endless header line': { dir: 0, prefix: 'GET / HTTP/1.1\r\nX: ', repeat: 'a' },
    'endless header section': { dir: 0, prefix: 'GET / HTTP/1.1\r\n', repeat: 'a: b\r\n' },
    'endless request target': { dir: 0, prefix: 'GET /', repeat: 'a' },
    'endless chunk extension': { dir: 0, prefix: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;', repeat: 'a' },
    'endless chunk size': { dir: 0, prefix: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n', repeat: 'f' },
    'endless trailers': { dir: 0, prefix: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n', repeat: 'a: b\r\n' },
    'pipelined request flood': { dir: 0, prefix: '', repeat: 'GET / HTTP/1.1\r\nHost: h\r\n\r\n' },
    'endless status reason': { dir: 1, prefix: 'HTTP/1.1 200 ', repeat: 'a' },
    'endless response headers': { dir: 1, prefix: 'HTTP/1.1 200 OK\r\n', repeat: 'a: b\r\n' },
    'body until close': { dir: 1, prefix: 'HTTP/1.1 200 OK\r\n\r\n', repeat: 'x' },
    'tiny chunks': { dir: 1, prefix: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', repeat: '1\r\nx\r\n' },
    'garbage': { dir: 0, prefix: '', repeat: '\x00\xff GE GET\r\n' },
    'method prefixes': { dir: 0, prefix: '', repeat: 'GE' },
  };

  it(`megabytes aimed at each bound stay memory-bounded and fast (${HEAVY_RUNS} runs x ${Object.keys(HOSTILE_H1).length} shapes)`, () => {
    assertProperty(
      fc.property(fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 17, max: 65536 })), fc.boolean(), (chunk, answer) => {
        for (const [name, h] of Object.entries(HOSTILE_H1)) {
          const total = chunk < 64 ? HOSTILE_BYTES / 8 : HOSTILE_BYTES;
          const unit = ascii(h.repeat);
          const pattern = new Uint8Array(Math.max(chunk, 65536) + unit.length);
          for (let i = 0; i < pattern.length; i++) pattern[i] = unit[i % unit.length];
          const heap0 = process.memoryUsage().heapUsed;
          const ex = new Http1Exchange<number>({ transaction: () => undefined });
          const push = (dir: Side, b: Uint8Array, ts: bigint) => (dir === 0 ? ex.pushRequest(b, ts) : ex.pushResponse(b, ts));
          timed(`HTTP/1 ${name}`, () => {
            if (answer && h.dir === 1) ex.pushRequest(ascii('GET / HTTP/1.1\r\n\r\n'), 1n);
            push(h.dir, ascii(h.prefix), 2n);
            let phase = 0;
            for (let sent = 0; sent < total; sent += chunk) {
              push(h.dir, pattern.subarray(phase, phase + chunk), 3n);
              phase = (phase + chunk) % unit.length;
            }
          });
          assertCounters(ex.stats);
          assert.ok(ex.pendingRequests <= MAX_PENDING_REQUESTS, `${name}: ${ex.pendingRequests} requests waiting`);
          const bound = 2 * (3 * MAX_HEAD_BYTES + 4096) + (ex.pendingRequests + 4) * (MAX_HEAD_BYTES + 1024);
          const held = retainedBytes(ex);
          assert.ok(held <= bound, `${name}: exchange retains ${held} bytes, bound ${bound}`);
          const grew = process.memoryUsage().heapUsed - heap0;
          assert.ok(grew < HEAP_MARGIN, `${name}: heap grew ${grew} bytes`);
        }
      }),
      { numRuns: HEAVY_RUNS },
    );
  });
});

// ---------------------------------------------------------------- HTTP/2 frames

interface FrameLog {
  frames: Array<{ h: FrameHeader; payload: string | undefined }>;
  data: Array<{ id: number; n: number; bytes: string | undefined }>;
  desyncs: number;
}

function runFrames(steps: readonly Step[], chunking: Chunking, expectPreface: boolean, synced: boolean): { log: FrameLog; reader: FrameReader; fed: number } {
  const log: FrameLog = { frames: [], data: [], desyncs: 0 };
  const stats = newFrameStats();
  const reader = new FrameReader(
    {
      onData: (id, data, n) => {
        assert.ok(Number.isSafeInteger(n) && n >= 0, `onData n = ${n}`);
        if (data) assert.equal(data.length, n);
        log.data.push({ id, n, bytes: data && Buffer.from(data).toString('hex') });
      },
      onFrame: (h, payload) => {
        if (payload) {
          assert.equal(payload.length, h.length, 'a frame payload handed over whole');
          assert.ok(payload.length <= MAX_BUFFERED_FRAME);
        }
        log.frames.push({ h: { ...h }, payload: payload && Buffer.from(payload).toString('hex') });
      },
      onDesync: () => void log.desyncs++,
    },
    stats,
    expectPreface,
    synced,
  );
  const feeder = new Feeder();
  let fed = 0;
  for (const s of steps) {
    if ('skip' in s) {
      fed += s.skip;
      reader.skip(s.skip, s.ts);
    } else {
      fed += s.bytes.length;
      feeder.feed(s.bytes, chunking, (view, first) => reader.push(view, s.ts, first && s.syscallStart));
    }
  }
  return { log, reader, fed };
}

function checkFrames(r: { log: FrameLog; reader: FrameReader; fed: number }, startedSynced: boolean): void {
  const st = r.reader.stats;
  assertCounters(st);
  assert.equal(st.frames, r.log.frames.length);
  assert.equal(st.desyncs, r.log.desyncs);
  // Resyncs only happen out of a desync (or out of the initial unsynced state).
  assert.ok(st.resyncs <= st.desyncs + (startedSynced ? 0 : 1), `resyncs ${st.resyncs} > desyncs ${st.desyncs}`);
  assert.ok(st.bytesDesynced <= r.fed, `desynced ${st.bytesDesynced} > fed ${r.fed}`);
  const held = retainedBytes(r.reader);
  assert.ok(held <= MAX_BUFFERED_FRAME + 4096, `frame reader retains ${held} bytes`);
}

/** Frames with any type/flags/stream, payloads random or real header blocks. */
const H2_BLOCKS = [
  literals({ ':method': 'GET', ':path': '/a', ':authority': 'h', ':scheme': 'http' }),
  literals({ ':status': '200', 'content-type': 'application/grpc' }),
  literals({ 'grpc-status': '0' }),
  block({ index: 2 }, { index: 4 }, { name: 'x', value: 'y', indexing: true }, { index: 62 }),
  block({ sizeUpdate: 0 }, { index: 8 }),
  block({ index: 3 }, { nameIndex: 4, value: '/shop.Catalog/Get', indexing: true }, { nameIndex: 31, value: 'application/grpc' }),
];
const frameArb: fc.Arbitrary<Uint8Array> = fc
  .record({
    type: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 9 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
    flags: fc.oneof(fc.constantFrom(0, END_STREAM, END_HEADERS, END_HEADERS | END_STREAM, 0x08, 0x20, 0x2d), fc.integer({ min: 0, max: 255 })),
    stream: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 0x7fffffff })),
    payload: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...H2_BLOCKS), fc.constantFrom(grpcMessages(Buffer.from('hi')), Buffer.alloc(8), Buffer.alloc(4))),
    lie: fc.option(fc.integer({ min: 0, max: 0xffffff }), { freq: 8 }),
  })
  .map(({ type, flags, stream, payload, lie }) => {
    const f = frame(type, flags, stream, payload);
    if (lie !== null) f.writeUIntBE(lie, 0, 3); // a length that does not match the payload
    return f;
  });
const framesBytesArb = fc.array(frameArb, { maxLength: 16 }).map(concat);

function h2StepsArb(bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Step[]> {
  return fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.record({ dir: sideArb, bytes, syscallStart: fc.boolean() }) },
        { weight: 1, arbitrary: fc.record({ dir: sideArb, skip: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 2 ** 40 })) }) },
      ),
      { maxLength: 16 },
    )
    .map((raw) => raw.map((r, i) => ({ ...r, ts: BigInt(i + 1) }) as Step));
}

describe('HTTP/2 frame reader under hostile input', () => {
  it(`random bytes and random frames, any chunking: a synced reader reads the same frames (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 4096 }), framesBytesArb), fc.boolean(), chunkingArb, (bytes, preface, chunking) => {
        const input = preface ? concat([PREFACE, bytes]) : bytes;
        const steps: Step[] = [{ dir: 0, bytes: input, ts: 1n, syscallStart: true }];
        const whole = timed('frame reader', () => runFrames(steps, { kind: 'whole' }, preface, true));
        const split = timed('frame reader', () => runFrames(steps, chunking, preface, true));
        checkFrames(whole, true);
        checkFrames(split, true);
        // Without skips a synced reader never loses the boundaries, however the bytes are cut.
        assert.equal(whole.reader.stats.desyncs, 0);
        assert.deepEqual(split.log.frames, whole.log.frames);
        const dataOf = (l: FrameLog) => l.data.map((d) => d.bytes).join('');
        assert.equal(dataOf(split.log), dataOf(whole.log));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`random pushes, gaps and syscall boundaries, synced or not (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(h2StepsArb(fc.oneof(fc.uint8Array({ maxLength: 512 }), framesBytesArb)), chunkingArb, fc.boolean(), fc.boolean(), (steps, chunking, preface, synced) => {
        const mine = steps.map((s) => ({ ...s, dir: 0 as Side }));
        const r = timed('frame reader', () => runFrames(mine, chunking, preface && synced, synced));
        checkFrames(r, synced);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`oversized frames and endless payloads are stepped over, never buffered (${HEAVY_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1024, max: 65536 }), (type, chunk) => {
        const stats = newFrameStats();
        const reader = new FrameReader({ onData: () => undefined, onFrame: () => undefined, onDesync: () => undefined }, stats, false, true);
        const body = new Uint8Array(chunk);
        timed('frame reader flood', () => {
          for (let sent = 0; sent < HOSTILE_BYTES; ) {
            reader.push(frame(type, 0, 1, Buffer.alloc(0)).fill(0xff, 0, 3), 1n, true); // length 2^24-1
            for (let left = 0xffffff; left > 0 && sent < HOSTILE_BYTES; left -= chunk, sent += chunk) reader.push(body.subarray(0, Math.min(chunk, left)), 1n, false);
            const held = retainedBytes(reader);
            assert.ok(held <= MAX_BUFFERED_FRAME + 4096, `frame reader retains ${held} bytes`);
          }
        });
        assertCounters(stats);
      }),
      { numRuns: HEAVY_RUNS },
    );
  });
});

// ---------------------------------------------------------------- HPACK

/** Header blocks (HEADERS and CONTINUATION fragments, joined) from a recording, in order, per direction. */
function realBlocks(name: 'http2' | 'grpc'): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (const c of conversations(name, 8 * 1024)) {
    for (const dir of [0, 1] as const) {
      const blocks: Uint8Array[] = [];
      let parts: Uint8Array[] = [];
      const bytes = directionBytes(c.steps, dir);
      const preface = Buffer.from(bytes.subarray(0, PREFACE.length)).equals(PREFACE);
      const r = new FrameReader(
        {
          onData: () => undefined,
          onFrame: (h, p) => {
            if (!p || (h.type !== HEADERS && h.type !== CONTINUATION)) return;
            let from = 0;
            let to = p.length;
            if (h.type === HEADERS && h.flags & 0x8) {
              from = 1;
              to -= p[0];
            }
            if (h.type === HEADERS && h.flags & 0x20) from += 5;
            parts.push(Uint8Array.from(p.subarray(from, Math.max(from, to))));
            if (h.flags & END_HEADERS) {
              blocks.push(concat(parts));
              parts = [];
            }
          },
          onDesync: () => undefined,
        },
        newFrameStats(),
        preface,
        true,
      );
      r.push(bytes, 1n, true);
      if (blocks.length > 0) out.push(blocks);
    }
  }
  assert.ok(out.length > 0, 'no header blocks in the recording');
  return out;
}

const HPACK_TOKENS = [[0x80], [0xff, 0xff, 0xff, 0xff, 0x0f], [0x3f, 0xe1, 0x1f], [0x40], [0x00], [0x7f], [0x20], [0x87], [0xbe], [0x8f, 0xff]].map((b) => Uint8Array.from(b));

function checkDecode(d: HpackDecoder, b: Uint8Array): void {
  try {
    const fields = d.decode(b);
    // Every field takes at least one octet; the list is within MAX_HEADER_LIST (RFC 7541 §4.1 sizes).
    assert.ok(fields.length <= b.length);
    let size = 0;
    for (const f of fields) size += (f.name?.length ?? 0) + (f.value?.length ?? 0) + 32;
    assert.ok(size <= MAX_HEADER_LIST, `decoded list of ${size} bytes`);
  } catch (e) {
    assert.ok(e instanceof HpackError, `decode threw ${String(e)}`);
  }
  assertCounters({ tableSize: d.tableSize });
}

describe('HPACK decoder under hostile input', () => {
  const real = [...realBlocks('http2'), ...realBlocks('grpc')];

  it(`random blocks throw nothing but HpackError, and the decoder stays usable (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 256 }), fc.array(fc.constantFrom(...HPACK_TOKENS), { maxLength: 16 }).map(concat)), { maxLength: 16 }), fc.boolean(), (blocks, complete) => {
        const d = new HpackDecoder(complete);
        timed('hpack', () => {
          for (const b of blocks) checkDecode(d, b);
          // Still decodes a plain block afterwards.
          assert.deepEqual(d.decode(literals({ a: 'b' })), [{ name: 'a', value: 'b' }]);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`mutated real header blocks, re-cut into other blocks, with losses (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(
        fc.nat({ max: real.length - 1 }),
        fc.array(fc.record({ at: fc.nat(), muts: fc.array(mutationArb(HPACK_TOKENS), { minLength: 1, maxLength: 4 }) }), { maxLength: 6 }),
        chunkingArb,
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.boolean(),
        (i, edits, chunking, losses, complete) => {
          const blocks = real[i].slice();
          for (const e of edits) blocks[e.at % blocks.length] = mutate(blocks[e.at % blocks.length], e.muts);
          const d = new HpackDecoder(complete);
          const lost = new Set(losses.map((l) => l % blocks.length));
          timed('hpack', () => {
            blocks.forEach((b, k) => {
              if (lost.has(k)) d.desync();
              // A block cut at other places (as if fragments were taken for whole blocks).
              let at = 0;
              for (const n of pieces(b.length, chunking)) {
                checkDecode(d, b.subarray(at, at + n));
                at += n;
              }
            });
          });
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it(`random Huffman strings decode or throw HpackError (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (b) => {
        try {
          const s = huffmanDecode(b, 0, b.length);
          assert.ok(s.length <= Math.ceil((b.length * 8) / 5));
        } catch (e) {
          assert.ok(e instanceof HpackError, `huffmanDecode threw ${String(e)}`);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`the dynamic table never outgrows the SETTINGS limit in force, even after a decoding error (${NUM_RUNS} runs)`, () => {
    // RFC 7541 §4.2: a size update above SETTINGS_HEADER_TABLE_SIZE is an error; the limit is
    // known to a decoder that saw the connection from its start, whatever happened since.
    const entryArb = fc.record({ name: fc.string({ minLength: 1, maxLength: 8 }), value: fc.integer({ min: 0, max: 3000 }).map((n) => 'v'.repeat(n)), indexing: fc.constant(true) });
    assertProperty(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 32 }),
            fc.record({ size: fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 0, max: 0x7fffffff })), entries: fc.array(entryArb, { maxLength: 4 }) }).map(({ size, entries }) => block({ sizeUpdate: size }, ...entries)),
          ),
          { maxLength: 12 },
        ),
        (blocks) => {
          const d = new HpackDecoder(true);
          for (const b of blocks) {
            checkDecode(d, b);
            assert.ok(d.tableSize <= 4096, `table holds ${d.tableSize} octets with SETTINGS_HEADER_TABLE_SIZE 4096`);
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

// ---------------------------------------------------------------- HTTP/2 session

interface H2Outcome {
  txs: Http2Transaction<number>[];
  unanswered: number[];
  limits: Limit[];
  opened: number;
  session: Http2Session<number>;
  fed: number;
}

type H2Opts = { clientSide: Side | undefined; complete: boolean; synced: [boolean, boolean] };

function runH2(opts: H2Opts, steps: readonly Step[], chunking: Chunking, close: boolean): H2Outcome {
  const txs: Http2Transaction<number>[] = [];
  const unanswered: number[] = [];
  const limits: Limit[] = [];
  let opened = 0;
  const session = new Http2Session<number>(
    { transaction: (tx) => txs.push(tx), request: () => opened++, unanswered: (ctx) => unanswered.push(ctx ?? -1), limit: (l) => limits.push(l) },
    newHttp2Stats(),
    opts,
  );
  const feeder = new Feeder();
  let fed = 0;
  for (const s of steps) {
    if ('skip' in s) {
      fed += s.skip;
      session.skip(s.dir, s.skip, s.ts);
    } else {
      fed += s.bytes.length;
      feeder.feed(s.bytes, chunking, (view, first) => session.push(s.dir, view, s.ts, first && s.syscallStart));
    }
  }
  if (close) session.close();
  return { txs, unanswered, limits, opened, session, fed };
}

function checkH2(o: H2Outcome, inputBytes: number): void {
  const st = o.session.stats;
  assertCounters(st);
  assert.equal(st.transactions, o.txs.length);
  assert.equal(st.unansweredStreams, o.unanswered.length);
  const reported = new Set(o.txs.map((t) => t.ctx));
  assert.equal(reported.size, o.txs.length, 'a stream was reported twice');
  for (const u of o.unanswered) assert.ok(!reported.has(u), `stream ${u} both reported and unanswered`);
  assert.equal(new Set(o.unanswered).size, o.unanswered.length, 'a stream was given up twice');
  assert.ok(o.txs.length + o.unanswered.length <= o.opened);
  assert.ok(o.limits.length <= 1, 'a session stops at its first limit');
  assert.ok(st.frames.bytesDesynced <= o.fed);
  for (const tx of o.txs) {
    // Requests open odd, client-initiated streams only (RFC 9113 §5.1.1).
    assert.ok(tx.streamId > 0 && tx.streamId % 2 === 1, `stream ${tx.streamId}`);
    assert.ok(tx.status === undefined || (tx.status >= 100 && tx.status <= 999));
    assert.ok(Number.isSafeInteger(tx.requestBodyBytes) && tx.requestBodyBytes >= 0);
    assert.ok(Number.isSafeInteger(tx.responseBodyBytes) && tx.responseBodyBytes >= 0);
    if (tx.grpc) {
      assert.ok(tx.grpc.requestMessages <= Math.max(0, Math.floor(tx.requestBodyBytes / 5)));
      assert.ok(tx.grpc.responseMessages <= Math.max(0, Math.floor(tx.responseBodyBytes / 5)));
    }
  }
  // Two readers (a buffered frame each), two pending blocks, two HPACK tables at the default size
  // (plus evicted entries not yet compacted and a view of the last block); anything beyond grows only with the input.
  const bound = 2 * (MAX_BUFFERED_FRAME + 2 * MAX_HEADER_BLOCK + 3 * 4096 + 4096) + 8 * inputBytes;
  const held = retainedBytes(o.session);
  assert.ok(held <= bound, `session retains ${held} bytes, bound ${bound}`);
}

const optsArb: fc.Arbitrary<H2Opts> = fc.record({
  clientSide: fc.constantFrom<Side | undefined>(0, 1, undefined),
  complete: fc.boolean(),
  synced: fc.tuple(fc.boolean(), fc.boolean()),
});

function h2Conversations(): Array<{ opts: H2Opts; steps: Step[] }> {
  const out: Array<{ opts: H2Opts; steps: Step[] }> = [];
  for (const c of [...conversations('http2', 12 * 1024), ...conversations('grpc', 12 * 1024)]) {
    const starts = (dir: Side) => {
      const b = directionBytes(c.steps, dir);
      return Buffer.from(b.subarray(0, PREFACE.length)).equals(PREFACE);
    };
    const client = starts(0) ? 0 : starts(1) ? 1 : undefined;
    out.push({ opts: { clientSide: client, complete: client !== undefined, synced: [client !== undefined, client !== undefined] }, steps: c.steps });
  }
  return out;
}

function stepsBytes(steps: readonly Step[]): number {
  let n = 0;
  for (const s of steps) if ('bytes' in s) n += s.bytes.length;
  return n;
}

describe('HTTP/2 session under hostile input', () => {
  const convs = h2Conversations();

  it(`random bytes and random frames on both sides, any options (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(optsArb, h2StepsArb(fc.oneof(fc.uint8Array({ maxLength: 512 }), framesBytesArb)), chunkingArb, fc.boolean(), (opts, steps, chunking, close) => {
        const o = timed('HTTP/2 run', () => runH2(opts, steps, chunking, close));
        checkH2(o, stepsBytes(steps));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`with only the client's bytes, every transaction is a reset, never a response (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.constantFrom<Side>(0, 1), fc.array(frameArb, { maxLength: 24 }), chunkingArb, (client, frames, chunking) => {
        const steps: Step[] = [{ dir: client, bytes: concat([PREFACE, ...frames]), ts: 1n, syscallStart: true }];
        const o = timed('HTTP/2 run', () => runH2({ clientSide: client, complete: true, synced: [true, true] }, steps, chunking, true));
        checkH2(o, stepsBytes(steps));
        for (const tx of o.txs) {
          assert.notEqual(tx.resetCode, undefined, 'a transaction without any server byte must come from RST_STREAM');
          assert.equal(tx.status, undefined);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`with only the server's bytes, nothing is reported (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.constantFrom<Side>(0, 1), fc.array(frameArb, { maxLength: 24 }), chunkingArb, (client, frames, chunking) => {
        const server: Side = client === 0 ? 1 : 0;
        const steps: Step[] = [{ dir: server, bytes: concat(frames), ts: 1n, syscallStart: true }];
        const o = timed('HTTP/2 run', () => runH2({ clientSide: client, complete: true, synced: [true, true] }, steps, chunking, true));
        checkH2(o, stepsBytes(steps));
        assert.equal(o.txs.length, 0);
        assert.equal(o.opened, 0);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`mutated real traffic (bench/recordings/http2, grpc), chunked and with gaps (${NUM_RUNS} runs)`, () => {
    const H2_TOKENS = [PREFACE, frame(CONTINUATION, 0, 1), frame(HEADERS, 0, 1), Buffer.alloc(9), Buffer.from([0xff, 0xff, 0xff]), ...H2_BLOCKS];
    const byConv = convs.map((c) => c.steps);
    assertProperty(
      fc.property(fc.nat({ max: convs.length - 1 }), mutatedStepsArb(byConv, H2_TOKENS), chunkingArb, fc.boolean(), (i, steps, chunking, close) => {
        // mutatedStepsArb picks its own conversation; options come from another pick (wrong guesses are hostile too).
        const o = timed('HTTP/2 run', () => runH2(convs[i].opts, steps, chunking, close));
        checkH2(o, stepsBytes(steps));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`real traffic gives the same transactions in any chunking, through a reused buffer (${NUM_RUNS} runs)`, () => {
    const whole = convs.map((c) => {
      const txs: Http2Transaction<number>[] = [];
      let n = 0;
      const s = new Http2Session<number>({ transaction: (tx) => txs.push(tx), request: () => n++ }, newHttp2Stats(), c.opts);
      // Fresh copies: the reference run cannot suffer from a reused buffer.
      for (const st of c.steps) if ('skip' in st) s.skip(st.dir, st.skip, st.ts); else s.push(st.dir, Uint8Array.from(st.bytes), st.ts, st.syscallStart);
      return txs;
    });
    assert.ok(whole.some((t) => t.length > 0), 'the recordings yield transactions');
    assertProperty(
      fc.property(fc.nat({ max: convs.length - 1 }), chunkingArb, (i, chunking) => {
        const o = timed('HTTP/2 run', () => runH2(convs[i].opts, convs[i].steps, chunking, false));
        checkH2(o, stepsBytes(convs[i].steps));
        assert.deepEqual(o.txs, whole[i]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`a header block split over HEADERS and CONTINUATION decodes the same when the caller reuses its buffer (${NUM_RUNS} runs)`, () => {
    // The agent hands out views of a batch it reuses once the callback returns (src/capture/events.ts: "valid only during the call").
    const fieldArb = fc.record({ ':method': fc.constantFrom('GET', 'POST'), ':path': fc.stringMatching(/^\/[a-z]{1,40}$/), ':authority': fc.stringMatching(/^[a-z]{1,20}$/) });
    assertProperty(
      fc.property(fieldArb, fc.nat(), chunkingArb, (f, cut, chunking) => {
        const blk = literals({ ...f, ':scheme': 'http' });
        const k = 1 + (cut % (blk.length - 1));
        const client: Step[] = [
          { dir: 1, bytes: concat([PREFACE, settings()]), ts: 1n, syscallStart: true },
          { dir: 1, bytes: frame(HEADERS, END_STREAM, 1, blk.subarray(0, k)), ts: 2n, syscallStart: true },
          { dir: 1, bytes: frame(CONTINUATION, END_HEADERS, 1, blk.subarray(k)), ts: 3n, syscallStart: true },
        ];
        const server: Step[] = [
          { dir: 0, bytes: settings(), ts: 4n, syscallStart: true },
          { dir: 0, bytes: headers(1, literals({ ':status': '200' }), true), ts: 5n, syscallStart: true },
        ];
        const o = runH2({ clientSide: 1, complete: true, synced: [true, true] }, [...client, ...server], chunking, false);
        checkH2(o, 0);
        assert.deepEqual(o.limits, [], 'no limit crossed');
        assert.deepEqual(o.txs.map((t) => [t.method, t.path, t.authority, t.status]), [[f[':method'], f[':path'], f[':authority'], 200]]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  // Floods aimed at each bound.
  /** Only the stream-id storm may hold MAX_OPEN_STREAMS (small) streams. */
  const STORM = 'stream-id storm';
  const HOSTILE_H2: Record<string, (push: (side: Side, b: Uint8Array) => void, budget: number) => void> = {
    'CONTINUATION flood': (push, budget) => {
      push(1, frame(HEADERS, 0, 1, literals({ ':method': 'GET' })));
      const c = frame(CONTINUATION, 0, 1, Buffer.alloc(16 * 1024, 0x40));
      for (let sent = 0; sent < budget; sent += c.length) push(1, c);
    },
    [STORM]: (push, budget) => {
      const blk = block({ index: 2 }, { index: 4 });
      for (let id = 1, sent = 0; sent < budget && id < 0x7fffffff; id += 2) {
        const f = headers(id, blk);
        push(1, f);
        sent += f.length;
      }
    },
    'oversized non-DATA frames': (push, budget) => {
      const big = frame(PING_TYPE, 0, 0, Buffer.alloc(MAX_BUFFERED_FRAME + 1));
      for (let sent = 0; sent < budget; sent += big.length) push(1, big);
    },
    'endless DATA on open streams': (push, budget) => {
      push(1, headers(1, block({ index: 3 }, { index: 4 })));
      const d = frame(DATA, 0, 1, Buffer.alloc(64 * 1024));
      for (let sent = 0; sent < budget; sent += d.length) push(1, d);
    },
    'HPACK table growth after a lost block': (push, budget) => {
      // A CONTINUATION nothing waits for: the block is lost and the table unknown (hpack.desync()).
      push(1, frame(CONTINUATION, END_HEADERS, 1, Buffer.alloc(1)));
      let id = 1;
      const pad = 'x'.repeat(200 * 1024);
      for (let sent = 0; sent < budget; id += 2) {
        const b = block(...(id === 1 ? [{ sizeUpdate: 0x7fffffff }] : []), { index: 2 }, { index: 4 }, { name: `p${id}`, value: pad, indexing: true });
        push(1, headers(id, b, true));
        push(0, headers(id, block({ index: 8 }), true));
        sent += b.length;
      }
    },
  };

  it(`megabytes aimed at each bound stay memory-bounded and fast (${HEAVY_RUNS} runs x ${Object.keys(HOSTILE_H2).length} shapes)`, () => {
    assertProperty(
      fc.property(fc.integer({ min: 1024, max: 65536 }), (chunk) => {
        for (const [name, attack] of Object.entries(HOSTILE_H2)) {
          const heap0 = process.memoryUsage().heapUsed;
          const stats = newHttp2Stats();
          const session = new Http2Session<undefined>({ transaction: () => undefined }, stats, { clientSide: 1, complete: true, synced: [true, true] });
          session.push(1, concat([PREFACE, settings()]), 1n, true);
          session.push(0, settings(), 1n, true);
          timed(`HTTP/2 ${name}`, () =>
            attack((side, b) => {
              for (let at = 0; at < b.length; at += chunk) session.push(side, b.subarray(at, at + chunk), 2n, at === 0);
            }, HOSTILE_BYTES),
          );
          assertCounters(stats);
          // Fixed per connection: two buffered frames, two pending blocks, two HPACK tables at the
          // default 4096 (x3 for entries evicted but not compacted); in the storm, MAX_OPEN_STREAMS small streams.
          const bound = 2 * (MAX_BUFFERED_FRAME + 2 * MAX_HEADER_BLOCK + 3 * 4096 + 4096) + (name === STORM ? MAX_OPEN_STREAMS * 2048 : 64 * 1024);
          const held = retainedBytes(session);
          assert.ok(held <= bound, `${name}: session retains ${held} bytes after ${HOSTILE_BYTES} hostile bytes, bound ${bound}`);
          const grew = process.memoryUsage().heapUsed - heap0;
          assert.ok(grew < HEAP_MARGIN, `${name}: heap grew ${grew} bytes`);
        }
      }),
      { numRuns: HEAVY_RUNS },
    );
  });
});

const PING_TYPE = 6;

// ---------------------------------------------------------------- gRPC messages

describe('gRPC message counter under hostile input', () => {
  it(`random bytes, chunkings and gaps: counts stay consistent (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 16 }).map((bs) => Uint8Array.from(grpcMessages(...bs)))),
        fc.array(fc.record({ mutation: mutationArb() }), { maxLength: 4 }),
        chunkingArb,
        fc.array(fc.record({ at: fc.nat(), n: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 2 ** 40 })) }), { maxLength: 3 }),
        (raw, muts, chunking, gaps) => {
          const bytes = mutate(raw, muts.map((m) => m.mutation));
          const whole = new GrpcMessageCounter();
          whole.push(bytes);
          const split = new GrpcMessageCounter();
          const gapped = new GrpcMessageCounter();
          const gapAt = new Map(gaps.map((g) => [g.at % (bytes.length + 1), g.n]));
          let at = 0;
          let pushed = 0;
          timed('grpc counter', () => {
            for (const n of pieces(bytes.length, chunking)) {
              const piece = bytes.subarray(at, at + n);
              split.push(piece);
              const g = gapAt.get(at);
              if (g !== undefined) gapped.skip(g);
              gapped.push(piece);
              pushed += n;
              at += n;
            }
          });
          // Chunking changes nothing; every message took 5 pushed prefix bytes.
          assert.equal(split.count, whole.count);
          assert.equal(split.exact, true);
          assert.equal(split.wholeMessages(bytes.length), whole.wholeMessages(bytes.length));
          assert.ok(whole.count <= Math.floor(bytes.length / 5));
          assert.ok(gapped.count <= Math.floor(pushed / 5));
          assert.ok(Number.isSafeInteger(gapped.count) && gapped.count >= 0);
          if (!gapped.exact) assert.equal(gapped.wholeMessages(pushed), false);
          assert.ok(retainedBytes(gapped) < 256);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('a frame header is exactly FRAME_HEADER_BYTES long (sanity of the harness)', () => {
    assert.equal(frame(DATA, 0, 1).length, FRAME_HEADER_BYTES);
  });
});
