import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toJson, toTextLine } from '../../src/export/console';
import { redactQuery } from '../../src/export/redact';
import type { HttpTransaction } from '../../src/transactions/transaction';

const tx: HttpTransaction = {
  kind: 'http', role: 'server', protocol: 'HTTP/1.1', tls: false, pid: 42, process: 'nginx', method: 'GET',
  target: '/search?q=secret&page=2&flag', host: 'example', userAgent: 'curl/7.88.1', status: 200,
  startTimeUnixNano: 1_700_000_000_123_456_789n, durationNs: 1_500_000, requestBytes: 0, responseBytes: 512,
  local: { address: '127.0.0.1', port: 8080 }, peer: { address: '::1', port: 50000 }, truncated: false,
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: '', traceState: '', sampled: true,
  route: '/search',
  rpc: undefined,
  unknownFields: [],
  resetCode: undefined,
};

describe('console output', () => {
  it('JSON carries the documented fields, query values redacted', () => {
    assert.deepEqual(toJson(tx, true), {
      kind: 'http', role: 'server', protocol: 'HTTP/1.1', pid: 42, process: 'nginx', method: 'GET',
      path: '/search', query: 'q=REDACTED&page=REDACTED&flag', host: 'example', status: 200,
      startTimeUnixNano: '1700000000123456789', durationNs: 1_500_000, requestBytes: 0, responseBytes: 512,
      localAddress: '127.0.0.1', localPort: 8080, peerAddress: '::1', peerPort: 50000,
      route: '/search', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: '',
    });
    assert.equal('route' in toJson({ ...tx, route: undefined }, true), false);
    assert.equal(toJson(tx, false).query, 'q=secret&page=2&flag');
    assert.equal(toJson({ ...tx, truncated: true }, true).truncated, true);
    // Read at the TLS library: marked; cleartext carries no tls field at all.
    assert.equal(toJson({ ...tx, tls: true }, true).tls, true);
    assert.equal('tls' in toJson(tx, true), false);
    // gRPC message counts: a lower bound is marked, an exact count is not.
    const rpc = { system: 'grpc' as const, service: 'feed.Ticker', method: 'Watch', statusCode: 0, requestMessages: 1, responseMessages: 122, messagesExact: false };
    const lower = toJson({ ...tx, rpc }, true);
    assert.deepEqual([lower.responseMessages, lower.messagesLowerBound], [122, true]);
    assert.equal('messagesLowerBound' in toJson({ ...tx, rpc: { ...rpc, messagesExact: true } }, true), false);
  });
  it('text is one aligned line', () => {
    const line = toTextLine(tx, true);
    assert.equal(
      line,
      '22:13:20.123 nginx[42]              server GET     /search?q=REDACTED&page=REDACTED&flag            200    1.50ms in=0         out=512       [::1]:50000',
    );
  });
  it('redacts every value', () => {
    assert.equal(redactQuery('a=1&b=&c'), 'a=REDACTED&b=REDACTED&c');
  });
});
