import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { HttpMetrics } from '../../src/export/metrics';
import { registerSelfMetrics, type SelfStats } from '../../src/export/self-metrics';
import type { HttpTransaction } from '../../src/transactions/transaction';
import { serverTx } from '../support/transactions';
import { sleep } from '../support/wait';

const PACKAGE_VERSION = (require('../../../package.json') as { version: string }).version;

/** The semantic-convention boundaries of http.*.request.duration, as Prometheus prints them. */
const DURATION_LE = ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf'];
const DURATION_BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const SIZE_LE = ['0', '64', '256', '1024', '4096', '16384', '65536', '262144', '1048576', '4194304', '16777216', '67108864', '+Inf'];

const base: HttpTransaction = {
  ...serverTx,
  pid: 7,
  process: 'node',
  target: '/users/1',
  host: 'api.example.com:8080',
  userAgent: undefined,
  startTimeUnixNano: 1_700_000_000_000_000_000n,
  durationNs: 4_000_000,
  responseBytes: 100,
};

const server = (o: Partial<HttpTransaction>): HttpTransaction => ({ ...base, ...o });
const client = (o: Partial<HttpTransaction>): HttpTransaction => ({
  ...base,
  role: 'client',
  target: '/',
  host: undefined,
  route: undefined,
  local: { address: '10.0.0.9', port: 40000 },
  ...o,
});

/** Records a fixed set of transactions (same for Prometheus and OTLP). */
function recordAll(m: HttpMetrics): void {
  // Server series 1: GET 200 /users/:id, checkout: 0.004 s, 0.25 s (on a boundary), 12 s (above all).
  m.record(server({ durationNs: 4_000_000, requestBytes: 0, responseBytes: 100 }), 'checkout');
  m.record(server({ durationNs: 250_000_000, requestBytes: 1024, responseBytes: 5000 }), 'checkout');
  m.record(server({ durationNs: 12_000_000_000, requestBytes: 70, responseBytes: 0 }), 'checkout');
  // Server series 2: no route → http_route="".
  m.record(server({ method: 'POST', status: 500, route: undefined, durationNs: 75_000_000, requestBytes: 64, responseBytes: 20 }), 'checkout');
  // Server series 3: unknown method → _OTHER.
  m.record(server({ method: 'PROPFIND', status: 207, route: '/dav', durationNs: 1_000_000_000, requestBytes: 300, responseBytes: 70_000_000 }), 'checkout');
  // Server series 4: same labels as series 1 but another service.
  m.record(server({ durationNs: 10_000_000_000 }), 'billing');
  // Client series 1: Host header with port.
  m.record(client({ host: 'backend:9000', peer: { address: '10.0.0.7', port: 9000 }, durationNs: 30_000_000, requestBytes: 10, responseBytes: 10 }), 'checkout');
  // Client series 2: no Host header → the peer.
  m.record(client({ peer: { address: '10.0.0.8', port: 8081 }, durationNs: 5_000_000, requestBytes: 0, responseBytes: 0 }), 'checkout');
  // Client series 3: Host header without port → the peer's port.
  m.record(client({ host: 'api.example.com', peer: { address: '10.0.0.10', port: 443 }, durationNs: 2_000_000_000, status: 404 }), 'checkout');
  // Client series 4: unknown method.
  m.record(client({ method: 'PURGE', host: '[::1]:6081', peer: { address: '::1', port: 6081 }, durationNs: 100_000_000 }), 'checkout');
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
}

/** The _bucket, _sum and _count lines of one series, cumulative counts given per le. */
function seriesLines(metric: string, le: string[], labels: Record<string, string>, cumulative: number[], sum: string, count: number): string[] {
  assert.equal(cumulative.length, le.length, 'test data: one count per le');
  const l = labelText(labels);
  return [
    ...le.map((b, i) => `${metric}_bucket{le="${b}",${l}} ${cumulative[i]}`),
    `${metric}_sum{${l}} ${sum}`,
    `${metric}_count{${l}} ${count}`,
  ];
}

/** The sample lines of one metric family, in exposition order. */
function samples(text: string, metric: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${metric}_bucket{`) || line.startsWith(`${metric}_sum{`) || line.startsWith(`${metric}_count{`));
}

const S1 = { http_request_method: 'GET', http_response_status_code: '200', http_route: '/users/:id', service_name: 'checkout' };
const S2 = { http_request_method: 'POST', http_response_status_code: '500', http_route: '', service_name: 'checkout' };
const S3 = { http_request_method: '_OTHER', http_response_status_code: '207', http_route: '/dav', service_name: 'checkout' };
const S4 = { http_request_method: 'GET', http_response_status_code: '200', http_route: '/users/:id', service_name: 'billing' };
const C1 = { http_request_method: 'GET', http_response_status_code: '200', http_route: '', service_name: 'checkout', server_address: 'backend', server_port: '9000' };
const C2 = { http_request_method: 'GET', http_response_status_code: '200', http_route: '', service_name: 'checkout', server_address: '10.0.0.8', server_port: '8081' };
const C3 = { http_request_method: 'GET', http_response_status_code: '404', http_route: '', service_name: 'checkout', server_address: 'api.example.com', server_port: '443' };
const C4 = { http_request_method: '_OTHER', http_response_status_code: '200', http_route: '', service_name: 'checkout', server_address: '::1', server_port: '6081' };

describe('HttpMetrics, Prometheus exposition', () => {
  it('server request duration: every bucket, sum and count of every series', async () => {
    const registry = new Registry();
    recordAll(new HttpMetrics(registry));
    const text = await registry.metrics();
    assert.ok(text.includes('# HELP http_server_request_duration_seconds Duration of HTTP server requests.\n# TYPE http_server_request_duration_seconds histogram\n'));
    const m = 'http_server_request_duration_seconds';
    assert.deepEqual(samples(text, m), [
      //                                         .005 .01 .025 .05 .075 .1 .25 .5 .75 1  2.5 5  7.5 10 +Inf
      ...seriesLines(m, DURATION_LE, S1, [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3], '12.254', 3),
      ...seriesLines(m, DURATION_LE, S2, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], '0.075', 1),
      ...seriesLines(m, DURATION_LE, S3, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1], '1', 1),
      ...seriesLines(m, DURATION_LE, S4, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1], '10', 1),
    ]);
  });

  it('server body sizes', async () => {
    const registry = new Registry();
    recordAll(new HttpMetrics(registry));
    const text = await registry.metrics();
    const req = 'http_server_request_body_size_bytes';
    assert.deepEqual(samples(text, req), [
      //                                     0  64 256 1K 4K 16K 64K 256K 1M 4M 16M 64M +Inf
      ...seriesLines(req, SIZE_LE, S1, [1, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], '1094', 3),
      ...seriesLines(req, SIZE_LE, S2, [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], '64', 1),
      ...seriesLines(req, SIZE_LE, S3, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], '300', 1),
      ...seriesLines(req, SIZE_LE, S4, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], '0', 1),
    ]);
    assert.ok(text.includes(`http_server_request_body_size_bytes_count{${labelText(S1)}} 3\n`));
    const res = 'http_server_response_body_size_bytes';
    assert.deepEqual(
      samples(text, res).filter((l) => !l.includes('_bucket{')),
      [
        `${res}_sum{${labelText(S1)}} 5100`,
        `${res}_count{${labelText(S1)}} 3`,
        `${res}_sum{${labelText(S2)}} 20`,
        `${res}_count{${labelText(S2)}} 1`,
        `${res}_sum{${labelText(S3)}} 70000000`,
        `${res}_count{${labelText(S3)}} 1`,
        `${res}_sum{${labelText(S4)}} 100`,
        `${res}_count{${labelText(S4)}} 1`,
      ],
    );
    // 70 000 000 bytes is above the last boundary (64 MiB): only +Inf.
    assert.deepEqual(
      samples(text, res).filter((l) => l.startsWith(`${res}_bucket{`) && l.endsWith(`,${labelText(S3)}} 1`)),
      [`${res}_bucket{le="+Inf",${labelText(S3)}} 1`],
    );
  });

  it('client request duration: server_address and server_port from Host, else the peer', async () => {
    const registry = new Registry();
    recordAll(new HttpMetrics(registry));
    const text = await registry.metrics();
    const m = 'http_client_request_duration_seconds';
    assert.ok(text.includes(`# HELP ${m} Duration of HTTP client requests.\n# TYPE ${m} histogram\n`));
    assert.deepEqual(samples(text, m), [
      //                                         .005 .01 .025 .05 .075 .1 .25 .5 .75 1  2.5 5  7.5 10 +Inf
      ...seriesLines(m, DURATION_LE, C1, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], '0.03', 1),
      ...seriesLines(m, DURATION_LE, C2, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], '0.005', 1),
      ...seriesLines(m, DURATION_LE, C3, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1], '2', 1),
      ...seriesLines(m, DURATION_LE, C4, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], '0.1', 1),
    ]);
    assert.deepEqual(
      samples(text, 'http_client_request_body_size_bytes').filter((l) => l.includes('_count{')),
      [
        `http_client_request_body_size_bytes_count{${labelText(C1)}} 1`,
        `http_client_request_body_size_bytes_count{${labelText(C2)}} 1`,
        `http_client_request_body_size_bytes_count{${labelText(C3)}} 1`,
        `http_client_request_body_size_bytes_count{${labelText(C4)}} 1`,
      ],
    );
    // Client transactions never reach the server histograms and vice versa.
    assert.equal(samples(text, 'http_server_request_duration_seconds').filter((l) => l.includes('server_address')).length, 0);
  });

  it('gRPC calls: RPC instruments only, labelled by service, method and status code', async () => {
    const registry = new Registry();
    const m = new HttpMetrics(registry);
    const rpc = { system: 'grpc' as const, service: 'shop.Catalog', method: 'Get', statusCode: 0, requestMessages: 1, responseMessages: 1, messagesExact: true };
    m.record(server({ protocol: 'HTTP/2', method: 'POST', target: '/shop.Catalog/Get', durationNs: 3_000_000, rpc }), 'catalog');
    m.record(server({ protocol: 'HTTP/2', method: 'POST', target: '/shop.Catalog/Get', durationNs: 30_000_000, rpc: { ...rpc, statusCode: 5, responseMessages: 0 } }), 'catalog');
    m.record(client({ protocol: 'HTTP/2', method: 'POST', target: '/shop.Catalog/Watch', host: 'catalog:50051', durationNs: 600_000_000, rpc: { ...rpc, method: 'Watch', responseMessages: 100 } }), 'web');
    const text = await registry.metrics();
    const R1 = { rpc_system: 'grpc', rpc_service: 'shop.Catalog', rpc_method: 'Get', rpc_grpc_status_code: '0', service_name: 'catalog' };
    const R2 = { ...R1, rpc_grpc_status_code: '5' };
    assert.deepEqual(samples(text, 'rpc_server_call_duration_seconds'), [
      ...seriesLines('rpc_server_call_duration_seconds', DURATION_LE, R1, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], '0.003', 1),
      ...seriesLines('rpc_server_call_duration_seconds', DURATION_LE, R2, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], '0.03', 1),
    ]);
    const C = { rpc_system: 'grpc', rpc_service: 'shop.Catalog', rpc_method: 'Watch', rpc_grpc_status_code: '0', service_name: 'web', server_address: 'catalog', server_port: '50051' };
    const MSG_LE = ['0', '1', '2', '4', '8', '16', '32', '64', '128', '256', '512', '1024', '4096', '16384', '+Inf'];
    assert.deepEqual(samples(text, 'rpc_client_responses_per_rpc'), seriesLines('rpc_client_responses_per_rpc', MSG_LE, C, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1], '100', 1));
    assert.deepEqual(samples(text, 'http_server_request_duration_seconds'), []);
    assert.deepEqual(samples(text, 'http_client_request_duration_seconds'), []);
  });

  it('a gRPC call whose message counts are lower bounds: its duration is recorded, its counts are not', async () => {
    const registry = new Registry();
    const m = new HttpMetrics(registry);
    const rpc = { system: 'grpc' as const, service: 'feed.Ticker', method: 'Watch', statusCode: 0, requestMessages: 1, responseMessages: 122, messagesExact: false };
    m.record(server({ protocol: 'HTTP/2', method: 'POST', target: '/feed.Ticker/Watch', durationNs: 3_000_000, rpc }), 'feed');
    const text = await registry.metrics();
    const R = { rpc_system: 'grpc', rpc_service: 'feed.Ticker', rpc_method: 'Watch', rpc_grpc_status_code: '0', service_name: 'feed' };
    assert.deepEqual(samples(text, 'rpc_server_call_duration_seconds'), seriesLines('rpc_server_call_duration_seconds', DURATION_LE, R, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], '0.003', 1));
    assert.deepEqual(samples(text, 'rpc_server_requests_per_rpc'), []);
    assert.deepEqual(samples(text, 'rpc_server_responses_per_rpc'), []);
  });

  it('nothing recorded: only HELP and TYPE lines', async () => {
    const registry = new Registry();
    new HttpMetrics(registry);
    const text = await registry.metrics();
    for (const side of ['server', 'client']) {
      for (const name of [`http_${side}_request_duration_seconds`, `http_${side}_request_body_size_bytes`, `http_${side}_response_body_size_bytes`]) {
        assert.ok(text.includes(`# TYPE ${name} histogram\n`), name);
        assert.deepEqual(samples(text, name), []);
      }
    }
  });
});

function histogramPoints(exported: ResourceMetrics, name: string): { metric: MetricData; points: DataPoint<Histogram>[] } {
  const all = exported.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.descriptor.name === name);
  assert.equal(all.length, 1, `one ${name} metric`);
  const metric = all[0];
  assert.equal(metric.dataPointType, DataPointType.HISTOGRAM);
  return { metric, points: metric.dataPoints as DataPoint<Histogram>[] };
}

describe('HttpMetrics over OTLP', () => {
  it('gRPC calls go out as rpc.server.call.duration with the RPC attributes; an unknown status is no attribute', async () => {
    const registry = new Registry();
    const metrics = new HttpMetrics(registry);
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    metrics.enableOtlp(exporter, resourceFromAttributes({ 'service.name': 'sidelight' }), 100);
    const rpc = { system: 'grpc' as const, service: 'shop.Catalog', method: 'Get', statusCode: 5 as number | undefined, requestMessages: 1, responseMessages: 0, messagesExact: true };
    metrics.record(server({ protocol: 'HTTP/2', method: 'POST', durationNs: 20_000_000, rpc }), 'catalog');
    metrics.record(server({ protocol: 'HTTP/2', method: 'POST', durationNs: 20_000_000, rpc: { ...rpc, statusCode: undefined }, unknownFields: ['grpcStatus'] }), 'catalog');
    await metrics.shutdown(5000);
    const all = exporter.getMetrics();
    const last = all[all.length - 1];
    const names = last.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name));
    assert.deepEqual(names, ['rpc.server.call.duration', 'rpc.server.requests_per_rpc', 'rpc.server.responses_per_rpc']);
    const d = histogramPoints(last, 'rpc.server.call.duration');
    assert.equal(d.metric.descriptor.unit, 's');
    assert.deepEqual(d.points.map((p) => [p.attributes, p.value.count]), [
      [{ 'rpc.system': 'grpc', 'rpc.service': 'shop.Catalog', 'rpc.method': 'Get', 'rpc.grpc.status_code': 5, 'service.name': 'catalog' }, 1],
      [{ 'rpc.system': 'grpc', 'rpc.service': 'shop.Catalog', 'rpc.method': 'Get', 'service.name': 'catalog' }, 1],
    ]);
  });

  it('pushes the same aggregates under the OpenTelemetry names on shutdown', async () => {
    const registry = new Registry();
    const metrics = new HttpMetrics(registry);
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const resource = resourceFromAttributes({ 'service.name': 'sidelight-agent', 'host.name': 'node-1' });
    metrics.enableOtlp(exporter, resource, 100);
    recordAll(metrics);
    await metrics.shutdown(5000);

    const all = exporter.getMetrics();
    assert.ok(all.length >= 1);
    const last = all[all.length - 1];
    assert.equal(last.resource, resource);
    const scopes = last.scopeMetrics.filter((s) => s.metrics.length > 0);
    assert.deepEqual(scopes.map((s) => s.scope), [{ name: 'sidelight', version: PACKAGE_VERSION }]);
    assert.deepEqual(scopes[0].metrics.map((m) => m.descriptor.name), [
      'http.server.request.duration',
      'http.server.request.body.size',
      'http.server.response.body.size',
      'http.client.request.duration',
      'http.client.request.body.size',
      'http.client.response.body.size',
    ]);

    const server = histogramPoints(last, 'http.server.request.duration');
    assert.equal(server.metric.descriptor.unit, 's');
    assert.equal(server.metric.descriptor.description, 'Duration of HTTP server requests.');
    assert.equal(server.metric.aggregationTemporality, AggregationTemporality.CUMULATIVE);
    assert.deepEqual(
      server.points.map((p) => ({ attributes: p.attributes, value: p.value })),
      [
        {
          attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200, 'http.route': '/users/:id', 'service.name': 'checkout' },
          value: { buckets: { boundaries: DURATION_BOUNDARIES, counts: [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1] }, sum: 12.254, count: 3 },
        },
        {
          // No route: no http.route attribute (not an empty one).
          attributes: { 'http.request.method': 'POST', 'http.response.status_code': 500, 'service.name': 'checkout' },
          value: { buckets: { boundaries: DURATION_BOUNDARIES, counts: [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }, sum: 0.075, count: 1 },
        },
        {
          attributes: { 'http.request.method': '_OTHER', 'http.response.status_code': 207, 'http.route': '/dav', 'service.name': 'checkout' },
          value: { buckets: { boundaries: DURATION_BOUNDARIES, counts: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0] }, sum: 1, count: 1 },
        },
        {
          attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200, 'http.route': '/users/:id', 'service.name': 'billing' },
          value: { buckets: { boundaries: DURATION_BOUNDARIES, counts: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0] }, sum: 10, count: 1 },
        },
      ],
    );
    for (const p of server.points) {
      assert.ok(p.startTime[0] * 1e9 + p.startTime[1] <= p.endTime[0] * 1e9 + p.endTime[1]);
    }

    const client = histogramPoints(last, 'http.client.request.duration');
    assert.equal(client.metric.descriptor.unit, 's');
    assert.deepEqual(
      client.points.map((p) => p.attributes),
      [
        { 'http.request.method': 'GET', 'http.response.status_code': 200, 'service.name': 'checkout', 'server.address': 'backend', 'server.port': 9000 },
        { 'http.request.method': 'GET', 'http.response.status_code': 200, 'service.name': 'checkout', 'server.address': '10.0.0.8', 'server.port': 8081 },
        { 'http.request.method': 'GET', 'http.response.status_code': 404, 'service.name': 'checkout', 'server.address': 'api.example.com', 'server.port': 443 },
        { 'http.request.method': '_OTHER', 'http.response.status_code': 200, 'service.name': 'checkout', 'server.address': '::1', 'server.port': 6081 },
      ],
    );
    assert.deepEqual(client.points[0].value, {
      buckets: { boundaries: DURATION_BOUNDARIES, counts: [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
      sum: 0.03,
      count: 1,
    });

    const size = histogramPoints(last, 'http.server.request.body.size');
    assert.equal(size.metric.descriptor.unit, 'By');
    assert.deepEqual(size.points[0].value, {
      buckets: { boundaries: [0, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864], counts: [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
      sum: 1094,
      count: 3,
    });
  });
});

function selfStats(): SelfStats {
  return {
    eventsReceived: 1000,
    kernelDrops: 3,
    bytesUnparsed: { not_http: 4096, gap: 12 },
    parseErrors: { http1: 2 },
    http2Unknown: { hpack_refs: 4 },
    http2Streams: { reset: 1 },
    connectionsTracked: 17,
    connectionsLimited: { http1_head: 2, hpack: 1 },
    transactions: 250,
    spansExported: 240,
    spansDropped: { queue_full: 10 },
    exportErrors: { traces: 1, metrics: 0 },
    routesOverflowed: 5,
    routesIgnored: 6,
    eventsDeselected: 7,
    processesExcluded: { 'exclude-exe-path': 2, 'k8s-namespace': 1 },
    kubernetesWatchErrors: 1,
    tlsLibraries: { attached: 3, failed: 1 },
  };
}

function selfExposition(s: SelfStats): string {
  const lines: string[] = [];
  const counter = (name: string, help: string, label: string | undefined, v: number | Record<string, number>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    if (typeof v === 'number') lines.push(`${name} ${v}`);
    else for (const [k, n] of Object.entries(v)) lines.push(`${name}{${label}="${k}"} ${n}`);
    lines.push('');
  };
  counter('sidelight_events_received_total', 'Kernel events delivered to the agent.', undefined, s.eventsReceived);
  counter('sidelight_kernel_drops_total', 'Events the kernel could not put in the ring buffer.', undefined, s.kernelDrops);
  counter('sidelight_bytes_unparsed_total', 'Payload bytes not parsed, by reason.', 'reason', s.bytesUnparsed);
  counter('sidelight_parse_errors_total', 'Parse errors (framing lost), by protocol.', 'protocol', s.parseErrors);
  counter('sidelight_http2_unknown_total', 'HTTP/2 header state the agent could not know: HPACK references to entries from before it attached, transactions reported with unknown fields, header blocks lost.', 'what', s.http2Unknown);
  counter('sidelight_http2_streams_total', 'HTTP/2 streams by how they ended other than with a response: reset, unanswered (closed, GOAWAY, evicted), response without a seen request.', 'outcome', s.http2Streams);
  counter('sidelight_connections_limited_total', 'Connections that crossed a parser bound (hostile or broken input) and were skipped from there on, by limit; their later bytes count as bytes_unparsed reason="limit".', 'limit', s.connectionsLimited);
  counter('sidelight_transactions_total', 'Transactions rebuilt.', undefined, s.transactions);
  counter('sidelight_spans_exported_total', 'Spans accepted by the OTLP endpoint.', undefined, s.spansExported);
  counter('sidelight_spans_dropped_total', 'Spans not exported, by reason.', 'reason', s.spansDropped);
  counter('sidelight_export_errors_total', 'Failed OTLP export calls, by signal.', 'signal', s.exportErrors);
  counter('sidelight_routes_overflowed_total', 'Requests whose route was replaced by the overflow value (cardinality cap).', undefined, s.routesOverflowed);
  counter('sidelight_routes_ignored_total', 'Requests matching an ignore pattern, not exported.', undefined, s.routesIgnored);
  counter('sidelight_events_deselected_total', 'Events of processes the selection leaves out, dropped in user space (the kernel filters their new connections).', undefined, s.eventsDeselected);
  counter('sidelight_processes_excluded_total', 'Processes the selection left out, by rule.', 'rule', s.processesExcluded);
  counter('sidelight_kubernetes_watch_errors_total', 'Failed lists or watches of the Kubernetes API (each is retried).', undefined, s.kubernetesWatchErrors);
  lines.push(
    '# HELP sidelight_tls_libraries TLS library files found, by state: attached (uprobes on) or failed (the log names the file and the reason).',
    '# TYPE sidelight_tls_libraries gauge',
    ...Object.entries(s.tlsLibraries).map(([state, n]) => `sidelight_tls_libraries{state="${state}"} ${n}`),
    '',
  );
  lines.push('# HELP sidelight_connections_tracked Connections the agent is tracking now.', '# TYPE sidelight_connections_tracked gauge', `sidelight_connections_tracked ${s.connectionsTracked}`, '');
  return lines.join('\n');
}

describe('self metrics', () => {
  it('exposes every sidelight_* metric with the values of the stats', async () => {
    const registry = new Registry();
    registerSelfMetrics(registry, () => selfStats());
    assert.equal(
      await registry.metrics(),
      [
        '# HELP sidelight_events_received_total Kernel events delivered to the agent.',
        '# TYPE sidelight_events_received_total counter',
        'sidelight_events_received_total 1000',
        '',
        '# HELP sidelight_kernel_drops_total Events the kernel could not put in the ring buffer.',
        '# TYPE sidelight_kernel_drops_total counter',
        'sidelight_kernel_drops_total 3',
        '',
        '# HELP sidelight_bytes_unparsed_total Payload bytes not parsed, by reason.',
        '# TYPE sidelight_bytes_unparsed_total counter',
        'sidelight_bytes_unparsed_total{reason="not_http"} 4096',
        'sidelight_bytes_unparsed_total{reason="gap"} 12',
        '',
        '# HELP sidelight_parse_errors_total Parse errors (framing lost), by protocol.',
        '# TYPE sidelight_parse_errors_total counter',
        'sidelight_parse_errors_total{protocol="http1"} 2',
        '',
        '# HELP sidelight_http2_unknown_total HTTP/2 header state the agent could not know: HPACK references to entries from before it attached, transactions reported with unknown fields, header blocks lost.',
        '# TYPE sidelight_http2_unknown_total counter',
        'sidelight_http2_unknown_total{what="hpack_refs"} 4',
        '',
        '# HELP sidelight_http2_streams_total HTTP/2 streams by how they ended other than with a response: reset, unanswered (closed, GOAWAY, evicted), response without a seen request.',
        '# TYPE sidelight_http2_streams_total counter',
        'sidelight_http2_streams_total{outcome="reset"} 1',
        '',
        '# HELP sidelight_connections_limited_total Connections that crossed a parser bound (hostile or broken input) and were skipped from there on, by limit; their later bytes count as bytes_unparsed reason="limit".',
        '# TYPE sidelight_connections_limited_total counter',
        'sidelight_connections_limited_total{limit="http1_head"} 2',
        'sidelight_connections_limited_total{limit="hpack"} 1',
        '',
        '# HELP sidelight_transactions_total Transactions rebuilt.',
        '# TYPE sidelight_transactions_total counter',
        'sidelight_transactions_total 250',
        '',
        '# HELP sidelight_spans_exported_total Spans accepted by the OTLP endpoint.',
        '# TYPE sidelight_spans_exported_total counter',
        'sidelight_spans_exported_total 240',
        '',
        '# HELP sidelight_spans_dropped_total Spans not exported, by reason.',
        '# TYPE sidelight_spans_dropped_total counter',
        'sidelight_spans_dropped_total{reason="queue_full"} 10',
        '',
        '# HELP sidelight_export_errors_total Failed OTLP export calls, by signal.',
        '# TYPE sidelight_export_errors_total counter',
        'sidelight_export_errors_total{signal="traces"} 1',
        'sidelight_export_errors_total{signal="metrics"} 0',
        '',
        '# HELP sidelight_routes_overflowed_total Requests whose route was replaced by the overflow value (cardinality cap).',
        '# TYPE sidelight_routes_overflowed_total counter',
        'sidelight_routes_overflowed_total 5',
        '',
        '# HELP sidelight_routes_ignored_total Requests matching an ignore pattern, not exported.',
        '# TYPE sidelight_routes_ignored_total counter',
        'sidelight_routes_ignored_total 6',
        '',
        '# HELP sidelight_events_deselected_total Events of processes the selection leaves out, dropped in user space (the kernel filters their new connections).',
        '# TYPE sidelight_events_deselected_total counter',
        'sidelight_events_deselected_total 7',
        '',
        '# HELP sidelight_processes_excluded_total Processes the selection left out, by rule.',
        '# TYPE sidelight_processes_excluded_total counter',
        'sidelight_processes_excluded_total{rule="exclude-exe-path"} 2',
        'sidelight_processes_excluded_total{rule="k8s-namespace"} 1',
        '',
        '# HELP sidelight_kubernetes_watch_errors_total Failed lists or watches of the Kubernetes API (each is retried).',
        '# TYPE sidelight_kubernetes_watch_errors_total counter',
        'sidelight_kubernetes_watch_errors_total 1',
        '',
        '# HELP sidelight_tls_libraries TLS library files found, by state: attached (uprobes on) or failed (the log names the file and the reason).',
        '# TYPE sidelight_tls_libraries gauge',
        'sidelight_tls_libraries{state="attached"} 3',
        'sidelight_tls_libraries{state="failed"} 1',
        '',
        '# HELP sidelight_connections_tracked Connections the agent is tracking now.',
        '# TYPE sidelight_connections_tracked gauge',
        'sidelight_connections_tracked 17',
        '',
      ].join('\n'),
    );
  });

  it('counters mirror the running totals on every scrape (not increments), gauges the current value', async () => {
    const registry = new Registry();
    const stats = selfStats();
    let reads = 0;
    registerSelfMetrics(registry, () => {
      reads++;
      return stats;
    });
    assert.equal(await registry.metrics(), selfExposition(stats));
    // The same object, updated in place: the next scrape shows the new totals.
    stats.eventsReceived = 1500;
    stats.kernelDrops = 4;
    stats.bytesUnparsed = { not_http: 5000 }; // a reason gone: its series goes too
    stats.parseErrors = {};
    stats.connectionsTracked = 2; // a gauge may go down
    stats.transactions = 300;
    stats.spansDropped = { queue_full: 10, shutdown: 1 };
    stats.exportErrors = { traces: 2, metrics: 1 };
    const second = await registry.metrics();
    assert.equal(second, selfExposition(stats));
    assert.ok(second.includes('\nsidelight_events_received_total 1500\n'));
    assert.ok(second.includes('\nsidelight_bytes_unparsed_total{reason="not_http"} 5000\n\n'));
    assert.ok(second.includes('# TYPE sidelight_parse_errors_total counter\n\n'));
    assert.ok(second.includes('\nsidelight_connections_tracked 2\n'));
    // Scraping again without a change does not add anything.
    assert.equal(await registry.metrics(), second);
    assert.ok(reads >= 1);
  });

  it('a new stats object is picked up (after the 100 ms snapshot window)', async () => {
    const registry = new Registry();
    let current = selfStats();
    registerSelfMetrics(registry, () => current);
    assert.equal(await registry.metrics(), selfExposition(current));
    current = { ...selfStats(), eventsReceived: 2000, spansExported: 480, exportErrors: { traces: 3 }, connectionsTracked: 40 };
    // One snapshot serves every collector of a scrape (and scrapes within 100 ms).
    await sleep(150);
    const text = await registry.metrics();
    assert.equal(text, selfExposition(current));
    assert.ok(text.includes('\nsidelight_events_received_total 2000\n'));
    assert.ok(text.includes('\nsidelight_spans_exported_total 480\n'));
    assert.ok(text.includes('\nsidelight_export_errors_total{signal="traces"} 3\n\n'));
    assert.ok(text.includes('\nsidelight_connections_tracked 40\n'));
  });
});
