import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  extractParent,
  newSpanId,
  newTraceId,
  parseB3Multi,
  parseB3Single,
  parseTraceparent,
} from '../../src/transactions/tracecontext';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';

describe('trace context headers', () => {
  it('traceparent: valid forms', () => {
    assert.deepEqual(parseTraceparent(`00-${TID}-${SID}-01`), { traceId: TID, spanId: SID, sampled: true });
    assert.deepEqual(parseTraceparent(` 00-${TID}-${SID}-00 `), { traceId: TID, spanId: SID, sampled: false });
    // A later version may append fields (W3C §3.2.4).
    assert.deepEqual(parseTraceparent(`01-${TID}-${SID}-03-whatever`), { traceId: TID, spanId: SID, sampled: true });
  });

  it('traceparent: invalid forms are ignored whole', () => {
    for (const bad of [
      '',
      `00-${TID}-${SID}-1`,
      `00-${TID}-${SID}-01-extra`, // version 00 is exactly 55 characters
      `ff-${TID}-${SID}-01`,
      `00-${TID.toUpperCase()}-${SID}-01`,
      `00-${'0'.repeat(32)}-${SID}-01`,
      `00-${TID}-${'0'.repeat(16)}-01`,
      `00_${TID}-${SID}-01`,
      `00-${TID.slice(1)}g-${SID}-01`,
      `01-${TID}-${SID}-01x`,
    ]) {
      assert.equal(parseTraceparent(bad), undefined, bad);
    }
  });

  it('B3 single', () => {
    assert.deepEqual(parseB3Single(`${TID}-${SID}`), { traceId: TID, spanId: SID, sampled: undefined });
    assert.deepEqual(parseB3Single(`${TID}-${SID}-0`), { traceId: TID, spanId: SID, sampled: false });
    assert.deepEqual(parseB3Single(`${TID}-${SID}-d-${SID}`), { traceId: TID, spanId: SID, sampled: true });
    assert.deepEqual(parseB3Single(`a3ce929d0e0e4736-${SID}-1`), { traceId: '0000000000000000a3ce929d0e0e4736', spanId: SID, sampled: true });
    for (const bad of ['0', '1', 'd', `${TID}`, `${TID}-${SID}-x`, `${TID}-${SID}-1-zz`, `abc-${SID}`, `${TID}-${SID}-1-${SID}-x`]) {
      assert.equal(parseB3Single(bad), undefined, bad);
    }
  });

  it('B3 multi; X-B3-Flags: 1 (debug) means sampled', () => {
    assert.deepEqual(parseB3Multi({ b3TraceId: TID, b3SpanId: SID, b3Sampled: 'true' }), { traceId: TID, spanId: SID, sampled: true });
    assert.deepEqual(parseB3Multi({ b3TraceId: TID, b3SpanId: SID, b3Sampled: '0', b3Flags: '1' }), { traceId: TID, spanId: SID, sampled: true });
    assert.deepEqual(parseB3Multi({ b3TraceId: TID, b3SpanId: SID }), { traceId: TID, spanId: SID, sampled: undefined });
    assert.equal(parseB3Multi({ b3TraceId: TID }), undefined);
  });

  it('precedence: W3C, then B3 single, then B3 multi; tracestate only with traceparent', () => {
    const b3 = `463ac35c9f6413ad463ac35c9f6413ad-a2fb4a1d1a96d312-1`;
    assert.equal(extractParent({ traceparent: `00-${TID}-${SID}-01`, b3, tracestate: 'a=1' })?.traceId, TID);
    assert.equal(extractParent({ traceparent: `00-${TID}-${SID}-01`, tracestate: ' a=1 ' })?.traceState, 'a=1');
    assert.deepEqual(extractParent({ traceparent: 'garbage', b3, tracestate: 'a=1' }), {
      traceId: '463ac35c9f6413ad463ac35c9f6413ad', spanId: 'a2fb4a1d1a96d312', sampled: true, traceState: '',
    });
    assert.equal(extractParent({ b3: 'bad', b3TraceId: TID, b3SpanId: SID })?.traceId, TID);
    assert.equal(extractParent(undefined), undefined);
    assert.equal(extractParent({ tracestate: 'a=1' }), undefined);
  });

  it('generated ids are valid lowercase hex, never zero, and parse back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), (n) => {
        for (let i = 0; i < n; i++) {
          const t = newTraceId();
          const s = newSpanId();
          assert.match(t, /^[0-9a-f]{32}$/);
          assert.match(s, /^[0-9a-f]{16}$/);
          assert.deepEqual(parseTraceparent(`00-${t}-${s}-01`), { traceId: t, spanId: s, sampled: true });
        }
      }),
    );
    const many = new Set(Array.from({ length: 10_000 }, newSpanId));
    assert.equal(many.size, 10_000);
  });
});
