// Trace and span ids, and the trace context a request carries in its
// headers: W3C Trace Context (traceparent, tracestate) and B3 (single and
// multi header). Parsing is strict: a malformed header is ignored, never
// half-used, so a bad client cannot graft spans onto a wrong trace.
import { randomFillSync } from 'node:crypto';
import type { TraceHeaders } from '../protocols/request-head';

/** A parent announced by the peer that sent the request. */
export interface RemoteParent {
  traceId: string;
  spanId: string;
  /** undefined: the header left the decision to us (B3 without a sampling state). */
  sampled: boolean | undefined;
  traceState: string;
}

// Random bytes drawn in blocks: one getrandom() per 256 ids, not per id.
const pool = Buffer.alloc(4096);
let poolPos = pool.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (poolPos + bytes > pool.length) {
      randomFillSync(pool);
      poolPos = 0;
    }
    const hex = pool.toString('hex', poolPos, poolPos + bytes);
    poolPos += bytes;
    // All-zero ids are invalid (W3C §3.2.2.3, §3.2.2.4).
    if (!isZero(hex)) return hex;
  }
}

export function newTraceId(): string {
  return randomHex(16);
}

export function newSpanId(): string {
  return randomHex(8);
}

function isZero(hex: string): boolean {
  for (let i = 0; i < hex.length; i++) if (hex.charCodeAt(i) !== 0x30) return false;
  return true;
}

function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isHexAnyCase(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/**
 * version "-" trace-id "-" parent-id "-" trace-flags (W3C §3.2). Version
 * 00 is exactly 55 characters; a later version may append fields, which
 * are ignored (§3.2.4); version ff is invalid.
 */
export function parseTraceparent(v: string): Omit<RemoteParent, 'traceState'> | undefined {
  const t = v.trim();
  if (t.length < 55 || !isLowerHex(t, 0, 2) || t.startsWith('ff')) return undefined;
  if (t[2] !== '-' || t[35] !== '-' || t[52] !== '-') return undefined;
  if (t.startsWith('00') ? t.length !== 55 : t.length > 55 && t[55] !== '-') return undefined;
  if (!isLowerHex(t, 3, 35) || !isLowerHex(t, 36, 52) || !isLowerHex(t, 53, 55)) return undefined;
  const traceId = t.slice(3, 35);
  const spanId = t.slice(36, 52);
  if (isZero(traceId) || isZero(spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(t.slice(53, 55), 16) & 1) === 1 };
}

/** B3 trace ids are 64 or 128 bits; 64-bit ones are left-padded (B3 spec, "TraceId"). */
function b3TraceId(v: string): string | undefined {
  if ((v.length !== 16 && v.length !== 32) || !isHexAnyCase(v)) return undefined;
  const id = v.toLowerCase().padStart(32, '0');
  return isZero(id) ? undefined : id;
}

function b3SpanId(v: string): string | undefined {
  if (v.length !== 16 || !isHexAnyCase(v)) return undefined;
  const id = v.toLowerCase();
  return isZero(id) ? undefined : id;
}

function b3Sampled(v: string | undefined): boolean | undefined {
  switch (v?.trim().toLowerCase()) {
    case '1':
    case 'true':
    case 'd': // debug implies accept
      return true;
    case '0':
    case 'false':
      return false;
    default:
      return undefined;
  }
}

/** b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]; "0", "1", "d" alone carry no ids. */
export function parseB3Single(v: string): Omit<RemoteParent, 'traceState'> | undefined {
  const parts = v.trim().split('-');
  if (parts.length < 2 || parts.length > 4) return undefined;
  const traceId = b3TraceId(parts[0]);
  const spanId = b3SpanId(parts[1]);
  if (!traceId || !spanId) return undefined;
  const sampled = parts.length >= 3 ? b3Sampled(parts[2]) : undefined;
  if (parts.length >= 3 && sampled === undefined) return undefined;
  if (parts.length === 4 && !b3SpanId(parts[3])) return undefined;
  return { traceId, spanId, sampled };
}

export function parseB3Multi(h: TraceHeaders): Omit<RemoteParent, 'traceState'> | undefined {
  if (h.b3TraceId === undefined || h.b3SpanId === undefined) return undefined;
  const traceId = b3TraceId(h.b3TraceId.trim());
  const spanId = b3SpanId(h.b3SpanId.trim());
  if (!traceId || !spanId) return undefined;
  const sampled = h.b3Flags?.trim() === '1' ? true : b3Sampled(h.b3Sampled);
  return { traceId, spanId, sampled };
}

/**
 * The parent a request names, W3C first (the OpenTelemetry default), then
 * B3 single, then B3 multi. tracestate only travels with a valid traceparent
 * (W3C §3.3.1.1: it is meaningless without one).
 */
export function extractParent(h: TraceHeaders | undefined): RemoteParent | undefined {
  if (h === undefined) return undefined;
  if (h.traceparent !== undefined) {
    const p = parseTraceparent(h.traceparent);
    if (p) return { ...p, traceState: h.tracestate?.trim() ?? '' };
  }
  if (h.b3 !== undefined) {
    const p = parseB3Single(h.b3);
    if (p) return { ...p, traceState: '' };
  }
  const p = parseB3Multi(h);
  return p ? { ...p, traceState: '' } : undefined;
}
