// What the agent reads but never exports: request and response bodies,
// cookies, authorization headers, gRPC metadata and messages, query values.
// Real clients send them over HTTP/1.1, HTTP/2 and gRPC; every output of the
// agent (JSON lines, logs, OTLP spans and metrics as decoded from the official
// protos, /metrics, /stats) is searched for them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { httpGet, startAgent } from '../support/agent';
import { loadCatalog, type Item, type Unary } from '../support/catalog';
import { OtlpReceiver } from '../support/otlp-receiver';
import { bpfSkip } from '../support/requirements';

const run = promisify(execFile);
const skip = bpfSkip();

/** Every secret carries this marker; nothing exported may contain it. */
const MARK = 'S3CR3T';
const secret = (what: string) => `${MARK}-${what}`;

describe('secrets are never exported', { skip }, () => {
  it('bodies, cookies, authorization, gRPC metadata and query values stay out of every output', async () => {
    const h1 = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'set-cookie': `sid=${secret('set-cookie')}`, 'www-authenticate': `Bearer ${secret('challenge')}` });
      res.end(secret('response-body'));
    });
    await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
    const h1Port = (h1.address() as { port: number }).port;
    const h2 = http2.createServer();
    h2.on('stream', (stream) => {
      stream.respond({ ':status': 200, 'set-cookie': `sid=${secret('h2-set-cookie')}` });
      stream.end(secret('h2-response-body'));
    });
    await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
    const h2Port = (h2.address() as { port: number }).port;
    const Catalog = loadCatalog();
    const grpcServer = new grpc.Server();
    grpcServer.addService(Catalog.service, {
      Get(call: grpc.ServerUnaryCall<Item, Item>, cb: grpc.sendUnaryData<Item>) {
        const md = new grpc.Metadata();
        md.set('x-session', secret('grpc-response-metadata'));
        call.sendMetadata(md);
        cb(null, { name: secret('grpc-response-message'), n: 1 });
      },
    });
    const grpcPort = await new Promise<number>((resolve, reject) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));

    const receiver = await OtlpReceiver.start({ transport: 'http' });
    const agent = await startAgent(['--pid', String(process.pid), '--port', String(h1Port), '--port', String(h2Port), '--port', String(grpcPort)], 30_000, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
    });
    const client = new Catalog(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Get: Unary };
    try {
      // HTTP/1.1 from this process (the agent follows this pid): both ends are seen.
      await new Promise<void>((resolve, reject) => {
        const req = http.request(
          {
            host: '127.0.0.1', port: h1Port, method: 'POST', path: `/login?token=${secret('query')}&user=${secret('query-user')}`,
            headers: { authorization: `Bearer ${secret('authorization')}`, cookie: `sid=${secret('cookie')}`, 'proxy-authorization': `Basic ${secret('proxy')}`, 'x-api-key': secret('api-key') },
          },
          (res) => res.resume().on('end', resolve),
        );
        req.on('error', reject);
        req.end(`password=${secret('request-body')}`);
      });
      // HTTP/2 from this process.
      await new Promise<void>((resolve, reject) => {
        const session = http2.connect(`http://127.0.0.1:${h2Port}`);
        const req = session.request({ ':method': 'POST', ':path': `/h2?code=${secret('h2-query')}`, authorization: `Bearer ${secret('h2-authorization')}`, cookie: `sid=${secret('h2-cookie')}` });
        req.on('response', () => undefined);
        req.resume();
        req.on('end', () => {
          session.close();
          resolve();
        });
        req.on('error', reject);
        req.end(secret('h2-request-body'));
      });
      // gRPC with credentials in metadata.
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${secret('grpc-authorization')}`);
      await new Promise<void>((resolve, reject) => client.Get({ name: secret('grpc-request-message'), n: 1 }, md, (e) => (e ? reject(e) : resolve())));
      // And curl, a separate process, to the HTTP/1 server (its server end is this process).
      await run('curl', ['-s', '-o', '/dev/null', '-u', `user:${secret('curl-basic')}`, '-b', `sid=${secret('curl-cookie')}`, '--data', secret('curl-body'), `http://127.0.0.1:${h1Port}/curl?k=${secret('curl-query')}`]);

      await agent.waitFor(7, () => true);
      await receiver.waitForSpans(7, 20_000);
      await receiver.waitFor(() => receiver.metrics.length > 0, 20_000, 'a metrics export');
      const txs = agent.transactions();
      // Everything arrived: both ends of HTTP/1, HTTP/2 and gRPC from this process, the server end of curl.
      assert.deepEqual(txs.map((t) => `${t.role} ${t.method} ${t.path}`).sort(), [
        'client POST /h2', 'client POST /login', 'client POST /shop.Catalog/Get',
        'server POST /curl', 'server POST /h2', 'server POST /login', 'server POST /shop.Catalog/Get',
      ]);
      // The query keys are kept, their values redacted.
      assert.deepEqual(txs.filter((t) => t.path === '/login').map((t) => t.query), ['token=REDACTED&user=REDACTED', 'token=REDACTED&user=REDACTED']);
      const outputs: Record<string, string> = {
        'JSON lines': agent.output(),
        logs: agent.stderr,
        'OTLP spans': JSON.stringify(receiver.spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
        'OTLP metrics': JSON.stringify(receiver.metrics, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
        'OTLP request headers': JSON.stringify(receiver.headers),
        '/metrics': (await httpGet(agent.adminPort, '/metrics')).body,
        '/stats': (await httpGet(agent.adminPort, '/stats')).body,
      };
      for (const [name, text] of Object.entries(outputs)) {
        assert.ok(text.length > 0, `${name} is not empty`);
        const at = text.indexOf(MARK);
        assert.equal(at, -1, `${name} leaks: ${text.slice(Math.max(0, at - 80), at + 40)}`);
      }
    } finally {
      client.close();
      await agent.stop();
      await receiver.stop();
      grpcServer.forceShutdown();
      h1.close();
      h2.close();
    }
    assert.equal(await agent.exited, 0, agent.stderr);
    assert.equal(agent.output().indexOf(MARK) + agent.stderr.indexOf(MARK), -2, 'nothing at shutdown either');
  });
});
