// Robustness of the batch decoder against hostile batches: random bytes and
// counts, records with random size headers, truncated and mutated real
// batches (bench/recordings). Nothing may throw, every call is bounded in
// time, and the counters obey: each of the `count` records the caller
// announced is either decoded (events) or counted malformed, and every
// decoded record reaches the sink unless its type is unknown: once, or once
// per piece for a pieced data record.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { BatchDecoder, aligned, commOf, endpointsOf, hasTuple, type DecodeStats } from '../../src/capture/decoder';
import { CLOSE_EVENT_SIZE, DATA_EVENT_SIZE, EV_CLOSE, EV_DATA, EV_TLS_BIND, TLS_BIND_EVENT_SIZE } from '../../src/capture/layout';
import type { RecordedBatch } from '../../src/capture/recording';
import { closeRecord, dataRecord, tlsBindRecord } from '../support/batch';
import { assertCounters, assertProperty, mutate, mutationArb, recordedBatches, retainedBytes, timed } from '../support/fuzz';

/** Runs per property; the file stays within a few seconds on 2 cores. */
const NUM_RUNS = 200;
/** Real batches truncated at every offset (one per recording, the smallest with at least this many records). */
const TRUNCATE_MIN_RECORDS = 8;

type Seen = Record<string, unknown>;

interface Run {
  seen: Seen[];
  stats: DecodeStats;
  decoder: BatchDecoder;
}

/** Decodes into plain snapshots (the decoder reuses its event objects), exercising the on-demand field readers too. */
function decodeAll(batch: Buffer, count: number, decoder?: BatchDecoder, seen: Seen[] = []): Run {
  const d =
    decoder ??
    new BatchDecoder({
      onData: (e) => {
        assert.ok(e.payload.length <= e.batch.length - e.base - DATA_EVENT_SIZE, 'payload inside its record');
        seen.push({
          kind: 'data', base: e.base, ts: e.tsNs, tgid: e.tgid, tid: e.tid, conn: e.connId, tls: e.tls, pos: e.streamPos, n: e.syscallBytes,
          cap: e.captured, off: e.chunkOffset, fd: e.fd, dir: e.direction, sys: e.syscall, role: e.role, klass: e.klass,
          payload: Buffer.from(e.payload).toString('hex'), comm: commOf(e), tuple: hasTuple(e), ...endpointsOf(e),
        });
      },
      onClose: (e) => seen.push({ kind: 'close', ...e }),
      onTlsBind: (e) => seen.push({ kind: 'bind', ...e }),
    });
  d.decode(batch, count);
  return { seen, stats: d.stats, decoder: d };
}

function checkStats(before: DecodeStats, after: DecodeStats, count: number, delivered: number): void {
  assertCounters(after);
  const events = after.events - before.events;
  const malformed = after.malformed - before.malformed;
  const unknown = after.unknownType - before.unknownType;
  // decode(): every one of the `count` records is an event, or it and all after it are malformed.
  assert.equal(events + malformed, count, `events ${events} + malformed ${malformed} != count ${count}`);
  assert.ok(unknown <= events);
  assert.equal(delivered, events - unknown, 'every decoded record of a known type reaches the sink');
}

/** Records that reached the sink: the pieces of one data record count once. */
function recordsDelivered(seen: Seen[]): number {
  return new Set(seen.map((x, i) => (x.kind === 'data' ? `d${String(x.base)}` : `o${i}`))).size;
}

/** Offsets and sizes of the records of a well-formed batch. */
function recordsOf(batch: Buffer, count: number): Array<{ off: number; size: number }> {
  const out: Array<{ off: number; size: number }> = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    const size = batch.readUInt32LE(off + 4);
    out.push({ off, size });
    off += (size + 7) & ~7;
  }
  return out;
}

/** A copy of `b` starting `shift` bytes past an 8-aligned address. */
function shifted(b: Buffer, shift: number): Buffer {
  const out = Buffer.alloc(b.length + 16).subarray(8 + shift, 8 + shift + b.length);
  b.copy(out);
  return out;
}

const countArb = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(0xffffffff, 0x7fffffff, 2 ** 31), fc.nat());

/** Records of every kind, some with lying size headers or unknown types. */
const recordArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({ payload: fc.uint8Array({ maxLength: 200 }), dir: fc.constantFrom<0 | 1>(0, 1), family: fc.constantFrom(0, 2, 10, 99), flags: fc.integer({ min: 0, max: 0xffff }) }).map((r) =>
    dataRecord({ ts: 1n, connId: 7, streamPos: 0, syscallBytes: r.payload.length, payload: Buffer.from(r.payload), direction: r.dir, family: r.family, flags: r.flags }),
  ),
  fc.nat().map((id) => closeRecord(2n, id)),
  fc.record({ filtered: fc.boolean(), role: fc.integer({ min: 0, max: 255 }) }).map((r) =>
    tlsBindRecord({ ts: 3n, tlsId: 1, connId: 2, local: [[10, 0, 0, 1], 443], peer: [[10, 0, 0, 2], 5000], role: r.role, filtered: r.filtered }),
  ),
  // Random bytes: its header is a lie of its own (marked by an odd length, never produced above).
  fc.uint8Array({ minLength: 24, maxLength: 256 }).map((b) => Buffer.concat([Buffer.from(b), Buffer.alloc(b.length % 2 === 0 ? 1 : 0)])),
);
const lieArb = fc.option(
  fc.record({
    type: fc.option(fc.oneof(fc.constantFrom(EV_DATA, EV_CLOSE, EV_TLS_BIND, 0, 4), fc.integer({ min: 0, max: 0xffff }))),
    size: fc.option(fc.oneof(fc.constantFrom(0, 23, 24, CLOSE_EVENT_SIZE - 1, TLS_BIND_EVENT_SIZE - 1, DATA_EVENT_SIZE - 1, DATA_EVENT_SIZE, 0x7fffffff, 0xffffffff), fc.integer({ min: 0, max: 600 }), fc.nat())),
    chunkLen: fc.option(fc.oneof(fc.constant(0xffffffff), fc.nat())),
  }),
  { freq: 2 },
);

describe('batch decoder under hostile input', () => {
  const real: Array<{ name: string; batches: RecordedBatch[] }> = (['http1', 'http2', 'grpc'] as const).map((name) => ({ name, batches: recordedBatches(name) }));
  const allReal = real.flatMap((r) => r.batches.filter((b) => b.count > 0));

  it(`random bytes with random counts at any alignment never throw; counters add up (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.uint8Array({ maxLength: 4096 }), countArb, fc.integer({ min: 0, max: 7 }), (bytes, count, shift) => {
        const r = timed('decode', () => decodeAll(shifted(Buffer.from(bytes), shift), count));
        checkStats({ events: 0, malformed: 0, unknownType: 0 }, r.stats, count, recordsDelivered(r.seen));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`records of every kind with random type, size and chunk_len headers (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.array(fc.tuple(recordArb, lieArb), { maxLength: 12 }), fc.integer({ min: -2, max: 2 }), fc.integer({ min: 0, max: 7 }), (recs, extra, shift) => {
        const parts = recs.map(([rec, lie]) => {
          const b = Buffer.alloc((rec.length + 7) & ~7);
          rec.copy(b);
          if (lie) {
            if (lie.type !== null) b.writeUInt16LE(lie.type, 0);
            if (lie.size !== null) b.writeUInt32LE(lie.size >>> 0, 4);
            if (lie.chunkLen !== null && b.length >= DATA_EVENT_SIZE) b.writeUInt32LE(lie.chunkLen >>> 0, 100);
          }
          return b;
        });
        const count = Math.max(0, recs.length + extra);
        const r = timed('decode', () => decodeAll(shifted(Buffer.concat(parts), shift), count));
        checkStats({ events: 0, malformed: 0, unknownType: 0 }, r.stats, count, recordsDelivered(r.seen));
        // Records before the first lying one decode as if alone.
        const firstLie = recs.findIndex(([rec, lie]) => lie !== null || rec.length % 2 === 1);
        const honest = firstLie < 0 ? Math.min(count, recs.length) : Math.min(count, firstLie);
        const alone = decodeAll(Buffer.concat(parts.slice(0, honest)), honest);
        assert.deepEqual(r.seen.slice(0, alone.seen.length), alone.seen);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('real batches decode cleanly (the seeds are sound)', () => {
    for (const { name, batches } of real) {
      const d = new BatchDecoder({ onData: () => undefined, onClose: () => undefined, onTlsBind: () => undefined });
      let count = 0;
      for (const b of batches) {
        d.decode(b.batch, b.count);
        count += b.count;
      }
      assert.deepEqual(d.stats, { events: count, malformed: 0, unknownType: 0 }, name);
    }
  });

  it(`a real batch truncated at every offset never throws and delivers exactly the whole records before the cut (${real.length} batches)`, () => {
    for (const { name, batches } of real) {
      const pick = batches.filter((b) => b.count >= TRUNCATE_MIN_RECORDS).sort((a, b) => a.batch.length - b.batch.length)[0];
      assert.ok(pick, `${name}: a batch with ${TRUNCATE_MIN_RECORDS} records`);
      const full = decodeAll(pick.batch, pick.count).seen;
      const recs = recordsOf(pick.batch, pick.count);
      timed(`${name}: ${pick.batch.length} truncations`, () => {
        for (let cut = 0; cut <= pick.batch.length; cut++) {
          let delivered = 0;
          const d = new BatchDecoder({ onData: () => void delivered++, onClose: () => void delivered++, onTlsBind: () => void delivered++ });
          d.decode(pick.batch.subarray(0, cut), pick.count);
          const whole = recs.filter((r) => r.off + r.size <= cut).length;
          assert.equal(d.stats.events, whole, `${name} cut at ${cut}`);
          checkStats({ events: 0, malformed: 0, unknownType: 0 }, d.stats, pick.count, delivered);
        }
      }, 10_000);
      // Contents, at a sample of cuts: the prefix of the full decode.
      for (let cut = 0; cut <= pick.batch.length; cut += 97) {
        const got = decodeAll(pick.batch.subarray(0, cut), pick.count).seen;
        assert.deepEqual(got, full.slice(0, got.length), `${name} cut at ${cut}`);
      }
    }
  });

  it(`a real batch with one record's size field corrupted still delivers the records before it exactly (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.nat({ max: allReal.length - 1 }), fc.nat(), fc.oneof(fc.integer({ min: 0, max: 1024 }), fc.constantFrom(0, 23, 0xffffffff, 0x80000000), fc.nat()), (bi, ri, size) => {
        const { batch, count } = allReal[bi];
        const recs = recordsOf(batch, count);
        const k = ri % count;
        const corrupt = Buffer.from(batch);
        corrupt.writeUInt32LE(size >>> 0, recs[k].off + 4);
        const full = decodeAll(batch, count).seen;
        const r = timed('decode', () => decodeAll(aligned(corrupt), count));
        checkStats({ events: 0, malformed: 0, unknownType: 0 }, r.stats, count, recordsDelivered(r.seen));
        assert.deepEqual(r.seen.slice(0, k), full.slice(0, k));
        const s = size >>> 0;
        if (s < 24 || recs[k].off + s > batch.length) {
          // An impossible size: the rest of the batch is counted malformed.
          assert.equal(r.stats.events, k);
          assert.equal(r.stats.malformed, count - k);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`mutated real batches (flips, inserts, deletes, duplications) with perturbed counts (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.nat({ max: allReal.length - 1 }), fc.array(mutationArb(), { minLength: 1, maxLength: 8 }), fc.integer({ min: -3, max: 3 }), fc.integer({ min: 0, max: 7 }), (bi, muts, extra, shift) => {
        const { batch, count } = allReal[bi];
        const b = shifted(Buffer.from(mutate(batch, muts)), shift);
        const n = Math.max(0, count + extra);
        const r = timed('decode', () => decodeAll(b, n));
        checkStats({ events: 0, malformed: 0, unknownType: 0 }, r.stats, n, recordsDelivered(r.seen));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`one decoder across many hostile batches: counters accumulate consistently, retained memory is the last batch at most (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.array(fc.tuple(fc.oneof(fc.uint8Array({ maxLength: 1024 }).map((b) => Buffer.from(b)), fc.constantFrom(...allReal.slice(0, 8).map((r) => r.batch))), countArb), { maxLength: 10 }), (batches) => {
        const seen: Seen[] = [];
        let run: Run | undefined;
        let largest = 0;
        for (const [b, count] of batches) {
          const before = run ? { ...run.stats } : { events: 0, malformed: 0, unknownType: 0 };
          const n0 = seen.length;
          run = timed('decode', () => decodeAll(b, count, run?.decoder, seen));
          checkStats(before, run.stats, count, recordsDelivered(seen.slice(n0)));
          largest = Math.max(largest, b.length);
          // Views of the last batch (and of the last batch with a data event) plus its aligned copy, at most.
          const held = retainedBytes(run.decoder);
          assert.ok(held <= 4 * largest + 4096, `decoder retains ${held} bytes (largest batch ${largest})`);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it(`aligned() returns the same bytes, 8-aligned, at any input offset (${NUM_RUNS} runs)`, () => {
    assertProperty(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.integer({ min: 0, max: 15 }), (bytes, shift) => {
        const b = shifted(Buffer.from(bytes), shift % 8);
        const a = aligned(b);
        assert.equal(a.byteOffset % 8, 0);
        assert.equal(a.length, b.length);
        assert.ok(a.equals(b));
        if (b.byteOffset % 8 === 0) assert.equal(a, b);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
