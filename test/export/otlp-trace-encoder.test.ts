import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import * as protobuf from 'protobufjs';
import { BatchDecoder } from '../../src/capture/decoder';
import { readRecording } from '../../src/capture/recording';
import { DEFAULTS } from '../../src/config/config';
import { OtlpTraceEncoder } from '../../src/export/otlp-trace-encoder';
import { ProtoWriter } from '../../src/export/proto-writer';
import { toSpan, type SpanRecord } from '../../src/export/spans';
import { createLogger } from '../../src/log';
import { replayPipeline } from '../../src/replay';
import type { HttpTransaction } from '../../src/transactions/transaction';
import { otlpRoot, spansFromRequest } from '../support/otlp-receiver';
import { clientTx, serverTx } from '../support/transactions';

const REQUEST = 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest';
/** Every field with its default filled in: proto3 cannot tell an omitted zero from a written one. */
const AS_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String, defaults: true, arrays: true };

function decoded(bytes: Uint8Array): unknown {
  const T = otlpRoot().lookupType(REQUEST);
  return T.toObject(T.decode(bytes), AS_OBJECT);
}

/** Ours and the official serializer's bytes decode to the same request under the official protos. */
function assertSameAsOfficial(records: SpanRecord[], redact = true): Uint8Array {
  const ours = new OtlpTraceEncoder(redact).encode(records);
  const official = ProtobufTraceSerializer.serializeRequest(records.map((r) => toSpan(r.tx, r.resource, redact)));
  assert.ok(official);
  assert.deepEqual(decoded(ours), decoded(official));
  return ours;
}

/**
 * Span.flags (field 16) of every span, read from the wire: the checked-in
 * protos predate the field, so protobufjs skips it.
 */
function spanFlags(request: Uint8Array): number[] {
  const flags: number[] = [];
  const fields = (buf: Uint8Array, each: (field: number, r: protobuf.Reader, wire: number) => void) => {
    const r = protobuf.Reader.create(buf);
    while (r.pos < r.len) {
      const tag = r.uint32();
      const before = r.pos;
      each(tag >>> 3, r, tag & 7);
      if (r.pos === before) r.skipType(tag & 7);
    }
  };
  fields(request, (f, r) => {
    if (f !== 1) return; // resource_spans
    fields(r.bytes(), (f2, r2) => {
      if (f2 !== 2) return; // scope_spans
      fields(r2.bytes(), (f3, r3) => {
        if (f3 !== 2) return; // spans
        let value: number | undefined;
        fields(r3.bytes(), (f4, r4, wire) => {
          if (f4 === 16 && wire === 5) value = r4.fixed32();
        });
        assert.notEqual(value, undefined, 'span without flags');
        flags.push(value!);
      });
    });
  });
  return flags;
}

const resource = resourceFromAttributes({ 'service.name': 'nginx', 'process.pid': 42, 'host.name': 'node-a' });

describe('OtlpTraceEncoder', () => {
  for (const name of ['http1', 'http2', 'grpc']) {
    it(`encodes every span of the ${name} recording as the official serializer does`, () => {
      const file = path.join(__dirname, '..', '..', '..', 'bench', 'recordings', `${name}.slrec.gz`);
      const { header, batches } = readRecording(file);
      const records: SpanRecord[] = [];
      const p = replayPipeline(header, { ...DEFAULTS, output: 'none' }, createLogger('error'), undefined, (tx) => {
        if (tx.route === undefined && !tx.unknownFields.includes('path')) return;
        records.push({ tx, resource: p.enricher.resources.of(tx.pid, tx.process).resource });
      });
      const d = new BatchDecoder(p.input);
      for (const b of batches) d.decode(b.batch, b.count);
      const expected = { http1: 4000, http2: 4000, grpc: 2080 }[name];
      assert.equal(records.length, expected);
      for (let i = 0; i < records.length; i += 512) {
        const batch = records.slice(i, i + 512);
        const bytes = assertSameAsOfficial(batch);
        assert.deepEqual(spanFlags(bytes), batch.map(() => 0x101));
      }
    });
  }

  it('groups spans by resource in first-seen order, with every attribute type', () => {
    const other: Resource = resourceFromAttributes({
      'service.name': 'python3',
      'process.pid': 7,
      'sidelight.flag': true,
      'sidelight.ratio': 0.25,
      'sidelight.negative': -3,
      'sidelight.list': ['a', 'b'],
      'sidelight.numbers': [1, 2.5, -7],
    });
    const records: SpanRecord[] = [
      { tx: serverTx, resource },
      { tx: clientTx, resource: other },
      { tx: { ...serverTx, spanId: '1111111111111111' }, resource },
      {
        tx: {
          ...clientTx,
          kind: 'http',
          protocol: 'HTTP/2',
          rpc: { system: 'grpc', service: 'shop.Cart', method: 'Add', statusCode: 14, requestMessages: 3, responseMessages: 0, messagesExact: true },
          resetCode: 8,
          status: 0,
          unknownFields: ['authority', 'grpcStatus'],
          truncated: true,
        },
        resource: other,
      },
    ];
    const bytes = assertSameAsOfficial(records);
    const spans = spansFromRequest(decoded(bytes));
    assert.deepEqual(spans.map((s) => [s.resource['service.name'], s.spanId]), [
      ['nginx', serverTx.spanId],
      ['nginx', '1111111111111111'],
      ['python3', clientTx.spanId],
      ['python3', clientTx.spanId],
    ]);
    assert.equal(spans[3]!.attributes['sidelight.unknown_fields'], '["authority","grpcStatus"]'); // the receiver shows arrays as JSON
    assert.equal(spans[3]!.attributes['sidelight.truncated'], true);
    assert.equal(spans[3]!.name, 'shop.Cart/Add');
  });

  it('normalises trace state as the SDK does and keeps non-ASCII text exact', () => {
    const tx: HttpTransaction = {
      ...serverTx,
      traceState: 'vendor=a, bad key=1,ok=2',
      userAgent: 'klient/1.0 (Ünïcödé ✓ 🚀)',
      target: `/${'x'.repeat(200)}?q=${'é'.repeat(9000)}`,
    };
    const bytes = assertSameAsOfficial([{ tx, resource }], false);
    const [span] = spansFromRequest(decoded(bytes));
    assert.equal(span!.traceState, 'vendor=a,ok=2');
    assert.equal(span!.attributes['user_agent.original'], 'klient/1.0 (Ünïcödé ✓ 🚀)');
    assert.equal(span!.attributes['url.query'], `q=${'é'.repeat(9000)}`);
  });

  it('reuses its buffer: a later, smaller request does not carry bytes of an earlier one', () => {
    const enc = new OtlpTraceEncoder(true);
    const big = Array.from({ length: 300 }, () => ({ tx: serverTx, resource }));
    const first = enc.encode(big);
    const second = enc.encode([{ tx: clientTx, resource }]);
    assert.ok(first.length > 100 * second.length);
    assert.deepEqual(decoded(second), decoded(new OtlpTraceEncoder(true).encode([{ tx: clientTx, resource }])));
    assert.equal(enc.encode([]).length, 0);
  });
});

describe('ProtoWriter', () => {
  it('writes varints, int64, fixed and doubles that protobufjs reads back', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ k: fc.constant('varint' as const), v: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }),
            fc.record({ k: fc.constant('int64' as const), v: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }) }),
            fc.record({ k: fc.constant('fixed64' as const), v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
            fc.record({ k: fc.constant('double' as const), v: fc.double({ noNaN: true }) }),
            fc.record({ k: fc.constant('string' as const), v: fc.string({ unit: 'binary', maxLength: 300 }) }),
          ),
          { maxLength: 40 },
        ),
        (items) => {
          const w = new ProtoWriter(8); // small: every item makes it grow
          const outer = w.begin();
          for (const it of items) {
            if (it.k === 'varint') w.varint(it.v);
            else if (it.k === 'int64') w.int64(it.v);
            else if (it.k === 'fixed64') w.fixed64(it.v);
            else if (it.k === 'double') w.double(it.v);
            else w.string(it.v);
          }
          w.end(outer);
          const r = protobuf.Reader.create(w.finish());
          const body = r.bytes();
          assert.equal(r.pos, r.len);
          const b = protobuf.Reader.create(body);
          for (const it of items) {
            if (it.k === 'varint') assert.equal(Number(b.uint64().toString()), it.v);
            else if (it.k === 'int64') assert.equal(Number(b.int64().toString()), it.v);
            else if (it.k === 'fixed64') assert.equal(BigInt(b.fixed64().toString()), it.v);
            else if (it.k === 'double') assert.ok(Object.is(b.double(), it.v));
            else assert.equal(b.string(), Buffer.from(it.v, 'utf8').toString('utf8'));
          }
          assert.equal(b.pos, b.len);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hex ids become their bytes, upper or lower case', () => {
    const w = new ProtoWriter(4);
    w.hexBytes('00ff10Ab9c');
    assert.deepEqual([...w.finish()], [5, 0x00, 0xff, 0x10, 0xab, 0x9c]);
  });
});
