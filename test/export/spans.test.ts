import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { isError, parseHost, semconvMethod, spanAttributes, spanName, toSpan } from '../../src/export/spans';
import type { HttpTransaction } from '../../src/transactions/transaction';
import { clientTx, PARENT_ID, serverTx, SPAN_ID, TRACE_ID } from '../support/transactions';
import { otlpRoot, spansFromRequest } from '../support/otlp-receiver';

const PACKAGE_VERSION = (require('../../../package.json') as { version: string }).version;

describe('semconvMethod', () => {
  it('keeps the nine known methods', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']) {
      assert.equal(semconvMethod(m), m);
    }
  });
  it('reports anything else as _OTHER (case-sensitive)', () => {
    assert.equal(semconvMethod('FOO'), '_OTHER');
    assert.equal(semconvMethod('get'), '_OTHER');
    assert.equal(semconvMethod('PROPFIND'), '_OTHER');
    assert.equal(semconvMethod(''), '_OTHER');
  });
});

describe('parseHost', () => {
  it('name without port', () => {
    assert.deepEqual(parseHost('example.com'), { address: 'example.com', port: undefined });
  });
  it('name with port', () => {
    assert.deepEqual(parseHost('example.com:8080'), { address: 'example.com', port: 8080 });
  });
  it('bracketed IPv6 with port', () => {
    assert.deepEqual(parseHost('[::1]:9000'), { address: '::1', port: 9000 });
  });
  it('bracketed IPv6 without port', () => {
    assert.deepEqual(parseHost('[::1]'), { address: '::1', port: undefined });
  });
  it('bracketed IPv6 with a bad port keeps the address, drops the port', () => {
    assert.deepEqual(parseHost('[::1]:0'), { address: '::1', port: undefined });
    assert.deepEqual(parseHost('[::1]:65536'), { address: '::1', port: undefined });
    assert.deepEqual(parseHost('[::1]:x'), { address: '::1', port: undefined });
  });
  it('port out of range: no port; the name without it is the address', () => {
    assert.deepEqual(parseHost('host:99999'), { address: 'host', port: undefined });
    assert.deepEqual(parseHost('host:0'), { address: 'host', port: undefined });
  });
  it('highest valid port', () => {
    assert.deepEqual(parseHost('host:65535'), { address: 'host', port: 65535 });
  });
  it('IPv6 without brackets is an address, never address:port', () => {
    assert.deepEqual(parseHost('a:b:c'), { address: 'a:b:c', port: undefined });
    assert.deepEqual(parseHost('fe80::1:80'), { address: 'fe80::1:80', port: undefined });
  });
});

describe('spanName', () => {
  it('method alone without route', () => {
    assert.equal(spanName('GET', undefined), 'GET');
  });
  it('method and route', () => {
    assert.equal(spanName('POST', '/orders/:id'), 'POST /orders/:id');
  });
  it('unknown method is HTTP', () => {
    assert.equal(spanName('FOO', undefined), 'HTTP');
    assert.equal(spanName('FOO', '/r'), 'HTTP /r');
  });
});

/** serverTx's attributes with query values redacted. */
const SERVER_ATTRS = {
  'http.request.method': 'GET',
  'url.path': '/users/42',
  'url.query': 'token=REDACTED&flag&page=REDACTED',
  'url.scheme': 'http',
  'http.route': '/users/:id',
  'http.response.status_code': 200,
  'server.address': 'api.example.com',
  'server.port': 8443,
  'client.address': '10.0.0.9',
  'network.peer.address': '10.0.0.9',
  'network.peer.port': 51234,
  'network.protocol.version': '1.1',
  'http.request.body.size': 0,
  'http.response.body.size': 512,
  'user_agent.original': 'curl/8.5.0',
};

describe('spanAttributes', () => {
  it('server span, query redacted', () => {
    assert.deepEqual(spanAttributes(serverTx, true), SERVER_ATTRS);
  });

  it('server span, query kept when redaction is off', () => {
    assert.equal(spanAttributes(serverTx, false)['url.query'], 'token=abc&flag&page=2');
  });

  it('server span: Host without port falls back to the local port; no Host falls back to the local socket', () => {
    const noPort = spanAttributes({ ...serverTx, host: 'api.example.com' }, true);
    assert.equal(noPort['server.address'], 'api.example.com');
    assert.equal(noPort['server.port'], 8080);
    const noHost = spanAttributes({ ...serverTx, host: undefined }, true);
    assert.equal(noHost['server.address'], '10.0.0.5');
    assert.equal(noHost['server.port'], 8080);
  });

  it('server span: unknown method, HTTP/1.0, truncated, no user agent, no query, no route', () => {
    const tx: HttpTransaction = {
      ...serverTx,
      method: 'PROPFIND',
      protocol: 'HTTP/1.0',
      target: '/dav/file',
      host: '[::1]:9000',
      userAgent: undefined,
      truncated: true,
      status: 207,
      route: undefined,
    };
    assert.deepEqual(spanAttributes(tx, true), {
      'http.request.method': '_OTHER',
      'http.request.method_original': 'PROPFIND',
      'url.path': '/dav/file',
      'url.scheme': 'http',
      'http.response.status_code': 207,
      'server.address': '::1',
      'server.port': 9000,
      'client.address': '10.0.0.9',
      'network.peer.address': '10.0.0.9',
      'network.peer.port': 51234,
      'network.protocol.version': '1.0',
      'http.request.body.size': 0,
      'http.response.body.size': 512,
      'sidelight.truncated': true,
    });
  });

  it('a transaction read at the TLS library has url.scheme https, and nothing else changes', () => {
    const plain = spanAttributes(serverTx, true);
    assert.deepEqual(spanAttributes({ ...serverTx, tls: true }, true), { ...plain, 'url.scheme': 'https' });
    assert.equal(plain['url.scheme'], 'http');
  });

  it('client span, absolute-form target, query redacted', () => {
    assert.deepEqual(spanAttributes(clientTx, true), {
      'http.request.method': 'POST',
      'url.path': '/orders',
      'url.query': 'id=REDACTED',
      'url.scheme': 'http',
      'http.response.status_code': 201,
      'server.address': 'backend',
      'server.port': 9000,
      'network.peer.address': '10.0.0.7',
      'network.peer.port': 9000,
      'network.protocol.version': '1.1',
      'http.request.body.size': 128,
      'http.response.body.size': 64,
      'user_agent.original': 'python-requests/2.31',
    });
  });

  it('client span, redaction off, Host without port falls back to the peer port', () => {
    const tx: HttpTransaction = { ...clientTx, host: 'backend.internal', peer: { address: '10.0.0.7', port: 80 } };
    assert.deepEqual(spanAttributes(tx, false), {
      'http.request.method': 'POST',
      'url.path': '/orders',
      'url.query': 'id=7',
      'url.scheme': 'http',
      'http.response.status_code': 201,
      'server.address': 'backend.internal',
      'server.port': 80,
      'network.peer.address': '10.0.0.7',
      'network.peer.port': 80,
      'network.protocol.version': '1.1',
      'http.request.body.size': 128,
      'http.response.body.size': 64,
      'user_agent.original': 'python-requests/2.31',
    });
  });

  it('client span without Host uses the peer for server.*', () => {
    const a = spanAttributes({ ...clientTx, host: undefined }, true);
    assert.equal(a['server.address'], '10.0.0.7');
    assert.equal(a['server.port'], 9000);
    assert.equal('client.address' in a, false);
  });

  it('client span: unknown method, HTTP/1.0, truncated, no user agent', () => {
    const tx: HttpTransaction = { ...clientTx, method: 'purge', protocol: 'HTTP/1.0', userAgent: undefined, truncated: true, target: '/cache', route: '/cache' };
    assert.deepEqual(spanAttributes(tx, true), {
      'http.request.method': '_OTHER',
      'http.request.method_original': 'purge',
      'url.path': '/cache',
      'url.scheme': 'http',
      'http.route': '/cache',
      'http.response.status_code': 201,
      'server.address': 'backend',
      'server.port': 9000,
      'network.peer.address': '10.0.0.7',
      'network.peer.port': 9000,
      'network.protocol.version': '1.0',
      'http.request.body.size': 128,
      'http.response.body.size': 64,
      'sidelight.truncated': true,
    });
  });
});

describe('isError', () => {
  it('server: only 5xx', () => {
    assert.equal(isError({ ...serverTx, status: 200 }), false);
    assert.equal(isError({ ...serverTx, status: 404 }), false);
    assert.equal(isError({ ...serverTx, status: 499 }), false);
    assert.equal(isError({ ...serverTx, status: 500 }), true);
    assert.equal(isError({ ...serverTx, status: 503 }), true);
  });
  it('client: 4xx and 5xx', () => {
    assert.equal(isError({ ...clientTx, status: 200 }), false);
    assert.equal(isError({ ...clientTx, status: 399 }), false);
    assert.equal(isError({ ...clientTx, status: 400 }), true);
    assert.equal(isError({ ...clientTx, status: 500 }), true);
  });
});

const grpcServerTx: HttpTransaction = {
  ...serverTx,
  protocol: 'HTTP/2',
  method: 'POST',
  target: '/shop.Catalog/Get',
  host: 'catalog:50051',
  userAgent: 'grpc-node-js/1.14.7',
  status: 200,
  requestBytes: 12,
  responseBytes: 40,
  route: '/shop.Catalog/Get',
  rpc: { system: 'grpc', service: 'shop.Catalog', method: 'Get', statusCode: 5, requestMessages: 1, responseMessages: 0, messagesExact: true },
};

describe('gRPC and HTTP/2 spans', () => {
  it('message counts that are lower bounds say so; exact ones carry no such attribute', () => {
    const attrs = spanAttributes({ ...grpcServerTx, rpc: { ...grpcServerTx.rpc!, responseMessages: 122, messagesExact: false } }, true);
    assert.deepEqual(
      [attrs['sidelight.rpc.response_messages'], attrs['sidelight.rpc.messages_lower_bound'], spanAttributes(grpcServerTx, true)['sidelight.rpc.messages_lower_bound']],
      [122, true, undefined],
    );
  });

  it('gRPC server span: RPC attributes instead of HTTP ones, named service/method', () => {
    assert.deepEqual(spanAttributes(grpcServerTx, true), {
      'rpc.system': 'grpc',
      'rpc.service': 'shop.Catalog',
      'rpc.method': 'Get',
      'rpc.grpc.status_code': 5,
      'sidelight.rpc.request_messages': 1,
      'sidelight.rpc.response_messages': 0,
      'server.address': 'catalog',
      'server.port': 50051,
      'client.address': '10.0.0.9',
      'network.peer.address': '10.0.0.9',
      'network.peer.port': 51234,
      'network.protocol.version': '2',
      'http.request.body.size': 12,
      'http.response.body.size': 40,
      'user_agent.original': 'grpc-node-js/1.14.7',
    });
    assert.equal(toSpan(grpcServerTx, resourceFromAttributes({}), true).name, 'shop.Catalog/Get');
  });

  it('gRPC status: servers err on UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS; clients on any non-OK', () => {
    const codes = Array.from({ length: 17 }, (_, i) => i);
    const rpc = grpcServerTx.rpc!;
    const serverErrors = codes.filter((c) => isError({ ...grpcServerTx, rpc: { ...rpc, statusCode: c } }));
    const clientErrors = codes.filter((c) => isError({ ...grpcServerTx, role: 'client', rpc: { ...rpc, statusCode: c } }));
    assert.deepEqual(serverErrors, [2, 4, 12, 13, 14, 15]);
    assert.deepEqual(clientErrors, codes.slice(1));
  });

  it('unknown path and status (attached mid-connection): named grpc, fields flagged, nothing invented', () => {
    const tx: HttpTransaction = {
      ...grpcServerTx,
      target: '',
      route: undefined,
      rpc: { system: 'grpc', service: undefined, method: undefined, statusCode: undefined, requestMessages: 1, responseMessages: 1, messagesExact: true },
      unknownFields: ['path', 'grpcStatus'],
    };
    const a = spanAttributes(tx, true);
    assert.equal(a['rpc.service'], undefined);
    assert.equal(a['rpc.grpc.status_code'], undefined);
    assert.deepEqual(a['sidelight.unknown_fields'], ['path', 'grpcStatus']);
    assert.equal(toSpan(tx, resourceFromAttributes({}), true).name, 'grpc');
    assert.equal(isError(tx), false);
  });

  it('HTTP/2 stream reset before its response: a client error named by its RFC 9113 code', () => {
    const tx: HttpTransaction = { ...clientTx, protocol: 'HTTP/2', status: 0, resetCode: 8 };
    const a = spanAttributes(tx, true);
    assert.equal(a['http.response.status_code'], undefined);
    assert.equal(a['error.type'], 'CANCEL');
    assert.equal(a['sidelight.http2.reset_code'], 8);
    assert.equal(a['network.protocol.version'], '2');
    assert.equal(isError(tx), true);
    assert.equal(isError({ ...tx, role: 'server' }), false);
  });
});

describe('toSpan', () => {
  const resource = resourceFromAttributes({ 'service.name': 'checkout', 'host.name': 'node-1' });

  it('server root span', () => {
    const span = toSpan(serverTx, resource, true);
    assert.equal(span.name, 'GET /users/:id');
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.kind, 1);
    assert.deepEqual(span.spanContext(), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
    assert.equal(span.spanContext().traceFlags, 1);
    assert.equal(span.spanContext().traceState, undefined);
    assert.equal(span.parentSpanContext, undefined);
    assert.deepEqual(span.startTime, [1_700_000_000, 123_456_789]);
    assert.deepEqual(span.endTime, [1_700_000_002, 623_456_790]);
    assert.deepEqual(span.duration, [2, 500_000_001]);
    assert.deepEqual(span.status, { code: SpanStatusCode.UNSET });
    assert.deepEqual(span.attributes, spanAttributes(serverTx, true));
    assert.equal(span.resource, resource);
    assert.deepEqual(span.instrumentationScope, { name: 'sidelight', version: PACKAGE_VERSION });
    assert.equal(span.ended, true);
    assert.deepEqual(span.links, []);
    assert.deepEqual(span.events, []);
    assert.equal(span.droppedAttributesCount, 0);
    assert.equal(span.droppedEventsCount, 0);
    assert.equal(span.droppedLinksCount, 0);
  });

  it('client child span with trace state', () => {
    const tx: HttpTransaction = { ...clientTx, traceState: 'vendor=abc,other=x1', status: 502 };
    const span = toSpan(tx, resource, false);
    assert.equal(span.name, 'POST');
    assert.equal(span.kind, SpanKind.CLIENT);
    assert.equal(span.kind, 2);
    const ctx = span.spanContext();
    assert.equal(ctx.traceId, TRACE_ID);
    assert.equal(ctx.spanId, SPAN_ID);
    assert.equal(ctx.traceFlags, TraceFlags.SAMPLED);
    assert.equal(ctx.traceState?.serialize(), 'vendor=abc,other=x1');
    assert.equal(ctx.traceState?.get('vendor'), 'abc');
    assert.deepEqual(span.parentSpanContext, { traceId: TRACE_ID, spanId: PARENT_ID, traceFlags: TraceFlags.SAMPLED });
    assert.deepEqual(span.status, { code: SpanStatusCode.ERROR });
    assert.equal(span.attributes['url.query'], 'id=7');
    assert.equal(span.resource, resource);
  });

  it('status: client 4xx is an error, server 4xx is unset', () => {
    assert.deepEqual(toSpan({ ...clientTx, status: 404 }, resource, true).status, { code: SpanStatusCode.ERROR });
    assert.deepEqual(toSpan({ ...serverTx, status: 404 }, resource, true).status, { code: SpanStatusCode.UNSET });
    assert.deepEqual(toSpan({ ...serverTx, status: 500 }, resource, true).status, { code: SpanStatusCode.ERROR });
  });

  it('end time carries nanoseconds over into seconds', () => {
    const span = toSpan({ ...serverTx, durationNs: 1_900_000_000 }, resource, true);
    assert.deepEqual(span.startTime, [1_700_000_000, 123_456_789]);
    assert.deepEqual(span.endTime, [1_700_000_002, 23_456_789]);
    assert.deepEqual(span.duration, [1, 900_000_000]);
    const exact = toSpan({ ...serverTx, durationNs: 876_543_211 }, resource, true);
    assert.deepEqual(exact.endTime, [1_700_000_001, 0]);
    assert.deepEqual(exact.duration, [0, 876_543_211]);
  });

  it('unknown method: span named HTTP', () => {
    assert.equal(toSpan({ ...serverTx, method: 'FOO', route: undefined }, resource, true).name, 'HTTP');
    assert.equal(toSpan({ ...serverTx, method: 'FOO', route: '/r' }, resource, true).name, 'HTTP /r');
  });
});

describe('toSpan through the official OTLP protobuf serializer', () => {
  it('decodes back to the same span', () => {
    const resource = resourceFromAttributes({ 'service.name': 'checkout' });
    const server = toSpan({ ...serverTx, traceState: 'congo=t61rcWkgMzE' }, resource, true);
    const client = toSpan({ ...clientTx, method: 'FOO', status: 404 }, resource, true);
    const bytes = ProtobufTraceSerializer.serializeRequest([server, client]);
    assert.ok(bytes instanceof Uint8Array);
    const type = otlpRoot().lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
    const decoded = type.toObject(type.decode(bytes), { longs: String, enums: Number, defaults: false, arrays: false });
    const spans = spansFromRequest(decoded);
    assert.equal(spans.length, 2);
    const s = spans.find((x) => x.kind === 2);
    const c = spans.find((x) => x.kind === 3);
    assert.ok(s && c);

    assert.equal(s.traceId, TRACE_ID);
    assert.equal(s.spanId, SPAN_ID);
    assert.equal(s.parentSpanId, '');
    assert.equal(s.traceState, 'congo=t61rcWkgMzE');
    assert.equal(s.name, 'GET /users/:id');
    assert.equal(s.kind, 2);
    assert.equal(s.startTimeUnixNano, 1_700_000_000_123_456_789n);
    assert.equal(s.endTimeUnixNano, 1_700_000_002_623_456_790n);
    assert.deepEqual(s.status, { code: 0, message: '' });
    assert.deepEqual(s.attributes, SERVER_ATTRS);
    assert.equal(s.resource['service.name'], 'checkout');
    assert.deepEqual(s.scope, { name: 'sidelight', version: PACKAGE_VERSION });

    assert.equal(c.traceId, TRACE_ID);
    assert.equal(c.spanId, SPAN_ID);
    assert.equal(c.parentSpanId, PARENT_ID);
    assert.equal(c.traceState, '');
    assert.equal(c.name, 'HTTP');
    assert.equal(c.kind, 3);
    assert.equal(c.startTimeUnixNano, 1_700_000_000_123_456_789n);
    assert.equal(c.endTimeUnixNano, 1_700_000_002_623_456_790n);
    assert.deepEqual(c.status, { code: 2, message: '' });
    assert.deepEqual(c.attributes, {
      'http.request.method': '_OTHER',
      'http.request.method_original': 'FOO',
      'url.path': '/orders',
      'url.query': 'id=REDACTED',
      'url.scheme': 'http',
      'http.response.status_code': 404,
      'server.address': 'backend',
      'server.port': 9000,
      'network.peer.address': '10.0.0.7',
      'network.peer.port': 9000,
      'network.protocol.version': '1.1',
      'http.request.body.size': 128,
      'http.response.body.size': 64,
      'user_agent.original': 'python-requests/2.31',
    });
  });
});
