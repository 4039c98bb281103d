// End to end: real eBPF, real peers (curl, Node http, python3 services, an
// OpenTelemetry SDK client), exported over OTLP to a receiver built from the
// official protos, and scraped by Debian's Prometheus. Exact counts, exact
// attributes, exact parent links.
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { context, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { freePort, httpGet, ROOT, startAgent, type RunningAgent } from '../support/agent';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { prometheusBinary, PrometheusServer } from '../support/prometheus';
import { spawn } from '../support/children';
import { bpfUnavailable, skipUnless } from '../support/requirements';
import { sleep } from '../support/wait';

const run = promisify(execFile);
const SERVER = 2;
const CLIENT = 3;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;

const skipReason = skipUnless('the export end-to-end tests', bpfUnavailable() ?? (prometheusBinary() ? undefined : 'prometheus not installed (apt-get install prometheus)'));

async function curl(port: number, urlPath: string, headers: string[] = []): Promise<void> {
  await run('curl', ['-s', '-o', '/dev/null', ...headers.flatMap((h) => ['-H', h]), `http://127.0.0.1:${port}${urlPath}`]);
}

function pyService(port: number, downstream?: number): ChildProcess {
  return spawn('python3', [path.join(ROOT, 'test', 'fixtures', 'chain-service.py'), String(port)], {
    env: { ...process.env, ...(downstream ? { DOWNSTREAM: String(downstream) } : {}) },
    stdio: 'ignore',
  });
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await httpGet(port, '/ready');
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

function nodeServer(): http.Server {
  return http.createServer((req, res) => {
    const p = (req.url ?? '/').split('?')[0];
    const status = p === '/boom' ? 503 : p === '/missing' ? 404 : 200;
    const body = `${p}\n`;
    res.writeHead(status, { 'content-length': Buffer.byteLength(body) }).end(body);
  });
}

function find(spans: ReceivedSpan[], pred: (s: ReceivedSpan) => boolean, what: string): ReceivedSpan {
  const hits = spans.filter(pred);
  assert.equal(hits.length, 1, `expected exactly one span ${what}, got ${hits.length}: ${spans.map((s) => `${s.kind}:${s.attributes['url.path']}`).join(' ')}`);
  return hits[0];
}

const byPath = (kind: number, p: string, exe?: string) => (s: ReceivedSpan) =>
  s.kind === kind && s.attributes['url.path'] === p && (exe === undefined || s.resource['process.executable.name'] === exe);

describe('export: OTLP traces and metrics, Prometheus, trace context (real eBPF)', { skip: skipReason }, () => {
  let receiver: OtlpReceiver;
  let agent: RunningAgent;
  let prom: PrometheusServer;
  let srv: http.Server;
  let srvPort: number;
  let aPort: number;
  let bPort: number;
  const children: ChildProcess[] = [];
  const testStartNs = BigInt(Date.now()) * 1_000_000n;

  before(async () => {
    receiver = await OtlpReceiver.start({ transport: 'grpc' });
    srv = nodeServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    srvPort = (srv.address() as { port: number }).port;
    aPort = await freePort();
    bPort = await freePort();
    children.push(pyService(bPort), pyService(aPort, bPort));
    await Promise.all([waitListening(aPort), waitListening(bPort)]);
    agent = await startAgent(
      [
        '--port', String(srvPort), '--port', String(aPort), '--port', String(bPort),
        '--otlp-endpoint', receiver.endpoint, '--otlp-protocol', 'grpc', '--span-delay', '200',
        '--route', '/users/{id}', '--ignore-route', '/ready',
      ],
    );
    prom = await PrometheusServer.start({ targets: [`127.0.0.1:${agent.adminPort}`], scrapeIntervalMs: 500 });
  });

  after(async () => {
    await agent?.stop();
    await prom?.stop();
    await receiver?.stop();
    for (const c of children) c.kill();
    srv?.close();
  });

  it('spans carry the HTTP conventions, kernel times, status and the process resource', async () => {
    const before = receiver.spans.length;
    // Credentials in headers must reach no span and no attribute.
    await curl(srvPort, '/users/123?token=s3cret&page=2', ['Authorization: Bearer t0psecret', 'Cookie: session=c00kie']);
    await curl(srvPort, '/boom');
    await curl(srvPort, '/missing');
    const spans = (await receiver.waitForSpans(before + 6, 20_000)).slice(before);
    const mine = spans.filter((s) => s.attributes['server.port'] === srvPort);
    assert.equal(mine.length, 6);

    const server = find(mine, byPath(SERVER, '/users/123'), 'SERVER /users/123');
    const client = find(mine, byPath(CLIENT, '/users/123'), 'CLIENT /users/123');
    const curlVersion = (await run('curl', ['--version'])).stdout.split(' ')[1];
    assert.equal(server.name, 'GET /users/{id}');
    assert.deepEqual(server.attributes, {
      'http.request.method': 'GET',
      'url.path': '/users/123',
      'url.query': 'token=REDACTED&page=REDACTED',
      'url.scheme': 'http',
      'http.route': '/users/{id}',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': srvPort,
      'client.address': '127.0.0.1',
      'network.peer.address': '127.0.0.1',
      'network.peer.port': server.attributes['network.peer.port'],
      'network.protocol.version': '1.1',
      'http.request.body.size': 0,
      'http.response.body.size': '/users/123\n'.length,
      'user_agent.original': `curl/${curlVersion}`,
    });
    assert.equal(typeof server.attributes['network.peer.port'], 'number');
    assert.doesNotMatch(JSON.stringify(mine, (_k, v) => (typeof v === 'bigint' ? String(v) : v)), /t0psecret|c00kie|s3cret/);
    // The JSON line of the same exchange carries the same ids and route.
    const line = agent.transactions().find((t) => t.role === 'server' && t.path === '/users/123');
    assert.ok(line);
    assert.deepEqual(
      [line.traceId, line.spanId, line.parentSpanId, line.route, line.query],
      [server.traceId, server.spanId, server.parentSpanId, '/users/{id}', 'token=REDACTED&page=REDACTED'],
    );
    const curlLine = agent.transactions().find((t) => t.role === 'client' && t.path === '/users/123');
    assert.deepEqual([curlLine?.spanId, curlLine?.parentSpanId], [client.spanId, '']);
    assert.deepEqual(client.attributes, {
      'http.request.method': 'GET',
      'url.path': '/users/123',
      'url.query': 'token=REDACTED&page=REDACTED',
      'url.scheme': 'http',
      'http.route': '/users/{id}',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': srvPort,
      'network.peer.address': '127.0.0.1',
      'network.peer.port': srvPort,
      'network.protocol.version': '1.1',
      'http.request.body.size': 0,
      'http.response.body.size': '/users/123\n'.length,
      'user_agent.original': `curl/${curlVersion}`,
    });
    assert.equal(client.kind, CLIENT);
    // Both ends on this node: the server span is the child of curl's span.
    assert.equal(client.parentSpanId, '');
    assert.equal(server.traceId, client.traceId);
    assert.equal(server.parentSpanId, client.spanId);
    // Kernel times: inside the test's window, the server's inside the client's.
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    for (const s of [server, client]) {
      assert.ok(s.startTimeUnixNano > testStartNs && s.endTimeUnixNano < nowNs && s.endTimeUnixNano >= s.startTimeUnixNano);
    }
    assert.ok(server.startTimeUnixNano >= client.startTimeUnixNano && server.endTimeUnixNano <= client.endTimeUnixNano);
    assert.deepEqual(server.resource, {
      'service.name': 'node',
      'service.instance.id': `${os.hostname()}:${process.pid}`,
      'process.pid': process.pid,
      'process.executable.name': 'node',
      'host.name': os.hostname(),
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.version': server.resource['telemetry.sdk.version'],
      'telemetry.distro.name': 'sidelight',
      'telemetry.distro.version': '0.1.0',
    });
    assert.equal(client.resource['process.executable.name'], 'curl');
    assert.deepEqual(server.scope, { name: 'sidelight', version: '0.1.0' });

    // Status: Error for 5xx on servers, 4xx and 5xx on clients.
    const status = (k: number, p: string) => find(mine, byPath(k, p), `${k} ${p}`).status.code;
    assert.deepEqual(
      [status(SERVER, '/boom'), status(CLIENT, '/boom'), status(SERVER, '/missing'), status(CLIENT, '/missing'), server.status.code],
      [STATUS_ERROR, STATUS_ERROR, STATUS_UNSET, STATUS_ERROR, STATUS_UNSET],
    );
    assert.equal(find(mine, byPath(SERVER, '/boom'), 'boom').name, 'GET /boom');
  });

  it('curl -> A -> B (python services) forms one trace per request, every parent link exact', async () => {
    const before = receiver.spans.length;
    const N = 5;
    for (let i = 0; i < N; i++) await curl(aPort, `/a/${i}`);
    await curl(aPort, '/ready'); // an ignored route: no span, no metric
    const spans = (await receiver.waitForSpans(before + 4 * N, 20_000)).slice(before);
    await sleep(500);
    assert.equal(receiver.spans.length, before + 4 * N, 'no extra spans');
    const traces = new Set<string>();
    for (let i = 0; i < N; i++) {
      const c = find(spans, byPath(CLIENT, `/a/${i}`, 'curl'), `curl /a/${i}`);
      const aServer = find(spans, byPath(SERVER, `/a/${i}`), `A server /a/${i}`);
      const aClient = find(spans, byPath(CLIENT, `/b/${i}`), `A client /b/${i}`);
      const bServer = find(spans, byPath(SERVER, `/b/${i}`), `B server /b/${i}`);
      assert.equal(c.parentSpanId, '');
      assert.equal(aServer.parentSpanId, c.spanId);
      assert.equal(aClient.parentSpanId, aServer.spanId);
      assert.equal(bServer.parentSpanId, aClient.spanId);
      for (const s of [aServer, aClient, bServer]) assert.equal(s.traceId, c.traceId);
      assert.equal(aServer.resource['process.pid'], aClient.resource['process.pid']);
      assert.notEqual(aServer.resource['process.pid'], bServer.resource['process.pid']);
      traces.add(c.traceId);
    }
    assert.equal(traces.size, N);
  });

  it('an SDK-instrumented client keeps its ids: sidelight\'s spans join the SDK\'s trace', async () => {
    const provider = new BasicTracerProvider();
    const tracer = provider.getTracer('test-app');
    const propagator = new W3CTraceContextPropagator();
    const sdkSpan = tracer.startSpan('checkout');
    const headers: Record<string, string> = {};
    propagator.inject(trace.setSpan(context.active(), sdkSpan), headers, { set: (c, k, v) => ((c as Record<string, string>)[k] = v) });
    assert.match(headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const before = receiver.spans.length;
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: bPort, path: '/b/sdk', headers, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    sdkSpan.end();
    const spans = (await receiver.waitForSpans(before + 2, 20_000)).slice(before);
    const sdk = sdkSpan.spanContext();
    const client = find(spans, byPath(CLIENT, '/b/sdk'), 'SDK client');
    const server = find(spans, byPath(SERVER, '/b/sdk'), 'B server');
    assert.deepEqual([client.traceId, client.parentSpanId], [sdk.traceId, sdk.spanId]);
    assert.deepEqual([server.traceId, server.parentSpanId], [sdk.traceId, client.spanId]);
  });

  it('Prometheus scrapes /metrics: exact request counts per route, semconv names and buckets', async () => {
    // Everything above has been exported; wait for a scrape that saw it.
    await prom.waitForScrapes(2, 30_000);
    const q = await prom.query(`sum by (http_route, http_response_status_code) (http_server_request_duration_seconds_count{service_name="node"})`);
    const got = Object.fromEntries(q.map((s) => [`${s.metric.http_route} ${s.metric.http_response_status_code}`, s.value]));
    assert.deepEqual(got, { '/users/{id} 200': 1, '/boom 503': 1, '/missing 404': 1 });
    const py = await prom.query(`sum by (http_route) (http_server_request_duration_seconds_count{service_name=~"python.*"})`);
    const pyGot = Object.fromEntries(py.map((s) => [s.metric.http_route, s.value]));
    assert.deepEqual(pyGot, { '/a/{id}': 5, '/b/{id}': 5, '/b/sdk': 1 });
    const clients = await prom.query(`sum by (server_port) (http_client_request_duration_seconds_count{service_name="curl"})`);
    assert.deepEqual(
      Object.fromEntries(clients.map((s) => [s.metric.server_port, s.value])),
      { [String(srvPort)]: 3, [String(aPort)]: 5 },
    );
    const le = await prom.query(`http_server_request_duration_seconds_bucket{service_name="node",http_route="/boom"}`);
    assert.deepEqual(
      le.map((s) => s.metric.le).sort((x, y) => (x === '+Inf' ? Infinity : Number(x)) - (y === '+Inf' ? Infinity : Number(y))),
      ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf'],
    );
    // The ignored health-check path is in no metric.
    const ready = await prom.query(`count(http_server_request_duration_seconds_count{http_route="/ready"})`);
    assert.deepEqual(ready, []);
    const self = await prom.query('sidelight_spans_exported_total');
    assert.equal(self.length, 1);
    const dropped = await prom.query('sum(sidelight_kernel_drops_total)');
    assert.deepEqual(dropped.map((s) => s.value), [0]);
  });
});

describe('export: OTLP/HTTP with the standard OTEL_* variables (real eBPF)', { skip: skipReason }, () => {
  it('honours an incoming traceparent, service name, resource attributes, headers, and pushes metrics', async () => {
    const receiver = await OtlpReceiver.start({ transport: 'http' });
    const aPort = await freePort();
    const bPort = await freePort();
    const b = pyService(bPort);
    const a = pyService(aPort, bPort);
    await Promise.all([waitListening(aPort), waitListening(bPort)]);
    // Only A and B are watched: curl is not, so the header is all A's server span has.
    const agent = await startAgent(['--pid', String(a.pid), '--pid', String(b.pid)], 30_000, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=team%20a',
      OTEL_SERVICE_NAME: 'shop',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,service.name=ignored',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
    });
    try {
      const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      await curl(aPort, '/a/1', [`traceparent: ${tp}`, 'tracestate: congo=t61rcWkgMzE']);
      await curl(aPort, '/a/2');
      const spans = await receiver.waitForSpans(6, 20_000);
      await sleep(500);
      assert.equal(receiver.spans.length, 6);
      const aServer = find(spans, byPath(SERVER, '/a/1'), 'A server /a/1');
      const aClient = find(spans, byPath(CLIENT, '/b/1'), 'A client /b/1');
      const bServer = find(spans, byPath(SERVER, '/b/1'), 'B server /b/1');
      assert.deepEqual(
        [aServer.traceId, aServer.parentSpanId, aServer.traceState],
        ['4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 'congo=t61rcWkgMzE'],
      );
      assert.deepEqual([aClient.traceId, aClient.parentSpanId], ['4bf92f3577b34da6a3ce929d0e0e4736', aServer.spanId]);
      assert.deepEqual([bServer.traceId, bServer.parentSpanId], ['4bf92f3577b34da6a3ce929d0e0e4736', aClient.spanId]);
      const root = find(spans, byPath(SERVER, '/a/2'), 'A server /a/2');
      assert.equal(root.parentSpanId, '');
      for (const s of spans) {
        assert.equal(s.resource['service.name'], 'shop');
        assert.equal(s.resource['deployment.environment.name'], 'test');
      }
      assert.ok(receiver.headers.length > 0);
      for (const h of receiver.headers) assert.equal(h['x-tenant'], 'team a');
      await receiver.waitFor(
        () => receiver.metrics.some((m) => m.metric === 'http.server.request.duration' && m.attributes['http.route'] === '/a/{id}' && m.count === 2n),
        20_000,
        'http.server.request.duration count 2 for /a/{id}',
      );
      const point = receiver.metrics.filter((m) => m.metric === 'http.server.request.duration' && m.attributes['http.route'] === '/a/{id}').at(-1)!;
      assert.deepEqual(point.attributes, { 'http.request.method': 'GET', 'http.response.status_code': 200, 'service.name': 'shop', 'http.route': '/a/{id}' });
      assert.equal(point.unit, 's');
      assert.deepEqual(point.explicitBounds, [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
      const client = receiver.metrics.filter((m) => m.metric === 'http.client.request.duration').at(-1)!;
      assert.deepEqual(client.attributes, {
        'http.request.method': 'GET', 'http.response.status_code': 200, 'service.name': 'shop', 'http.route': '/b/{id}',
        'server.address': '127.0.0.1', 'server.port': bPort,
      });
      assert.equal(client.count, 2n);
    } finally {
      await agent.stop();
      await receiver.stop();
      a.kill();
      b.kill();
    }
  });
});

describe('export: the collector goes down, then comes back (real eBPF)', { skip: skipReason }, () => {
  it('no crash, bounded queue, drops counted, later spans delivered', async () => {
    const receiver = await OtlpReceiver.start({ transport: 'grpc' });
    const srv = nodeServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const QUEUE = 40;
    const agent = await startAgent(['--port', String(port), '--pid', String(process.pid)], 30_000, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BSP_MAX_QUEUE_SIZE: String(QUEUE),
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10',
    });
    const stats = async () => JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { spans: { exported: number; droppedQueueFull: number; queued: number; inFlight: number; exportErrors: number } };
    try {
      // The test process is both client and server here: two spans per request.
      const get = (p: string) => httpGet(port, p);
      for (let i = 0; i < 5; i++) await get(`/up/${i}`);
      await receiver.waitForSpans(10, 20_000);
      // Stop only once the agent has the receiver's answer (else it resends: OTLP is at-least-once).
      for (let i = 0; i < 100 && (await stats()).spans.exported < 10; i++) await sleep(50);
      await receiver.stop();
      // 300 spans while nothing listens: at most QUEUE are kept.
      for (let i = 0; i < 150; i++) await get(`/down/${i}`);
      await agent.waitFor(310, () => true);
      const seen = agent.transactions();
      const missing: string[] = [];
      for (const p of [...Array(5).keys()].map((i) => `/up/${i}`).concat([...Array(150).keys()].map((i) => `/down/${i}`))) {
        for (const role of ['server', 'client']) if (!seen.some((t) => t.path === p && t.role === role)) missing.push(`${role} ${p}`);
      }
      // Every exchange, both ends: sockets reused by the kernel must not inherit a dead connection's verdict.
      assert.deepEqual(missing, [], `stats: ${(await httpGet(agent.adminPort, '/stats')).body}`);
      assert.equal(seen.length, 310);
      await sleep(1500);
      const down = await stats();
      assert.ok(down.spans.queued <= QUEUE, `queue bounded: ${down.spans.queued}`);
      assert.ok(down.spans.exportErrors >= 1);
      assert.equal(down.spans.exported, 10);
      const downTotal = agent.transactions().length;
      assert.equal(down.spans.exported + down.spans.droppedQueueFull + down.spans.queued + down.spans.inFlight, downTotal);
      await receiver.restart();
      for (let i = 0; i < 5; i++) await get(`/back/${i}`);
      // Every later span arrives once the collector is back, and the queue drains.
      await receiver.waitFor(() => receiver.spans.filter((s) => String(s.attributes['url.path']).startsWith('/back/')).length === 10, 60_000, 'the 10 later spans');
      let end = await stats();
      for (let i = 0; i < 100 && end.spans.queued + end.spans.inFlight > 0; i++) {
        await sleep(100);
        end = await stats();
      }
      assert.equal(end.spans.queued, 0);
      const total = agent.transactions().length;
      assert.equal(total, 320);
      assert.equal(total, JSON.parse((await httpGet(agent.adminPort, '/stats')).body).tracker.http1.transactions);
      assert.equal(end.spans.exported + end.spans.droppedQueueFull, total);
      assert.equal(receiver.spans.length, end.spans.exported);
      assert.equal(new Set(receiver.spans.map((s) => s.spanId)).size, receiver.spans.length, 'no span delivered twice');
      const metrics = await httpGet(agent.adminPort, '/metrics');
      assert.match(metrics.body, new RegExp(`^sidelight_spans_dropped_total\\{reason="queue_full"\\} ${end.spans.droppedQueueFull}$`, 'm'));
      assert.match(metrics.body, /^sidelight_export_errors_total\{signal="traces"\} [1-9]\d*$/m);
    } finally {
      const { code } = await agent.stop();
      assert.equal(code, 0);
      await receiver.stop();
      srv.close();
    }
  });
});
