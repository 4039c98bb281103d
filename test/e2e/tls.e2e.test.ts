// End to end: HTTPS and gRPC over TLS read at the TLS library (uprobes on
// OpenSSL), with a self-signed certificate made by openssl here. Peers are
// real: nginx (system OpenSSL) with curl and python3 as clients, HTTP/1.1 and
// HTTP/2 (ALPN h2); a Node https server and client (Node's own OpenSSL, fed
// through memory BIOs); @grpc/grpc-js over TLS. nginx, a Node server and the
// gRPC server start before the agent; another Node server, run from a node
// binary no process had mapped, starts after it. Exact counts on both sides,
// and never a transaction from ciphertext.
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { JsonTransaction } from '../../src/export/console';
import { freePort, httpGet, kernelObjectsAfterExit, startAgent, type RunningAgent } from '../support/agent';
import { loadCatalog, type Item, type Unary } from '../support/catalog';
import { spawn } from '../support/children';
import { bpfSkip } from '../support/requirements';
import { sleep } from '../support/wait';

const run = promisify(execFile);
const SETTLE_MS = 400;

const skip = bpfSkip();

interface CatalogClient extends grpc.Client {
  Get: Unary;
}

/** A Node https server: 404 for /missing, else 200 "seen <body bytes>". */
const NODE_SERVER = `
const https = require('https'), fs = require('fs');
const [port, dir] = process.argv.slice(1);
const srv = https.createServer({ key: fs.readFileSync(dir + '/key.pem'), cert: fs.readFileSync(dir + '/cert.pem') }, (req, res) => {
  let n = 0;
  req.on('data', (d) => (n += d.length));
  req.on('end', () => { res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'text/plain' }); res.end('seen ' + n); });
});
srv.listen(Number(port), '127.0.0.1', () => console.log('listening'));
`;

function startNodeServer(node: string, port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(node, ['-e', NODE_SERVER, String(port), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', () => resolve(child));
  });
}

/** Requests on one keep-alive TLS connection from this process (Node's OpenSSL). */
async function nodeRequests(port: number, reqs: [string, string, string?][]): Promise<number[]> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const statuses: number[] = [];
  for (const [method, p, body] of reqs) {
    statuses.push(
      await new Promise<number>((resolve, reject) => {
        const r = https.request({ host: '127.0.0.1', port, method, path: p, agent, rejectUnauthorized: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        r.on('error', reject);
        r.end(body);
      }),
    );
  }
  agent.destroy();
  return statuses;
}

const fields = (tx: JsonTransaction) => ({ role: tx.role, protocol: tx.protocol, method: tx.method, path: tx.path, status: tx.status, tls: tx.tls });

describe('TLS end to end with real eBPF uprobes', { skip }, () => {
  const ports = { nginx: 0, nodePre: 0, nodeLate: 0, grpc: 0 };
  let dir: string;
  let nginx: ChildProcess;
  let nodePre: ChildProcess;
  let nodeLate: ChildProcess | undefined;
  let lateBinary: string;
  let grpcServer: grpc.Server;
  let Catalog: grpc.ServiceClientConstructor;
  let agent: RunningAgent;
  const seen = new Map<number, number>();

  /** Waits for `count` more transactions touching `port`, then returns them, servers first, in start order. */
  async function settled(port: number, count: number): Promise<JsonTransaction[]> {
    const match = (tx: JsonTransaction) => tx.localPort === port || tx.peerPort === port;
    const taken = seen.get(port) ?? 0;
    seen.set(port, taken + count);
    await agent.waitFor(taken + count, match, 30_000);
    await sleep(SETTLE_MS);
    const got = agent.transactions().filter(match).slice(taken);
    return got.sort((a, b) => (a.role === b.role ? (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1) : a.role === 'server' ? -1 : 1));
  }

  before(async () => {
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidelight-tls-'));
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
    fs.writeFileSync(
      `${dir}/nginx.conf`,
      `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${ports.nginx} ssl http2;
    ssl_certificate ${dir}/cert.pem; ssl_certificate_key ${dir}/key.pem;
    location /missing { return 404; }
    location / { return 200 "hello\\n"; }
  }
}
`,
    );
    nginx = spawn('nginx', ['-c', `${dir}/nginx.conf`], { stdio: 'ignore' });
    nodePre = await startNodeServer(process.execPath, ports.nodePre, dir);

    Catalog = loadCatalog();
    grpcServer = new grpc.Server();
    grpcServer.addService(Catalog.service, {
      Get(call: grpc.ServerUnaryCall<Item, Item>, cb: grpc.sendUnaryData<Item>) {
        if (call.request.name.startsWith('missing')) cb({ code: grpc.status.NOT_FOUND, details: 'none' });
        else cb(null, { name: `item ${call.request.name}`, n: call.request.n + 1 });
      },
    });
    const creds = grpc.ServerCredentials.createSsl(null, [{ private_key: fs.readFileSync(`${dir}/key.pem`), cert_chain: fs.readFileSync(`${dir}/cert.pem`) }]);
    await new Promise<void>((resolve, reject) => grpcServer.bindAsync(`127.0.0.1:${ports.grpc}`, creds, (err) => (err ? reject(err) : resolve())));

    // A node binary no process has mapped yet: its server, started after the agent, must be found by the process scan.
    lateBinary = path.join(dir, 'node-late');
    fs.copyFileSync(process.execPath, lateBinary);
    fs.chmodSync(lateBinary, 0o755);

    for (let i = 0; i < 50; i++) {
      try {
        await run('curl', ['-sk', '-o', '/dev/null', `https://127.0.0.1:${ports.nginx}/warm`]);
        break;
      } catch {
        await sleep(100);
      }
    }
    agent = await startAgent(Object.values(ports).flatMap((p) => ['--port', String(p)]));
  });

  after(async () => {
    nginx?.kill('SIGQUIT');
    nodePre?.kill();
    nodeLate?.kill();
    grpcServer?.forceShutdown();
    if (agent) {
      const { code } = await agent.stop();
      assert.equal(code, 0, agent.stderr);
      assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('curl (system OpenSSL) to nginx over HTTPS, HTTP/1.1 with keep-alive: exact on both sides', async () => {
    const base = `https://127.0.0.1:${ports.nginx}`;
    await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', '-o', '/dev/null', `${base}/a`, `${base}/missing`]);
    await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', '-X', 'POST', '--data-binary', 'x'.repeat(300), `${base}/c`]);
    const txs = await settled(ports.nginx, 6);
    assert.deepEqual(txs.map(fields), [
      { role: 'server', protocol: 'HTTP/1.1', method: 'GET', path: '/a', status: 200, tls: true },
      { role: 'server', protocol: 'HTTP/1.1', method: 'GET', path: '/missing', status: 404, tls: true },
      { role: 'server', protocol: 'HTTP/1.1', method: 'POST', path: '/c', status: 200, tls: true },
      { role: 'client', protocol: 'HTTP/1.1', method: 'GET', path: '/a', status: 200, tls: true },
      { role: 'client', protocol: 'HTTP/1.1', method: 'GET', path: '/missing', status: 404, tls: true },
      { role: 'client', protocol: 'HTTP/1.1', method: 'POST', path: '/c', status: 200, tls: true },
    ]);
    assert.deepEqual(txs.map((t) => t.process), ['nginx', 'nginx', 'nginx', 'curl', 'curl', 'curl']);
    assert.deepEqual(txs.map((t) => [t.requestBytes, t.responseBytes]), [[0, 6], [0, 153], [300, 6], [0, 6], [0, 153], [300, 6]]);
    // The TLS transactions carry the socket's identity: both sides name the same connection.
    for (const i of [0, 1, 2]) {
      assert.equal(txs[i]!.peerPort, txs[i + 3]!.localPort);
      assert.equal(txs[i]!.localPort, ports.nginx);
    }
    assert.equal(txs[0]!.peerPort, txs[1]!.peerPort, 'keep-alive: one connection');
  });

  it('python3 (system OpenSSL, SSL_read_ex/SSL_write_ex) to nginx: exact on both sides', async () => {
    const script = `
import http.client, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection('127.0.0.1', ${ports.nginx}, context=ctx)
for p in ('/py1', '/missing'):
    c.request('GET', p); r = c.getresponse(); r.read()
c.close()
`;
    await run('/usr/bin/python3', ['-c', script]);
    const txs = await settled(ports.nginx, 4);
    assert.deepEqual(txs.map(fields), [
      { role: 'server', protocol: 'HTTP/1.1', method: 'GET', path: '/py1', status: 200, tls: true },
      { role: 'server', protocol: 'HTTP/1.1', method: 'GET', path: '/missing', status: 404, tls: true },
      { role: 'client', protocol: 'HTTP/1.1', method: 'GET', path: '/py1', status: 200, tls: true },
      { role: 'client', protocol: 'HTTP/1.1', method: 'GET', path: '/missing', status: 404, tls: true },
    ]);
    assert.match(txs[2]!.process, /^python3/);
  });

  it('curl to nginx over HTTP/2 negotiated by ALPN: exact on both sides', async () => {
    const base = `https://127.0.0.1:${ports.nginx}`;
    await run('curl', ['-sk', '--http2', '-o', '/dev/null', '-o', '/dev/null', `${base}/h2a`, `${base}/missing`]);
    const txs = await settled(ports.nginx, 4);
    assert.deepEqual(txs.map(fields), [
      { role: 'server', protocol: 'HTTP/2', method: 'GET', path: '/h2a', status: 200, tls: true },
      { role: 'server', protocol: 'HTTP/2', method: 'GET', path: '/missing', status: 404, tls: true },
      { role: 'client', protocol: 'HTTP/2', method: 'GET', path: '/h2a', status: 200, tls: true },
      { role: 'client', protocol: 'HTTP/2', method: 'GET', path: '/missing', status: 404, tls: true },
    ]);
  });

  it("a Node https client and a Node https server started before the agent (Node's bundled OpenSSL)", async () => {
    assert.deepEqual(await nodeRequests(ports.nodePre, [['GET', '/n1'], ['POST', '/n2', 'y'.repeat(100)], ['GET', '/missing']]), [200, 200, 404]);
    const txs = await settled(ports.nodePre, 6);
    assert.deepEqual(txs.map(fields), [
      { role: 'server', protocol: 'HTTP/1.1', method: 'GET', path: '/n1', status: 200, tls: true },
      { role: 'server', protocol: 'HTTP/1.1', method: 'POST', path: '/n2', status: 200, tls: true },
      { role: 'server', protocol: 'HTTP/1.1', method: 'GET', path: '/missing', status: 404, tls: true },
      { role: 'client', protocol: 'HTTP/1.1', method: 'GET', path: '/n1', status: 200, tls: true },
      { role: 'client', protocol: 'HTTP/1.1', method: 'POST', path: '/n2', status: 200, tls: true },
      { role: 'client', protocol: 'HTTP/1.1', method: 'GET', path: '/missing', status: 404, tls: true },
    ]);
    assert.deepEqual(txs.map((t) => t.pid), [nodePre.pid, nodePre.pid, nodePre.pid, process.pid, process.pid, process.pid]);
    assert.deepEqual(txs.map((t) => t.requestBytes), [0, 100, 0, 0, 100, 0]);
    for (const i of [0, 1, 2]) assert.equal(txs[i]!.peerPort, txs[i + 3]!.localPort);
  });

  it('gRPC over TLS with @grpc/grpc-js: methods and codes on both sides', async () => {
    const client = new Catalog(`127.0.0.1:${ports.grpc}`, grpc.credentials.createSsl(fs.readFileSync(`${dir}/cert.pem`)), {
      'grpc.ssl_target_name_override': 'localhost',
    }) as unknown as CatalogClient;
    const call = (name: string) => new Promise<number>((resolve) => client.Get({ name, n: 1 }, new grpc.Metadata(), (err) => resolve(err ? err.code : 0)));
    assert.deepEqual([await call('one'), await call('two'), await call('missing-x')], [0, 0, grpc.status.NOT_FOUND]);
    client.close();
    const txs = await settled(ports.grpc, 6);
    const rpc = (t: JsonTransaction) => ({ role: t.role, protocol: t.protocol, tls: t.tls, service: t.rpcService, method: t.rpcMethod, code: t.grpcStatusCode, status: t.status });
    const want = (role: 'server' | 'client', code: number) => ({ role, protocol: 'HTTP/2', tls: true, service: 'shop.Catalog', method: 'Get', code, status: 200 });
    assert.deepEqual(txs.map(rpc), [want('server', 0), want('server', 0), want('server', 5), want('client', 0), want('client', 0), want('client', 5)]);
  });

  it('a TLS server started after the agent, from a binary no process had mapped, is found and captured', async () => {
    nodeLate = await startNodeServer(lateBinary, ports.nodeLate, dir);
    // The process scan runs every 500 ms: wait until the library is attached.
    let libraries: { path: string; attached: boolean; memoryBio: boolean; pid: number }[] = [];
    for (let i = 0; i < 50; i++) {
      libraries = (JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { tls: { libraries: typeof libraries } }).tls.libraries;
      if (libraries.some((l) => l.path === lateBinary)) break;
      await sleep(100);
    }
    assert.deepEqual(libraries.filter((l) => l.path === lateBinary).map((l) => ({ attached: l.attached, memoryBio: l.memoryBio, pid: l.pid })), [
      { attached: true, memoryBio: true, pid: nodeLate.pid },
    ]);
    const base = `https://127.0.0.1:${ports.nodeLate}`;
    await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', '-o', '/dev/null', `${base}/late1`, `${base}/late2`]);
    const txs = await settled(ports.nodeLate, 4);
    assert.deepEqual(txs.map(fields), [
      { role: 'server', protocol: 'HTTP/1.1', method: 'GET', path: '/late1', status: 200, tls: true },
      { role: 'server', protocol: 'HTTP/1.1', method: 'GET', path: '/late2', status: 200, tls: true },
      { role: 'client', protocol: 'HTTP/1.1', method: 'GET', path: '/late1', status: 200, tls: true },
      { role: 'client', protocol: 'HTTP/1.1', method: 'GET', path: '/late2', status: 200, tls: true },
    ]);
    assert.deepEqual(txs.map((t) => t.pid).slice(0, 2), [nodeLate.pid, nodeLate.pid]);
  });

  it('never reports a transaction from ciphertext, and counts every TLS socket', async () => {
    const all = agent.transactions();
    const total = [...seen.values()].reduce((a, b) => a + b, 0);
    assert.equal(all.length, total, 'only the transactions asserted above');
    assert.deepEqual(all.filter((t) => t.tls !== true), []);
    const stats = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as {
      tracker: { bytesTlsUnbound: number; tlsSessionsBound: number };
    };
    // Plaintext that came before its session knew its socket was all bound later and parsed.
    assert.equal(stats.tracker.bytesTlsUnbound, 0);
    // Sessions on both sides: curl 2 + python 1 + curl h2 1 + node 1 + grpc 1 + late 1 connections.
    assert.equal(stats.tracker.tlsSessionsBound, 14);
  });
});

describe('TLS traffic with the uprobes off', { skip }, () => {
  it('gives no transaction at all: the ciphertext is recognised and never parsed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidelight-notls-'));
    const port = await freePort();
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=localhost']);
    const server = await startNodeServer(process.execPath, port, dir);
    const agent = await startAgent(['--no-tls', '--port', String(port)]);
    try {
      await run('curl', ['-sk', '--http1.1', '-o', '/dev/null', '-o', '/dev/null', `https://127.0.0.1:${port}/a`, `https://127.0.0.1:${port}/b`]);
      assert.deepEqual(await nodeRequests(port, [['GET', '/c']]), [200]);
      await sleep(1000);
      const stats = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as {
        capture: { kernel: { connectionsTls: number; tlsCalls: number } };
        tls?: unknown;
      };
      // Two connections, each seen from both ends.
      assert.equal(stats.capture.kernel.connectionsTls, 4);
      assert.equal(stats.capture.kernel.tlsCalls, 0);
      assert.equal(stats.tls, undefined);
    } finally {
      server.kill();
      const { code, transactions } = await agent.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 0);
      assert.deepEqual(transactions, []);
    }
  });
});
