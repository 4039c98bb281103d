// Each stage behind its interface: the protocol registry and sessions, the
// connection streams with a stand-in next stage, transaction assembly, the
// enrich stage, and the order the pipeline starts and stops its stages in.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { BatchDecoder } from '../../src/capture/decoder';
import { kernelConstant } from '../../src/capture/contract';
import { DEFAULTS } from '../../src/config/config';
import { ConnectionStreams, type ConnectionView, type ExchangeSink } from '../../src/conn/streams';
import { Enricher } from '../../src/enrich/enricher';
import { createLogger } from '../../src/log';
import { buildPipeline, startStages, stopStages, type Stage } from '../../src/pipeline';
import { HTTP1 } from '../../src/protocols/http1/protocol';
import { HTTP2 } from '../../src/protocols/http2/protocol';
import type { Exchange, Role, SessionEvents } from '../../src/protocols/protocol';
import { PROTOCOLS } from '../../src/protocols/registry';
import type { RequestHead } from '../../src/protocols/request-head';
import { TransactionAssembler } from '../../src/transactions/assembler';
import { WallClock } from '../../src/transactions/clock';
import { TraceLinker } from '../../src/transactions/linker';
import type { HttpTransaction } from '../../src/transactions/transaction';
import { closeRecord, dataRecord, type DataSpec } from '../support/batch';
import * as h2 from '../support/h2';

const REQ = Buffer.from('GET /a?x=1 HTTP/1.1\r\nHost: h\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n');
const RESP = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');

/** Records what a session reports; requestStarted returns a numbered context. */
function recorder() {
  const log: string[] = [];
  const exchanges: Exchange<number>[] = [];
  let n = 0;
  const events: SessionEvents<number> = {
    requestStarted: (head: RequestHead) => {
      log.push(`start ${head.method} ${head.target} ${head.trace?.traceparent ?? '-'}`);
      return ++n;
    },
    requestEnded: (ctx) => void log.push(`end ${ctx}`),
    exchange: (ex) => void exchanges.push(ex),
    roleFound: (role: Role) => void log.push(`role ${role}`),
    limitCrossed: (limit) => void log.push(`limit ${limit}`),
    bodiesWanted: (wanted) => void log.push(`bodies ${wanted}`),
  };
  return { log, exchanges, events };
}

describe('protocol interface', () => {
  it('the registry names each protocol once, each with the kernel class the addon exports for it', () => {
    assert.deepEqual(PROTOCOLS.map((p) => p.name), ['http1', 'http2']);
    assert.deepEqual(PROTOCOLS.map((p) => p.kernelClass), [kernelConstant('SL_CLASS_HTTP1'), kernelConstant('SL_CLASS_HTTP2')]);
    assert.equal(new Set(PROTOCOLS.map((p) => p.kernelClass)).size, PROTOCOLS.length);
  });

  it('HTTP/1 tells a role from a first message, by which side sent it', () => {
    assert.equal(HTTP1.sniffRole(REQ, true), 'client');
    assert.equal(HTTP1.sniffRole(REQ, false), 'server');
    assert.equal(HTTP1.sniffRole(RESP, true), 'server');
    assert.equal(HTTP1.sniffRole(Buffer.from('SSH-2.0-x'), true), undefined);
    assert.equal(HTTP2.sniffRole(h2.PREFACE, true), undefined);
  });

  it('an HTTP/1 session reports start, exchange and end through the interface, requests going toward the server', () => {
    const r = recorder();
    const s = HTTP1.open({ role: 'server', fromStart: true, placed: [0, 0] }, r.events, HTTP1.newStats());
    s.push(1, REQ, 10n, true);
    s.push(0, RESP, 25n, true);
    assert.deepEqual(r.log, ['start GET /a?x=1 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']);
    assert.deepEqual(r.exchanges, [
      {
        ctx: 1, startNs: 10n, endNs: 25n, protocol: 'HTTP/1.1', method: 'GET', target: '/a?x=1', host: 'h', userAgent: undefined, status: 200,
        requestBytes: 0, responseBytes: 2, truncated: false, rpc: undefined, unknownFields: [], resetCode: undefined,
      },
    ]);
  });

  it('an abandoned HTTP/1 session reports nothing more; a closed one ends its pending request', () => {
    const a = recorder();
    const s = HTTP1.open({ role: 'client', fromStart: true, placed: [0, 0] }, a.events, HTTP1.newStats());
    s.push(0, REQ, 1n, true);
    s.abandon();
    s.push(1, RESP, 2n, true);
    assert.deepEqual([a.exchanges.length, a.log.length], [0, 2]);
    assert.equal(a.log[1], 'end 1');
    const b = recorder();
    const stats = HTTP1.newStats();
    const t = HTTP1.open({ role: 'client', fromStart: true, placed: [0, 0] }, b.events, stats);
    t.push(0, REQ, 1n, true);
    t.close(5n);
    assert.deepEqual([b.exchanges.length, b.log[1], stats.unansweredRequests], [0, 'end 1', 1]);
  });

  it('an HTTP/2 session reports a gRPC call with its fields, and whether bodies matter', () => {
    const r = recorder();
    const s = HTTP2.open({ role: 'client', fromStart: true, placed: [0, 0] }, r.events, HTTP2.newStats());
    const reqHead = h2.literals({ ':method': 'POST', ':scheme': 'http', ':path': '/pkg.Svc/Do', ':authority': 'a', 'content-type': 'application/grpc' });
    s.push(0, Buffer.concat([h2.PREFACE, h2.settings(), h2.headers(1, reqHead), h2.data(1, h2.grpcMessages(Buffer.from('hi')), true)]), 10n, true);
    s.push(1, Buffer.concat([h2.settings(), h2.headers(1, h2.literals({ ':status': '200', 'content-type': 'application/grpc' })), h2.data(1, h2.grpcMessages(Buffer.from('yo'))), h2.headers(1, h2.literals({ 'grpc-status': '0' }), true)]), 20n, true);
    assert.deepEqual(r.log, ['bodies true', 'start POST /pkg.Svc/Do -']);
    assert.equal(r.exchanges.length, 1);
    const ex = r.exchanges[0];
    assert.deepEqual(
      [ex.ctx, ex.startNs, ex.endNs, ex.protocol, ex.method, ex.target, ex.host, ex.status, ex.requestBytes, ex.responseBytes, ex.rpc],
      [1, 10n, 20n, 'HTTP/2', 'POST', '/pkg.Svc/Do', 'a', 200, 7, 7, { system: 'grpc', service: 'pkg.Svc', method: 'Do', statusCode: 0, requestMessages: 1, responseMessages: 1, messagesExact: true }],
    );
  });

  it('an HTTP/2 session on a connection of unknown role finds the client side from the first request', () => {
    const r = recorder();
    const s = HTTP2.open({ role: undefined, fromStart: false, placed: [0, 0] }, r.events, HTTP2.newStats());
    s.push(1, h2.headers(1, h2.literals({ ':method': 'GET', ':scheme': 'http', ':path': '/x', ':authority': 'a' }), true), 10n, true);
    s.push(0, h2.headers(1, h2.literals({ ':status': '200' }), true), 11n, true);
    assert.deepEqual(r.log, ['role server', 'bodies false', 'start GET /x -']);
    assert.deepEqual(r.exchanges.map((e) => [e.target, e.status]), [['/x', 200]]);
  });
});

/** A stand-in for the stage after the streams: what it is told, in order. */
function nextStage() {
  const seen: string[] = [];
  const views: ConnectionView[] = [];
  const observe = (c: ConnectionView): ExchangeSink<string> => {
    views.push(c);
    seen.push(`observe ${c.id} ${c.role}`);
    return {
      requestStarted: (head) => {
        seen.push(`start ${c.id} ${head.target} thread ${c.thread}`);
        return `ctx${c.id}`;
      },
      requestEnded: (ctx) => void seen.push(`end ${ctx}`),
      exchange: (ex) => void seen.push(`exchange ${ex.ctx} ${ex.status}`),
      closed: (ts) => void seen.push(`closed ${c.id} at ${ts}`),
    };
  };
  return { seen, views, observe };
}

describe('connection streams', () => {
  const spec = (s: Partial<DataSpec> & Pick<DataSpec, 'ts' | 'connId' | 'direction' | 'payload'>): DataSpec => ({ streamPos: 0, syscallBytes: s.payload!.length, tgid: 7, ...s });

  it('open one observer per connection, report requests on the pushing thread, and close it once', () => {
    const next = nextStage();
    const streams = new ConnectionStreams<string>({ maxConnections: 8, idleTimeoutMs: 60_000, listeners: { has: () => false }, processes: { nameOf: (_p, f) => f() }, observe: next.observe });
    const dec = new BatchDecoder(streams);
    dec.decode(dataRecord(spec({ ts: 1n, connId: 3, direction: 1, payload: REQ, role: 2, klass: 1, tid: 71 })), 1);
    dec.decode(dataRecord(spec({ ts: 2n, connId: 3, direction: 0, payload: RESP, role: 2, klass: 1, tid: 72 })), 1);
    dec.decode(closeRecord(9n, 3), 1);
    dec.decode(closeRecord(10n, 3), 1);
    assert.deepEqual(next.seen, ['observe 3 server', 'start 3 /a?x=1 thread 71', 'exchange ctx3 200', 'closed 3 at 9']);
    assert.equal(next.views[0].pid, 7);
    assert.equal(streams.size, 0);
  });

  it('a connection judged HTTP/2 after HTTP/1 parsed its first bytes is handed over, keeping its observer', () => {
    const next = nextStage();
    const streams = new ConnectionStreams<string>({ maxConnections: 8, idleTimeoutMs: 60_000, listeners: { has: () => false }, processes: { nameOf: (_p, f) => f() }, observe: next.observe });
    const dec = new BatchDecoder(streams);
    dec.decode(dataRecord(spec({ ts: 1n, connId: 4, direction: 0, payload: Buffer.from('GET / HTTP/1.1\r\n'), role: 1, klass: 1 })), 1);
    dec.decode(dataRecord(spec({ ts: 2n, connId: 4, direction: 0, payload: h2.settings(), role: 1, klass: 2, streamPos: 16 })), 1);
    assert.deepEqual(next.seen, ['observe 4 client']);
    assert.equal(streams.stats.http1.unansweredRequests, 0);
    assert.equal(streams.stats.http2.frames.frames, 1, 'the SETTINGS frame went to HTTP/2');
  });

  it('evicts idle connections and tells the next stage', () => {
    const next = nextStage();
    const streams = new ConnectionStreams<string>({ maxConnections: 8, idleTimeoutMs: 1000, listeners: { has: () => false }, processes: { nameOf: (_p, f) => f() }, observe: next.observe });
    new BatchDecoder(streams).decode(dataRecord(spec({ ts: 5n, connId: 6, direction: 0, payload: REQ, role: 1, klass: 1 })), 1);
    streams.sweep(Date.now() + 5000);
    assert.deepEqual(next.seen.slice(-1), ['closed 6 at 5']);
    assert.deepEqual([streams.size, streams.stats.connectionsEvicted, streams.stats.http1.unansweredRequests], [0, 1, 1]);
  });
});

describe('transaction assembly', () => {
  it('makes the transaction from the connection and the exchange, linking a server request to its caller’s trace', () => {
    const out: HttpTransaction[] = [];
    const linker = new TraceLinker();
    const assembler = new TransactionAssembler(new WallClock(() => 1_000n), linker, (tx) => out.push(tx));
    const view: ConnectionView = { id: 1, tls: true, role: 'server', local: { address: '10.0.0.1', port: 80 }, peer: { address: '10.0.0.2', port: 5555 }, pid: 9, process: 'nginx', thread: 12 };
    const sink = assembler.observe(view);
    const ctx = sink.requestStarted({ method: 'GET', target: '/x', trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } }, 100n);
    sink.exchange({ ctx, startNs: 100n, endNs: 350n, protocol: 'HTTP/1.1', method: 'GET', target: '/x', host: 'h', userAgent: 'ua', status: 204, requestBytes: 0, responseBytes: 0, truncated: false, rpc: undefined, unknownFields: [], resetCode: undefined });
    sink.closed(400n);
    assert.equal(out.length, 1);
    const tx = out[0];
    assert.deepEqual(
      [tx.role, tx.tls, tx.pid, tx.process, tx.status, tx.startTimeUnixNano, tx.durationNs, tx.local.port, tx.peer.port, tx.traceId, tx.parentSpanId, tx.route],
      ['server', true, 9, 'nginx', 204, 1_100n, 250, 80, 5555, '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', undefined],
    );
    assert.equal(linker.stats.headerLinks, 1);
  });
});

describe('enrichment', () => {
  const tx = (target: string): HttpTransaction =>
    ({ kind: 'http', role: 'server', protocol: 'HTTP/1.1', tls: false, pid: 5, process: 'api', method: 'GET', target, host: undefined, userAgent: undefined, status: 200, startTimeUnixNano: 0n, durationNs: 1, requestBytes: 0, responseBytes: 0, local: { address: '127.0.0.1', port: 80 }, peer: { address: '127.0.0.1', port: 9 }, truncated: false, traceId: '', spanId: '', parentSpanId: '', traceState: '', sampled: true, route: undefined, rpc: undefined, unknownFields: [], resetCode: undefined }) as HttpTransaction;

  it('sets the route and returns the process identity; an ignored path is not reported', () => {
    const e = new Enricher({ config: { ...DEFAULTS, routes: ['/users/{id}'], ignoreRoutes: ['/healthz'] }, processes: { nameOf: (_p, f) => f(), commandLine: () => undefined } });
    const a = tx('/users/42?x=1');
    assert.equal(e.enrich(a)?.service, 'api');
    assert.equal(a.route, '/users/{id}');
    const b = tx('/healthz');
    assert.equal(e.enrich(b), undefined);
    assert.equal(e.routes.ignored, 1);
  });
});

describe('pipeline', () => {
  it('starts the stages from the exporters up, and stops them from the source down', async () => {
    const order: string[] = [];
    const stage = (name: string): Stage => ({ name, start: () => void order.push(`start ${name}`), stop: () => void order.push(`stop ${name}`) });
    const stages = [stage('capture'), stage('connections'), stage('exporters')];
    await startStages(stages, 100);
    await stopStages(stages, 100);
    assert.deepEqual(order, ['start exporters', 'start connections', 'start capture', 'stop capture', 'stop connections', 'stop exporters']);
  });

  it('a stage that fails to start stops those already started, and the error comes through', async () => {
    const order: string[] = [];
    const stages: Stage[] = [
      { name: 'capture', start: () => { throw new Error('no BPF'); }, stop: () => void order.push('stop capture') },
      { name: 'enrichment', start: () => void order.push('start enrichment'), stop: () => void order.push('stop enrichment') },
      { name: 'exporters', stop: () => void order.push('stop exporters') },
    ];
    await assert.rejects(startStages(stages, 100), { message: 'no BPF' });
    assert.deepEqual(order, ['start enrichment', 'stop enrichment', 'stop exporters']);
  });

  it('events go through selection, connections, enrichment and the exporters to the console', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const tapped: HttpTransaction[] = [];
    const p = buildPipeline({
      config: { ...DEFAULTS, output: 'json', routes: ['/a'] },
      log: createLogger('error'),
      processes: { nameOf: (_p, f) => f(), commandLine: () => undefined },
      clockOffsetNs: () => 0n,
      listeners: { has: () => false },
      selection: { wants: (tgid) => tgid === 7 },
      out,
      tap: (tx) => void tapped.push(tx),
    });
    const dec = new BatchDecoder(p.input);
    for (const tgid of [7, 8]) {
      dec.decode(dataRecord({ ts: 1n, connId: tgid, streamPos: 0, syscallBytes: REQ.length, payload: REQ, direction: 1, role: 2, klass: 1, tgid, comm: 'api' }), 1);
      dec.decode(dataRecord({ ts: 2n, connId: tgid, streamPos: 0, syscallBytes: RESP.length, payload: RESP, direction: 0, role: 2, klass: 1, tgid, comm: 'api' }), 1);
    }
    await stopStages(p.stages, 100);
    assert.deepEqual(tapped.map((t) => [t.pid, t.route]), [[7, '/a']]);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { pid: number; route: string; status: number });
    assert.deepEqual(lines.map((l) => [l.pid, l.route, l.status]), [[7, '/a', 200]]);
    assert.equal(p.connections.size, 1, 'the left-out process never reached the connection stage');
  });
});
