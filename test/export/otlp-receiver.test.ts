// Self-test of the test-only OTLP receiver. Requests are encoded here with
// protobufjs / proto-loader straight from the official .proto files; no
// @opentelemetry package is involved.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import * as path from 'node:path';
import {
  OtlpReceiver,
  otlpPackageDefinition,
  otlpProtoRoot,
  type ReceivedMetricPoint,
  type ReceivedSpan,
} from '../support/otlp-receiver';

// Our own Root, loaded independently from the receiver's.
function loadRoot(): protobuf.Root {
  const dir = otlpProtoRoot();
  const root = new protobuf.Root();
  root.resolvePath = (_o: string, t: string): string => (path.isAbsolute(t) ? t : path.join(dir, t));
  root.loadSync([
    'opentelemetry/proto/collector/trace/v1/trace_service.proto',
    'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  ]);
  root.resolveAll();
  return root;
}
const root = loadRoot();
const TraceReq = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const MetricsReq = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
const TraceRes = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
const MetricsRes = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse');

// --- known data ------------------------------------------------------------

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_ID = 'b7ad6b7169203331';
const CHILD_ID = '00f067aa0ba902b7';
// Beyond 2^53, so any trip through a double would show.
const T0 = 1_700_000_000_123_456_789n;
const T1 = 1_700_000_000_223_456_789n;
const T2 = 1_700_000_000_150_000_001n;
const T3 = 1_700_000_000_180_000_003n;

const RESOURCE_KV = [
  { key: 'service.name', value: { stringValue: 'sidelight-test' } },
  { key: 'host.cpus', value: { intValue: '8' } },
];
const RESOURCE = { 'service.name': 'sidelight-test', 'host.cpus': 8 };
const SCOPE = { name: 'sidelight', version: '0.1.0' };

/** Request as a protobufjs-style object (camelCase; bytes Buffers; longs decimal strings). */
function traceRequestObject(): Record<string, unknown> {
  return {
    resourceSpans: [
      {
        resource: { attributes: RESOURCE_KV },
        scopeSpans: [
          {
            scope: SCOPE,
            spans: [
              {
                traceId: Buffer.from(TRACE_ID, 'hex'),
                spanId: Buffer.from(PARENT_ID, 'hex'),
                traceState: 'vendor=1',
                name: 'GET /items',
                kind: 2,
                startTimeUnixNano: T0.toString(),
                endTimeUnixNano: T1.toString(),
                attributes: [
                  { key: 'http.request.method', value: { stringValue: 'GET' } },
                  { key: 'http.response.status_code', value: { intValue: '503' } },
                  { key: 'server.duration_ratio', value: { doubleValue: 0.25 } },
                  { key: 'sidelight.truncated', value: { boolValue: true } },
                  { key: 'sidelight.zero', value: { intValue: '0' } },
                  { key: 'sidelight.false', value: { boolValue: false } },
                  { key: 'sidelight.list', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '2' }] } } },
                ],
                status: { code: 2, message: 'upstream 503' },
              },
              {
                traceId: Buffer.from(TRACE_ID, 'hex'),
                spanId: Buffer.from(CHILD_ID, 'hex'),
                parentSpanId: Buffer.from(PARENT_ID, 'hex'),
                name: 'GET',
                kind: 3,
                startTimeUnixNano: T2.toString(),
                endTimeUnixNano: T3.toString(),
                attributes: [
                  { key: 'server.address', value: { stringValue: 'backend' } },
                  { key: 'server.port', value: { intValue: '9000' } },
                ],
              },
            ],
          },
        ],
      },
    ],
  };
}

const EXPECTED_SPANS: ReceivedSpan[] = [
  {
    traceId: TRACE_ID,
    spanId: PARENT_ID,
    parentSpanId: '',
    traceState: 'vendor=1',
    name: 'GET /items',
    kind: 2,
    startTimeUnixNano: T0,
    endTimeUnixNano: T1,
    attributes: {
      'http.request.method': 'GET',
      'http.response.status_code': 503,
      'server.duration_ratio': 0.25,
      'sidelight.truncated': true,
      'sidelight.zero': 0,
      'sidelight.false': false,
      'sidelight.list': '["a",2]',
    },
    status: { code: 2, message: 'upstream 503' },
    resource: RESOURCE,
    scope: SCOPE,
  },
  {
    traceId: TRACE_ID,
    spanId: CHILD_ID,
    parentSpanId: PARENT_ID,
    traceState: '',
    name: 'GET',
    kind: 3,
    startTimeUnixNano: T2,
    endTimeUnixNano: T3,
    attributes: { 'server.address': 'backend', 'server.port': 9000 },
    status: { code: 0, message: '' },
    resource: RESOURCE,
    scope: SCOPE,
  },
];

function metricsRequestObject(): Record<string, unknown> {
  return {
    resourceMetrics: [
      {
        resource: { attributes: RESOURCE_KV },
        scopeMetrics: [
          {
            scope: SCOPE,
            metrics: [
              {
                name: 'http.server.request.duration',
                unit: 's',
                histogram: {
                  aggregationTemporality: 2,
                  dataPoints: [
                    {
                      attributes: [
                        { key: 'http.request.method', value: { stringValue: 'GET' } },
                        { key: 'http.response.status_code', value: { intValue: '200' } },
                      ],
                      startTimeUnixNano: T0.toString(),
                      timeUnixNano: T1.toString(),
                      count: '9007199254740993', // 2^53 + 1
                      sum: 1.75,
                      bucketCounts: ['1', '0', '9007199254740992'],
                      explicitBounds: [0.005, 0.5],
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

const EXPECTED_POINTS: ReceivedMetricPoint[] = [
  {
    metric: 'http.server.request.duration',
    unit: 's',
    type: 'histogram',
    attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200 },
    resource: RESOURCE,
    count: 9007199254740993n,
    sum: 1.75,
    bucketCounts: [1n, 0n, 9007199254740992n],
    explicitBounds: [0.005, 0.5],
  },
];

/** The same requests in OTLP/JSON: hex ids, decimal-string longs, enums as names or numbers. */
function traceRequestJson(enumsAsNames: boolean): string {
  const o = traceRequestObject() as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }> };
  for (const s of o.resourceSpans[0]!.scopeSpans[0]!.spans) {
    for (const k of ['traceId', 'spanId', 'parentSpanId']) {
      if (s[k] instanceof Buffer) s[k] = (s[k] as Buffer).toString('hex');
    }
    if (enumsAsNames) {
      s['kind'] = s['kind'] === 2 ? 'SPAN_KIND_SERVER' : 'SPAN_KIND_CLIENT';
      const st = s['status'] as { code: number } | undefined;
      if (st) (st as Record<string, unknown>)['code'] = 'STATUS_CODE_ERROR';
    }
  }
  return JSON.stringify(o);
}

// --- senders ---------------------------------------------------------------

function encode(type: protobuf.Type, obj: Record<string, unknown>): Buffer {
  const err = type.verify(type.fromObject(obj));
  assert.equal(err, null);
  return Buffer.from(type.encode(type.fromObject(obj)).finish());
}

interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function post(port: number, urlPath: string, body: Buffer | string, headers: Record<string, string>): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: urlPath, method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

type GrpcExport = (req: unknown, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: unknown) => void) => void;
type GrpcClient = grpc.Client & { Export: GrpcExport };

function grpcClients(port: number): { traces: GrpcClient; metrics: GrpcClient; close(): void } {
  const pkg = grpc.loadPackageDefinition(otlpPackageDefinition()) as unknown as {
    opentelemetry: { proto: { collector: Record<string, { v1: Record<string, grpc.ServiceClientConstructor> }> } };
  };
  const col = pkg.opentelemetry.proto.collector;
  const creds = grpc.credentials.createInsecure();
  const traces = new col['trace']!.v1['TraceService']!(`127.0.0.1:${port}`, creds) as unknown as GrpcClient;
  const metrics = new col['metrics']!.v1['MetricsService']!(`127.0.0.1:${port}`, creds) as unknown as GrpcClient;
  return { traces, metrics, close: () => (traces.close(), metrics.close()) };
}

function grpcExport(client: GrpcClient, req: unknown, md: Record<string, string>): Promise<unknown> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  return new Promise((resolve, reject) =>
    client.Export(req, metadata, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

// --- tests -----------------------------------------------------------------

const receivers: OtlpReceiver[] = [];
async function startReceiver(transport: 'grpc' | 'http', port?: number): Promise<OtlpReceiver> {
  const r = await OtlpReceiver.start(port === undefined ? { transport } : { transport, port });
  receivers.push(r);
  return r;
}
after(async () => {
  for (const r of receivers) await r.stop();
});

describe('OTLP receiver (test support)', () => {
  it('gRPC: receives traces and metrics exactly, records metadata', async () => {
    const r = await startReceiver('grpc');
    assert.ok(r.port > 0);
    assert.equal(r.endpoint, `http://127.0.0.1:${r.port}`);
    const c = grpcClients(r.port);
    try {
      const res = await grpcExport(c.traces, traceRequestObject(), { 'x-sidelight-test': 'grpc-traces' });
      assert.deepEqual(res, {});
      await grpcExport(c.metrics, metricsRequestObject(), { 'x-sidelight-test': 'grpc-metrics' });
    } finally {
      c.close();
    }
    assert.deepEqual(await r.waitForSpans(2, 2000), EXPECTED_SPANS);
    assert.deepEqual(r.spans, EXPECTED_SPANS);
    assert.deepEqual(r.metrics, EXPECTED_POINTS);
    assert.deepEqual(r.requests, { traces: 1, metrics: 1 });
    assert.equal(r.headers.length, 2);
    assert.equal(r.headers[0]!['x-sidelight-test'], 'grpc-traces');
    assert.equal(r.headers[1]!['x-sidelight-test'], 'grpc-metrics');
    assert.deepEqual(r.errors, []);
  });

  it('HTTP protobuf: receives traces and metrics exactly; empty protobuf response', async () => {
    const r = await startReceiver('http');
    const t = await post(r.port, '/v1/traces', encode(TraceReq, traceRequestObject()), {
      'content-type': 'application/x-protobuf',
      'X-Sidelight-Test': 'http-traces',
    });
    assert.equal(t.status, 200);
    assert.equal(t.headers['content-type'], 'application/x-protobuf');
    assert.equal(t.body.length, 0);
    assert.deepEqual(TraceRes.toObject(TraceRes.decode(t.body)), {});
    const m = await post(r.port, '/v1/metrics', encode(MetricsReq, metricsRequestObject()), {
      'content-type': 'application/x-protobuf',
    });
    assert.equal(m.status, 200);
    assert.equal(m.headers['content-type'], 'application/x-protobuf');
    assert.deepEqual(MetricsRes.toObject(MetricsRes.decode(m.body)), {});

    assert.deepEqual(r.spans, EXPECTED_SPANS);
    assert.deepEqual(r.metrics, EXPECTED_POINTS);
    assert.deepEqual(r.requests, { traces: 1, metrics: 1 });
    assert.equal(r.headers.length, 2);
    assert.equal(r.headers[0]!['x-sidelight-test'], 'http-traces');
    assert.equal(r.headers[0]!['content-type'], 'application/x-protobuf');
    assert.equal(r.headers[1]!['x-sidelight-test'], undefined);
    assert.deepEqual(r.errors, []);
  });

  it('HTTP protobuf, gzip-compressed', async () => {
    const r = await startReceiver('http');
    const t = await post(r.port, '/v1/traces', zlib.gzipSync(encode(TraceReq, traceRequestObject())), {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    });
    assert.equal(t.status, 200);
    const m = await post(r.port, '/v1/metrics', zlib.gzipSync(encode(MetricsReq, metricsRequestObject())), {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    });
    assert.equal(m.status, 200);
    assert.deepEqual(r.spans, EXPECTED_SPANS);
    assert.deepEqual(r.metrics, EXPECTED_POINTS);
    assert.equal(r.headers[0]!['content-encoding'], 'gzip');
  });

  it('OTLP/JSON: hex ids, enums as numbers or names', async () => {
    const r = await startReceiver('http');
    for (const names of [false, true]) {
      const res = await post(r.port, '/v1/traces', traceRequestJson(names), { 'content-type': 'application/json' });
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(res.body.toString()), {});
    }
    // JSON metrics: the same object is valid OTLP/JSON once ids (none here) are hex.
    const m = await post(r.port, '/v1/metrics', JSON.stringify(metricsRequestObject()), {
      'content-type': 'application/json; charset=utf-8',
    });
    assert.equal(m.status, 200);
    assert.deepEqual(r.spans, [...EXPECTED_SPANS, ...EXPECTED_SPANS]);
    assert.deepEqual(r.metrics, EXPECTED_POINTS);
    assert.deepEqual(r.requests, { traces: 2, metrics: 1 });

    // Gauge and sum points, as int and double.
    const gauges = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: 'g', unit: '1', gauge: { dataPoints: [{ asInt: '7', attributes: [{ key: 'a', value: { boolValue: false } }] }] } },
                { name: 's', unit: 'By', sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [{ asDouble: 2.5 }] } },
              ],
            },
          ],
        },
      ],
    };
    assert.equal((await post(r.port, '/v1/metrics', JSON.stringify(gauges), { 'content-type': 'application/json' })).status, 200);
    assert.deepEqual(r.metrics.slice(1), [
      { metric: 'g', unit: '1', type: 'gauge', attributes: { a: false }, resource: {}, value: 7 },
      { metric: 's', unit: 'By', type: 'sum', attributes: {}, resource: {}, value: 2.5 },
    ]);
  });

  it('HTTP: other paths 404, bad bodies 400, nothing recorded', async () => {
    const r = await startReceiver('http');
    assert.equal((await post(r.port, '/v1/logs', '{}', { 'content-type': 'application/json' })).status, 404);
    assert.equal((await post(r.port, '/', '{}', { 'content-type': 'application/json' })).status, 404);
    assert.equal((await post(r.port, '/v1/traces', Buffer.from([0xff, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' })).status, 400);
    assert.equal((await post(r.port, '/v1/traces', 'x', { 'content-type': 'text/plain' })).status, 415);
    assert.deepEqual(r.requests, { traces: 0, metrics: 0 });
    assert.deepEqual(r.spans, []);
    assert.deepEqual(r.headers, []);
    assert.equal(r.errors.length, 4);
  });

  it('HTTP: stop() refuses connections; restart() listens on the same port and keeps data', async () => {
    const r = await startReceiver('http');
    const port = r.port;
    const body = encode(TraceReq, traceRequestObject());
    const headers = { 'content-type': 'application/x-protobuf' };
    assert.equal((await post(port, '/v1/traces', body, headers)).status, 200);
    await r.stop();
    await assert.rejects(post(port, '/v1/traces', body, headers), /ECONNREFUSED/);
    await r.restart();
    assert.equal(r.port, port);
    assert.equal(r.endpoint, `http://127.0.0.1:${port}`);
    assert.equal((await post(port, '/v1/traces', body, headers)).status, 200);
    assert.deepEqual(r.spans, [...EXPECTED_SPANS, ...EXPECTED_SPANS]);
    assert.deepEqual(r.requests, { traces: 2, metrics: 0 });
  });

  it('gRPC: stop() makes exports fail; restart() on the same port keeps data', async () => {
    const r = await startReceiver('grpc');
    const port = r.port;
    let c = grpcClients(port);
    await grpcExport(c.traces, traceRequestObject(), {});
    await r.stop();
    await assert.rejects(grpcExport(c.traces, traceRequestObject(), {}), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      return true;
    });
    c.close();
    await r.restart();
    assert.equal(r.port, port);
    c = grpcClients(port);
    try {
      await grpcExport(c.traces, traceRequestObject(), {});
      await grpcExport(c.metrics, metricsRequestObject(), {});
    } finally {
      c.close();
    }
    assert.deepEqual(r.spans, [...EXPECTED_SPANS, ...EXPECTED_SPANS]);
    assert.deepEqual(r.metrics, EXPECTED_POINTS);
    assert.deepEqual(r.requests, { traces: 2, metrics: 1 });
  });

  it('start() on a given port', async () => {
    const a = await startReceiver('http');
    const port = a.port;
    await a.stop();
    const b = await startReceiver('grpc', port);
    assert.equal(b.port, port);
    assert.equal(b.endpoint, `http://127.0.0.1:${port}`);
  });

  it('waitForSpans resolves on arrival and times out with a message', async () => {
    const r = await startReceiver('http');
    const waiting = r.waitForSpans(2, 5000);
    setTimeout(() => {
      void post(r.port, '/v1/traces', encode(TraceReq, traceRequestObject()), { 'content-type': 'application/x-protobuf' });
    }, 50);
    assert.equal((await waiting).length, 2);

    const started = Date.now();
    await assert.rejects(r.waitForSpans(3, 150), (err: Error) => {
      assert.match(err.message, /timed out after 150 ms waiting for 3 span\(s\)/);
      assert.match(err.message, /2 span\(s\) arrived/);
      assert.match(err.message, /"GET \/items"/);
      return true;
    });
    assert.ok(Date.now() - started >= 140);

    await assert.rejects(r.waitFor(() => false, 50, 'never'), /timed out after 50 ms waiting for never/);
    await r.waitFor(() => r.requests.traces === 1, 50, 'one request');
  });
});
