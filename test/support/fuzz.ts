// Shared pieces of the property-based robustness suites: byte mutations,
// chunkings, a wall-clock bound per run, an object-graph size probe for
// retained memory, and real traffic read back from bench/recordings.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as fc from 'fast-check';
import { BatchDecoder } from '../../src/capture/decoder';
import { readRecording, type RecordedBatch } from '../../src/capture/recording';

/** A single property run (one input) must finish within this: a hang shows up as a failure, not a stuck suite. */
export const RUN_TIME_LIMIT_MS = 2000;

/** Runs fn and fails if it took longer than RUN_TIME_LIMIT_MS. */
export function timed<T>(what: string, fn: () => T, limitMs = RUN_TIME_LIMIT_MS): T {
  const t0 = performance.now();
  const out = fn();
  const ms = performance.now() - t0;
  assert.ok(ms < limitMs, `${what} took ${ms.toFixed(0)} ms (limit ${limitMs} ms): a hang or a quadratic path`);
  return out;
}

// ---- byte mutations ----

export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly byte: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly len: number }
  | { readonly kind: 'dup'; readonly at: number; readonly len: number; readonly to: number };

/** Mutations; positions are taken modulo the length of whatever they are applied to. `tokens` are protocol words worth inserting. */
export function mutationArb(tokens: readonly Uint8Array[] = []): fc.Arbitrary<Mutation> {
  const insertBytes = tokens.length > 0 ? fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.constantFrom(...tokens)) : fc.uint8Array({ minLength: 1, maxLength: 16 });
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: insertBytes }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }), to: fc.nat() }),
  );
}

export function mutate(input: Uint8Array, muts: readonly Mutation[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input);
  for (const m of muts) {
    const n = b.length;
    switch (m.kind) {
      case 'flip':
        if (n > 0) b[m.at % n] ^= 1 << m.bit;
        break;
      case 'set':
        if (n > 0) b[m.at % n] = m.byte;
        break;
      case 'insert': {
        const at = m.at % (n + 1);
        b = concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      }
      case 'delete': {
        if (n === 0) break;
        const at = m.at % n;
        b = concat([b.subarray(0, at), b.subarray(Math.min(n, at + m.len))]);
        break;
      }
      case 'dup': {
        if (n === 0) break;
        const at = m.at % n;
        const piece = b.slice(at, Math.min(n, at + m.len));
        const to = m.to % (n + 1);
        b = concat([b.subarray(0, to), piece, b.subarray(to)]);
        break;
      }
    }
  }
  return b;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

/** Occurrences of `needle` in `hay` (overlapping ones too). */
export function occurrences(hay: Uint8Array, needle: Uint8Array): number {
  const h = Buffer.from(hay.buffer, hay.byteOffset, hay.length);
  let n = 0;
  for (let i = h.indexOf(needle); i >= 0; i = h.indexOf(needle, i + 1)) n++;
  return n;
}

// ---- chunkings ----

export type Chunking = { readonly kind: 'whole' } | { readonly kind: 'ones' } | { readonly kind: 'sizes'; readonly sizes: readonly number[] };

export const chunkingArb: fc.Arbitrary<Chunking> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Chunking>({ kind: 'whole' }) },
  { weight: 1, arbitrary: fc.constant<Chunking>({ kind: 'ones' }) },
  { weight: 4, arbitrary: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }).map((sizes): Chunking => ({ kind: 'sizes', sizes })) },
);

/** Lengths of the pieces `len` bytes are cut into. */
export function pieces(len: number, c: Chunking): number[] {
  if (len === 0) return [];
  if (c.kind === 'whole') return [len];
  const out: number[] = [];
  let i = 0;
  for (let left = len; left > 0; ) {
    const n = Math.min(c.kind === 'ones' ? 1 : c.sizes[i++ % c.sizes.length], left);
    out.push(n);
    left -= n;
  }
  return out;
}

/**
 * Hands `bytes` out piece by piece the way the agent does: each piece is
 * copied into a scratch Buffer that is reused (and clobbered) once the call
 * returns, so a parser that keeps a view instead of a copy is caught.
 */
export class Feeder {
  private scratch = Buffer.alloc(4096);

  feed(bytes: Uint8Array, c: Chunking, push: (view: Buffer, first: boolean) => void): void {
    let off = 0;
    for (const n of pieces(bytes.length, c)) {
      if (this.scratch.length < n + 8) this.scratch = Buffer.alloc(Math.max(n + 8, this.scratch.length * 2));
      // An odd offset: views must not rely on alignment.
      const view = this.scratch.subarray(3, 3 + n);
      view.set(bytes.subarray(off, off + n));
      push(view, off === 0);
      view.fill(0xa5);
      off += n;
    }
  }
}

// ---- invariants ----

/** Every number reachable in a stats object is a non-negative safe integer. */
export function assertCounters(stats: object, where = 'stats'): void {
  for (const [k, v] of Object.entries(stats)) {
    if (typeof v === 'number') assert.ok(Number.isSafeInteger(v) && v >= 0, `${where}.${k} = ${v}: not a non-negative integer`);
    else if (v !== null && typeof v === 'object') assertCounters(v as object, `${where}.${k}`);
  }
}

/**
 * Approximate bytes an object graph holds: typed arrays by their view
 * length, strings by length, 8 per other primitive and per container slot.
 * Functions (closures, sinks' callbacks) are not followed. Private fields are
 * ordinary properties at run time, so this sees what a parser retains
 * without naming its internals.
 */
export function retainedBytes(root: unknown): number {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  let total = 0;
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      total += v.length;
      continue;
    }
    if (v === null || v === undefined || typeof v === 'function') continue;
    if (typeof v !== 'object') {
      total += 8;
      continue;
    }
    if (seen.has(v)) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      total += v.byteLength;
      continue;
    }
    if (v instanceof ArrayBuffer) {
      total += v.byteLength;
      continue;
    }
    if (v instanceof Map) {
      total += 16 * v.size;
      for (const [k, x] of v) stack.push(k, x);
      continue;
    }
    if (v instanceof Set) {
      total += 8 * v.size;
      for (const x of v) stack.push(x);
      continue;
    }
    const rec = v as Record<string, unknown>;
    for (const key of Object.keys(rec)) {
      total += 8;
      stack.push(rec[key]);
    }
  }
  return total;
}

// ---- real traffic ----

/** The repository root (holds bench/recordings), from dist/, from another --outDir, or from the working directory. */
export function repoRoot(): string {
  const has = (d: string) => existsSync(path.join(d, 'bench', 'recordings', 'http1.slrec.gz'));
  for (let d = __dirname; ; d = path.dirname(d)) {
    if (has(d)) return d;
    if (path.dirname(d) === d) break;
  }
  // Compiled elsewhere (tsc --outDir): the source map names the .ts this came from.
  try {
    const map = JSON.parse(readFileSync(`${__filename}.map`, 'utf8')) as { sources?: string[]; sourceRoot?: string };
    const src = map.sources?.[0];
    if (src) {
      const ts = path.resolve(path.dirname(__filename), map.sourceRoot ?? '', src);
      const root = path.resolve(path.dirname(ts), '..', '..');
      if (has(root)) return root;
    }
  } catch {
    // no source map: fall through
  }
  for (const d of [process.env.SIDELIGHT_ROOT, process.cwd()]) if (d && has(d)) return d;
  throw new Error('bench/recordings not found: run from the repository root or set SIDELIGHT_ROOT');
}

export function recordingFile(name: 'http1' | 'http2' | 'grpc'): string {
  return path.join(repoRoot(), 'bench', 'recordings', `${name}.slrec.gz`);
}

const batchCache = new Map<string, RecordedBatch[]>();

export function recordedBatches(name: 'http1' | 'http2' | 'grpc'): RecordedBatch[] {
  let b = batchCache.get(name);
  if (!b) {
    b = readRecording(recordingFile(name)).batches;
    batchCache.set(name, b);
  }
  return b;
}

export type Side = 0 | 1;
export type Step =
  | { readonly dir: Side; readonly bytes: Uint8Array; readonly ts: bigint; readonly syscallStart: boolean }
  | { readonly dir: Side; readonly skip: number; readonly ts: bigint };

export interface Conversation {
  connId: number;
  steps: Step[];
}

/**
 * Each connection of a recording as the connection streams would feed its parser:
 * captured pieces at their stream positions, gaps as skips (the connection stage's
 * rules, src/conn/streams.ts piece()), cut after about maxBytes.
 */
export function conversations(name: 'http1' | 'http2' | 'grpc', maxBytes = 16 * 1024): Conversation[] {
  const convs = new Map<number, { steps: Step[]; next: [number, number]; bytes: number }>();
  const dec = new BatchDecoder({
    onData: (ev) => {
      let c = convs.get(ev.connId);
      if (!c) {
        c = { steps: [], next: [0, 0], bytes: 0 };
        convs.set(ev.connId, c);
        // Attached from each direction's first byte seen.
      }
      if (c.bytes >= maxBytes) return;
      const dir: Side = ev.direction === 0 ? 0 : 1;
      if (c.steps.every((s) => s.dir !== dir)) c.next[dir] = ev.streamPos + ev.chunkOffset;
      let payload: Uint8Array = ev.payload;
      let at = ev.streamPos + ev.chunkOffset;
      if (at > c.next[dir]) c.steps.push({ dir, skip: at - c.next[dir], ts: ev.tsNs });
      else if (at < c.next[dir]) {
        const dup = Math.min(c.next[dir] - at, payload.length);
        payload = payload.subarray(dup);
        at += dup;
      }
      if (payload.length > 0) c.steps.push({ dir, bytes: Uint8Array.from(payload), ts: ev.tsNs, syscallStart: at === ev.streamPos });
      c.bytes += payload.length;
      c.next[dir] = Math.max(c.next[dir], at + payload.length);
      const syscallEnd = ev.streamPos + ev.syscallBytes;
      if (ev.chunkOffset + ev.payload.length >= ev.captured && syscallEnd > c.next[dir]) {
        c.steps.push({ dir, skip: syscallEnd - c.next[dir], ts: ev.tsNs });
        c.next[dir] = syscallEnd;
      }
    },
    onClose: () => undefined,
    onTlsBind: () => undefined,
  });
  for (const b of recordedBatches(name)) dec.decode(b.batch, b.count);
  return [...convs].map(([connId, c]) => ({ connId, steps: c.steps })).filter((c) => c.steps.length > 0);
}

/** The bytes each direction pushed, concatenated (skips left out). */
export function directionBytes(steps: readonly Step[], dir: Side): Uint8Array {
  return concat(steps.flatMap((s) => (s.dir === dir && 'bytes' in s ? [s.bytes] : [])));
}

/** fc.assert, with the failing assertion's own message in the report (fast-check keeps it only as `cause`). */
export function assertProperty<Ts>(property: fc.IProperty<Ts>, params: fc.Parameters<Ts>): void {
  try {
    fc.assert(property, params);
  } catch (e) {
    if (e instanceof Error && e.cause instanceof Error) e.message += `\nCause: ${e.cause.message}`;
    throw e;
  }
}
