// End to end: the real agent (real eBPF) watching real HTTP/1.x peers on
// loopback — Node http, curl, python3 http.server, nginx — with exact counts.
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { JsonTransaction } from '../../src/export/console';
import { freePort, httpGet, kernelObjectsAfterExit, startAgent, type RunningAgent } from '../support/agent';
import { spawn } from '../support/children';
import { bpfSkip } from '../support/requirements';
import { sleep } from '../support/wait';

const run = promisify(execFile);
const SETTLE_MS = 400;

const skip = bpfSkip();

function bodyFor(i: number): string {
  return 'x'.repeat(100 + i);
}

/** A Node server whose responses depend on the path, so a mis-pairing shows. */
function nodeServer(): http.Server {
  return http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/big') {
      const body = Buffer.alloc(1 << 20, 0x61);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    } else if (url === '/chunked') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a'.repeat(1000));
      res.write('b'.repeat(2000));
      res.end('c'.repeat(3000));
    } else if (url === '/bigchunks') {
      // 16 chunks of 64 KiB, each written once the last has drained: every
      // write holds one chunk, four times the default per-syscall capture.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      void (async () => {
        for (let i = 0; i < 16; i++) {
          if (!res.write(Buffer.alloc(65536, 0x63))) await new Promise((r) => res.once('drain', r));
        }
        res.end();
      })();
    } else if (url === '/post') {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => {
        const body = `got ${n}`;
        res.writeHead(201, { 'content-length': body.length });
        res.end(body);
      });
    } else if (url.startsWith('/sized/')) {
      const body = Buffer.alloc(Number(url.split('/')[2]), 0x73);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    } else if (url === '/nocontent') {
      res.writeHead(204);
      res.end();
    } else if (url === '/missing') {
      res.writeHead(404, { 'content-length': 9 });
      res.end('not found');
    } else {
      const i = Number(url.split('/')[2] ?? 0);
      const body = bodyFor(Number.isFinite(i) ? i : 0);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    }
  });
}

async function listen(server: http.Server, port: number): Promise<void> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
}

function get(port: number, urlPath: string, agent: http.Agent): Promise<{ status: number; body: string; ns: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ns: Number(process.hrtime.bigint() - t0) }));
      })
      .on('error', reject);
  });
}

const serverSide = (port: number) => (tx: JsonTransaction) => tx.role === 'server' && tx.localPort === port;
const clientSide = (port: number) => (tx: JsonTransaction) => tx.role === 'client' && tx.peerPort === port;

describe('HTTP/1.x end to end with real eBPF', { skip }, () => {
  const ports = { node: 0, pre: 0, python: 0, nginx: 0, dual: 0 };
  const servers: http.Server[] = [];
  const children: ChildProcess[] = [];
  let agent: RunningAgent;
  let preAgent: http.Agent;
  let preConnections = 0;
  let tmp: string;
  let nginxMaster: ChildProcess;
  let pythonServer: ChildProcess;
  const expected = new Map<number, number>(); // port -> transactions (both roles)

  async function settled(port: number, count: number): Promise<JsonTransaction[]> {
    const match = (tx: JsonTransaction) => tx.localPort === port || tx.peerPort === port;
    const before = expected.get(port) ?? 0;
    expected.set(port, before + count);
    await agent.waitFor(before + count, match);
    await sleep(SETTLE_MS);
    return agent.transactions().filter(match).slice(before);
  }

  /** The kernel's counters, with the bytes the tracker lost. */
  async function kernelStats(): Promise<{ h1FramingLost: number; headsUnshipped: number; bytesLost: number; bytesUncaptured: number }> {
    const stats = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as {
      capture: { kernel: { h1FramingLost: number; headsUnshipped: number } };
      tracker: { bytesLost: number; bytesUncaptured: number };
    };
    return { ...stats.capture.kernel, bytesLost: stats.tracker.bytesLost, bytesUncaptured: stats.tracker.bytesUncaptured };
  }

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sidelight-e2e-'));
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();

    const node = nodeServer();
    await listen(node, ports.node);
    servers.push(node);

    // Dual-stack: IPv6 peers, and IPv4 peers seen through v4-mapped addresses.
    const dual = nodeServer();
    await new Promise<void>((resolve) => dual.listen(ports.dual, '::', resolve));
    servers.push(dual);

    // A keep-alive connection that exists before the agent starts (kept
    // open well past the agent's start-up).
    const pre = nodeServer();
    pre.keepAliveTimeout = 120_000;
    pre.on('connection', () => preConnections++);
    await listen(pre, ports.pre);
    servers.push(pre);
    preAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await get(ports.pre, '/pre/0', preAgent)).status, 200);

    writeFileSync(path.join(tmp, 'file.txt'), 'hello from python\n');
    pythonServer = spawn('python3', ['-m', 'http.server', String(ports.python), '--bind', '127.0.0.1', '--directory', tmp], { stdio: 'ignore' });
    children.push(pythonServer);

    writeFileSync(path.join(tmp, 'small.html'), '<p>small</p>\n');
    writeFileSync(path.join(tmp, 'large.bin'), Buffer.alloc(300 * 1024, 0x62));
    writeFileSync(
      path.join(tmp, 'nginx.conf'),
      [
        'daemon off;', 'master_process on;', 'worker_processes 1;', 'user root;',
        `pid ${tmp}/nginx.pid;`, `error_log ${tmp}/nginx-error.log;`,
        'events { worker_connections 64; }',
        'http {',
        '  access_log off; sendfile on; keepalive_requests 1000;',
        `  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi;`,
        `  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;`,
        `  server { listen 127.0.0.1:${ports.nginx}; root ${tmp}; }`,
        '}',
      ].join('\n'),
    );
    nginxMaster = spawn('nginx', ['-c', path.join(tmp, 'nginx.conf'), '-p', tmp], { stdio: 'ignore' });
    children.push(nginxMaster);

    // Both peers answer before the agent starts: their start-up is not traffic under test.
    for (const port of [ports.python, ports.nginx]) {
      for (let i = 0; i < 100; i++) {
        const ok = await new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
          s.on('error', () => resolve(false));
        });
        if (ok) break;
        await sleep(100);
      }
    }

    agent = await startAgent(Object.values(ports).flatMap((p) => ['--port', String(p)]));
  });

  after(async () => {
    preAgent?.destroy();
    for (const s of servers) s.close();
    for (const c of children) c.kill('SIGTERM');
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('200 keep-alive requests: one server and one client transaction each, paired by path', async () => {
    const ka = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const measured: number[] = [];
    for (let i = 0; i < 200; i++) {
      const r = await get(ports.node, `/ka/${i}`, ka);
      assert.equal(r.body.length, 100 + i);
      measured.push(r.ns);
    }
    ka.destroy();
    const txs = (await settled(ports.node, 400)).filter((tx) => tx.path.startsWith('/ka/'));
    const server = txs.filter(serverSide(ports.node));
    const client = txs.filter(clientSide(ports.node));
    assert.equal(server.length, 200);
    assert.equal(client.length, 200);
    for (const [list, role] of [[server, 'server'], [client, 'client']] as const) {
      assert.deepEqual(list.map((tx) => tx.path), measured.map((_, i) => `/ka/${i}`), `${role} order`);
      list.forEach((tx, i) => {
        assert.equal(tx.method, 'GET');
        assert.equal(tx.status, 200);
        assert.equal(tx.protocol, 'HTTP/1.1');
        assert.equal(tx.requestBytes, 0);
        assert.equal(tx.responseBytes, 100 + i, `${role} /ka/${i} body size`);
        assert.equal(tx.pid, process.pid);
        assert.equal(tx.localAddress, '127.0.0.1');
        assert.equal(tx.peerAddress, '127.0.0.1');
        assert.ok(tx.durationNs > 0 && tx.durationNs <= measured[i]!, `${role} /ka/${i}: ${tx.durationNs} ns > client-measured ${measured[i]} ns`);
        assert.match(tx.startTimeUnixNano, /^\d{19}$/);
      });
    }
    // One connection: every client transaction has the same local port.
    assert.equal(new Set(client.map((tx) => tx.localPort)).size, 1);
  });

  it('20 concurrent keep-alive connections, 1000 requests: none missing, none duplicated, none mis-paired', async () => {
    const pool = new http.Agent({ keepAlive: true, maxSockets: 20 });
    const all = Array.from({ length: 1000 }, (_, i) => i);
    const results = await Promise.all(all.map((i) => get(ports.node, `/conc/${i}`, pool)));
    pool.destroy();
    assert.ok(results.every((r, i) => r.body.length === 100 + i));
    const txs = (await settled(ports.node, 2000)).filter((tx) => tx.path.startsWith('/conc/'));
    for (const side of [serverSide(ports.node), clientSide(ports.node)]) {
      const list = txs.filter(side);
      assert.equal(list.length, 1000);
      const byPath = new Map(list.map((tx) => [tx.path, tx]));
      assert.equal(byPath.size, 1000, 'no path twice');
      for (const i of all) assert.equal(byPath.get(`/conc/${i}`)?.responseBytes, 100 + i, `/conc/${i}`);
      assert.ok(new Set(list.map((tx) => tx.localPort === ports.node ? tx.peerPort : tx.localPort)).size <= 20);
    }
  });

  it('50 curl requests, one connection each', async () => {
    for (let i = 0; i < 50; i++) await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${ports.node}/one/${i}`]);
    const txs = (await settled(ports.node, 100)).filter((tx) => tx.path.startsWith('/one/'));
    const server = txs.filter(serverSide(ports.node));
    const client = txs.filter(clientSide(ports.node));
    assert.equal(server.length, 50);
    assert.equal(client.length, 50);
    assert.deepEqual(server.map((tx) => tx.path), Array.from({ length: 50 }, (_, i) => `/one/${i}`));
    assert.deepEqual(client.map((tx) => tx.path), Array.from({ length: 50 }, (_, i) => `/one/${i}`));
    for (const tx of client) {
      assert.equal(tx.process, 'curl');
      assert.equal(tx.responseBytes, 100 + Number(tx.path.split('/')[2]));
    }
    assert.equal(new Set(client.map((tx) => tx.localPort)).size, 50);
    assert.equal(new Set(client.map((tx) => tx.pid)).size, 50);
  });

  it('10 pipelined requests in one write', async () => {
    const sock = net.connect(ports.node, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const reqs = Array.from({ length: 10 }, (_, i) => `GET /pipe/${i} HTTP/1.1\r\nHost: localhost\r\n\r\n`).join('');
    let got = '';
    const expectedBytes = Array.from({ length: 10 }, (_, i) => 100 + i).reduce((a, b) => a + b, 0);
    const done = new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        const bodies = got.split('\r\n\r\n').slice(1).map((s) => s.replace(/HTTP\/1\.1[\s\S]*$/, ''));
        if ((got.match(/HTTP\/1\.1 200/g) ?? []).length === 10 && bodies.join('').length >= expectedBytes) resolve();
      });
    });
    sock.write(reqs);
    await done;
    sock.end();
    const txs = (await settled(ports.node, 20)).filter((tx) => tx.path.startsWith('/pipe/'));
    for (const side of [serverSide(ports.node), clientSide(ports.node)]) {
      const list = txs.filter(side);
      assert.deepEqual(list.map((tx) => [tx.path, tx.status, tx.responseBytes]), Array.from({ length: 10 }, (_, i) => [`/pipe/${i}`, 200, 100 + i]));
    }
  });

  it('a 1 MiB response, a chunked response, a POST with a body, a 404 and a HEAD', async () => {
    await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${ports.node}/big`]);
    await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${ports.node}/chunked`]);
    const file = path.join(tmp, 'post.bin');
    writeFileSync(file, Buffer.alloc(5000, 0x70));
    await run('curl', ['-s', '-o', '/dev/null', '--data-binary', `@${file}`, `http://127.0.0.1:${ports.node}/post`]);
    await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${ports.node}/missing`]);
    await run('curl', ['-s', '-o', '/dev/null', '-I', `http://127.0.0.1:${ports.node}/ka/7`]);
    const txs = await settled(ports.node, 10);
    for (const side of [serverSide(ports.node), clientSide(ports.node)]) {
      const list = txs.filter(side).map((tx) => [tx.method, tx.path, tx.status, tx.requestBytes, tx.responseBytes, tx.truncated ?? false]);
      assert.deepEqual(list, [
        ['GET', '/big', 200, 0, 1 << 20, false],
        ['GET', '/chunked', 200, 0, 6000, false],
        ['POST', '/post', 201, 5000, 8, false],
        ['GET', '/missing', 404, 0, 9, false],
        ['HEAD', '/ka/7', 200, 0, 0, false],
      ]);
    }
  });

  it('a chunked response whose chunks are larger than the capture: exact on both ends at the default settings', async () => {
    // The reader takes 16 KiB per recv, so each read's heads are within the
    // per-syscall capture (a read starting deep inside a chunk may hold the
    // next chunk-size line past it: README, "Bodies past the per-syscall cap").
    const reader = 'import socket,sys\ns=socket.create_connection(("127.0.0.1",int(sys.argv[1])))\ns.sendall(b"GET /bigchunks HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n")\nwhile s.recv(16384): pass\n';
    await run('python3', ['-c', reader, String(ports.node)]);
    const txs = await settled(ports.node, 2);
    for (const side of [serverSide(ports.node), clientSide(ports.node)]) {
      assert.deepEqual(
        txs.filter(side).map((tx) => [tx.method, tx.path, tx.status, tx.responseBytes, tx.truncated ?? false]),
        [['GET', '/bigchunks', 200, 16 * 65536, false]],
      );
    }
  });

  it('pipelined responses with large bodies, all read in one recv: the kernel ships their heads, not their bodies', async () => {
    // The client peeks (never counted as read) until the last response has
    // arrived, then takes all of them in one recv: 122 KB, seven times the
    // per-syscall capture, with seven heads past it. The HEAD response
    // announces 30,000 bytes it does not send.
    const reqs = [
      ['GET', '/sized/20000'], ['GET', '/chunked'], ['HEAD', '/sized/30000'], ['GET', '/sized/30000'], ['GET', '/nocontent'],
      ['GET', '/sized/25000'], ['GET', '/sized/40000'], ['GET', '/sized/17'], ['GET', '/missing'],
    ];
    const paths = reqs.map(([, p]) => p!);
    const client = [
      'import socket,sys',
      's=socket.socket()',
      's.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,4<<20)',
      's.connect(("127.0.0.1",int(sys.argv[1])))',
      `s.sendall(b"".join(m.encode()+b" "+p.encode()+b" HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n" for m,p in ${JSON.stringify(reqs)}))`,
      'import time',
      'while not s.recv(4<<20,socket.MSG_PEEK).endswith(b"not found"): time.sleep(0.02)',
      'n=len(s.recv(4<<20,socket.MSG_PEEK))',
      'got=s.recv(n,socket.MSG_WAITALL)',
      'print(len(got), got.count(b"HTTP/1.1 "))',
    ].join('\n');
    const before = await kernelStats();
    const { stdout } = await run('python3', ['-c', client, String(ports.node)]);
    const [bytes, heads] = stdout.trim().split(' ').map(Number);
    assert.equal(heads, reqs.length);
    assert.ok(bytes! > 121_026, `one recv of ${bytes} bytes`);
    const txs = (await settled(ports.node, 2 * reqs.length)).filter((tx) => paths.includes(tx.path));
    const want = [
      ['GET', '/sized/20000', 200, 20000], ['GET', '/chunked', 200, 6000], ['HEAD', '/sized/30000', 200, 0], ['GET', '/sized/30000', 200, 30000],
      ['GET', '/nocontent', 204, 0], ['GET', '/sized/25000', 200, 25000], ['GET', '/sized/40000', 200, 40000], ['GET', '/sized/17', 200, 17],
      ['GET', '/missing', 404, 9],
    ];
    for (const side of [serverSide(ports.node), clientSide(ports.node)]) {
      assert.deepEqual(txs.filter(side).map((tx) => [tx.method, tx.path, tx.status, tx.responseBytes, tx.truncated ?? false]), want.map((w) => [...w, false]));
    }
    const after = await kernelStats();
    assert.equal(after.h1FramingLost - before.h1FramingLost, 0);
    assert.equal(after.headsUnshipped - before.headsUnshipped, 0);
    assert.equal(after.bytesLost - before.bytesLost, 0);
    // Bodies stayed in the kernel: on the reading side alone, every body
    // past its first 7 bytes (the HEAD test) and all the chunk data.
    assert.ok(after.bytesUncaptured - before.bytesUncaptured >= 19993 + 6000 + 29993 + 24993 + 39993, `${after.bytesUncaptured - before.bytesUncaptured} bytes uncaptured`);
  });

  it('a chunked response read 64 KiB at a time, and a chunked upload sent in one write: exact on both ends', async () => {
    // Reads of 65,543 bytes end two bytes earlier in each 64 KiB chunk's
    // framing than the last, so read boundaries cross chunk-size lines and
    // CRLFs; each read holds the next chunk-size line past the capture.
    const reader = [
      'import socket,sys,time',
      's=socket.socket()',
      's.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,4<<20)',
      's.connect(("127.0.0.1",int(sys.argv[1])))',
      's.sendall(b"GET /bigchunks HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n")',
      'while not s.recv(4<<20,socket.MSG_PEEK).endswith(b"0\\r\\n\\r\\n"): time.sleep(0.02)',
      'n=0',
      'while True:',
      '  d=s.recv(65543)',
      '  if not d: break',
      '  n+=len(d)',
      'print(n)',
    ].join('\n');
    const uploader = [
      'import socket,sys',
      's=socket.create_connection(("127.0.0.1",int(sys.argv[1])))',
      'body=b"".join(b"%x\\r\\n"%30000+b"u"*30000+b"\\r\\n" for _ in range(10))+b"0\\r\\n\\r\\n"',
      's.sendall(b"POST /post HTTP/1.1\\r\\nHost: t\\r\\nTransfer-Encoding: chunked\\r\\nConnection: close\\r\\n\\r\\n"+body)',
      'got=b""',
      'while True:',
      '  d=s.recv(65536)',
      '  if not d: break',
      '  got+=d',
      'print(got.split(b"\\r\\n\\r\\n")[1].decode())',
    ].join('\n');
    const before = await kernelStats();
    assert.ok(Number((await run('python3', ['-c', reader, String(ports.node)])).stdout) > 16 * 65536);
    assert.equal((await run('python3', ['-c', uploader, String(ports.node)])).stdout.trim(), 'got 300000');
    const txs = await settled(ports.node, 4);
    for (const side of [serverSide(ports.node), clientSide(ports.node)]) {
      assert.deepEqual(
        txs.filter(side).map((tx) => [tx.method, tx.path, tx.status, tx.requestBytes, tx.responseBytes, tx.truncated ?? false]),
        [['GET', '/bigchunks', 200, 0, 16 * 65536, false], ['POST', '/post', 201, 300000, 10, false]],
      );
    }
    const after = await kernelStats();
    assert.equal(after.h1FramingLost - before.h1FramingLost, 0);
    assert.equal(after.bytesLost - before.bytesLost, 0);
  });

  it('a keep-alive connection opened before the agent started', async () => {
    for (let i = 1; i <= 5; i++) assert.equal((await get(ports.pre, `/pre/${i}`, preAgent)).status, 200);
    assert.equal(preConnections, 1, 'all six requests used the connection opened before the agent');
    const txs = await settled(ports.pre, 10);
    const expectedPaths = [1, 2, 3, 4, 5].map((i) => `/pre/${i}`);
    assert.deepEqual(txs.filter(serverSide(ports.pre)).map((tx) => [tx.path, tx.responseBytes]), expectedPaths.map((p, i) => [p, 101 + i]));
    assert.deepEqual(txs.filter(clientSide(ports.pre)).map((tx) => [tx.path, tx.responseBytes]), expectedPaths.map((p, i) => [p, 101 + i]));
  });

  it('IPv6 and v4-mapped addresses', async () => {
    await run('curl', ['-s', '-g', '-o', '/dev/null', `http://[::1]:${ports.dual}/six/1`]);
    await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${ports.dual}/four/2`]);
    const txs = await settled(ports.dual, 4);
    const row = (tx: JsonTransaction) => [tx.role, tx.path, tx.localAddress, tx.peerAddress, tx.responseBytes];
    assert.deepEqual(txs.filter(serverSide(ports.dual)).map(row), [
      ['server', '/six/1', '::1', '::1', 101],
      ['server', '/four/2', '127.0.0.1', '127.0.0.1', 102],
    ]);
    assert.deepEqual(txs.filter(clientSide(ports.dual)).map(row), [
      ['client', '/six/1', '::1', '::1', 101],
      ['client', '/four/2', '127.0.0.1', '127.0.0.1', 102],
    ]);
  });

  it('python3 http.server: a file and a 404', async () => {
    await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${ports.python}/file.txt`]);
    await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${ports.python}/nope`]);
    const txs = await settled(ports.python, 4);
    const server = txs.filter(serverSide(ports.python));
    const client = txs.filter(clientSide(ports.python));
    const pyName = path.basename(readlinkSync(`/proc/${pythonServer.pid}/exe`));
    assert.deepEqual(server.map((tx) => [tx.process, tx.pid, tx.path, tx.status, tx.responseBytes]), [
      [pyName, pythonServer.pid, '/file.txt', 200, 18],
      [pyName, pythonServer.pid, '/nope', 404, server[1]?.responseBytes],
    ]);
    assert.ok(server[1]!.responseBytes > 0);
    assert.deepEqual(client.map((tx) => [tx.process, tx.path, tx.status, tx.responseBytes]), [
      ['curl', '/file.txt', 200, 18],
      ['curl', '/nope', 404, server[1]!.responseBytes],
    ]);
  });

  it('nginx serving static files with sendfile, 20 requests on one connection', async () => {
    const urls: string[] = [];
    for (let i = 0; i < 10; i++) urls.push(`http://127.0.0.1:${ports.nginx}/small.html`, `http://127.0.0.1:${ports.nginx}/large.bin`);
    await run('curl', ['-s', ...urls.flatMap((u) => ['-o', '/dev/null', u])]);
    const txs = await settled(ports.nginx, 40);
    const expectedRows = urls.map((u) => (u.endsWith('small.html') ? ['/small.html', 200, 13] : ['/large.bin', 200, 300 * 1024]));
    const server = txs.filter(serverSide(ports.nginx));
    const client = txs.filter(clientSide(ports.nginx));
    assert.deepEqual(server.map((tx) => [tx.path, tx.status, tx.responseBytes]), expectedRows);
    assert.deepEqual(client.map((tx) => [tx.path, tx.status, tx.responseBytes]), expectedRows);
    assert.ok(server.every((tx) => tx.process === 'nginx'));
    assert.ok(client.every((tx) => tx.process === 'curl'));
    assert.equal(new Set(client.map((tx) => tx.localPort)).size, 1, 'curl reused one connection');
  });

  it('stops on SIGTERM with every transaction printed, no kernel drops, and nothing left in the kernel', async () => {
    const stats = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as {
      capture: { kernel: { ringbufDrops: number }; events: number };
      tracker: { bytesLost: number; bytesUncaptured: number; http1: { parseErrors: number; unmatchedResponses: number } };
    };
    assert.equal(stats.tracker.bytesLost, 0);
    // The 1 MiB body and nginx's sendfile bodies went uncaptured, by design.
    assert.ok(stats.tracker.bytesUncaptured > (1 << 20));
    assert.equal(stats.capture.kernel.ringbufDrops, 0);
    assert.equal(stats.tracker.http1.parseErrors, 0);
    assert.equal(stats.tracker.http1.unmatchedResponses, 0);
    assert.ok(stats.capture.events > 0);
    const { code, transactions } = await agent.stop();
    assert.equal(code, 0, agent.stderr);
    for (const [port, count] of expected) {
      assert.equal(transactions.filter((tx) => tx.localPort === port || tx.peerPort === port).length, count, `port ${port}`);
    }
    assert.equal(transactions.length, [...expected.values()].reduce((a, b) => a + b, 0));
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
  });
});
