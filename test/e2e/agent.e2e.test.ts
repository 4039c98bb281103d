// The agent as a user runs it: readiness, text output, --pid, --duration,
// SIGINT, and a clean kernel afterwards.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BIN, ROOT, expectedBuild, freePort, httpGet, kernelObjectsAfterExit, startAgent } from '../support/agent';
import { verboseReadiness, type StartupReport } from '../../src/capture/startup-report';
import { spawn } from '../support/children';
import { bpfSkip } from '../support/requirements';
import { sleep } from '../support/wait';

const run = promisify(execFile);
const skip = bpfSkip();

async function server(): Promise<{ port: number; close: () => void }> {
  const port = await freePort();
  const s = http.createServer((_req, res) => res.writeHead(200, { 'content-length': 2 }).end('ok'));
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return { port, close: () => s.close() };
}

describe('the agent process', { skip }, () => {
  it('answers /healthz and /readyz, prints aligned text lines, and stops on SIGINT', async () => {
    const srv = await server();
    const agent = await startAgent(['--output', 'text', '--port', String(srv.port)]);
    try {
      assert.deepEqual(await httpGet(agent.adminPort, '/healthz'), { status: 200, body: 'ok\n' });
      assert.deepEqual(await httpGet(agent.adminPort, '/readyz'), { status: 200, body: 'ready\n' });
      // The start-up report: kernel, BTF source, programs attached and left out.
      const startup = (JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { startup: StartupReport }).startup;
      assert.deepEqual([startup.kernel, startup.btf, startup.build, startup.failed], [os.release(), '/sys/kernel/btf/vmlinux', expectedBuild(), []]);
      assert.ok(startup.attached.includes('sl_exit_connect'), startup.attached.join(' '));
      assert.deepEqual(await httpGet(agent.adminPort, '/readyz?verbose'), { status: 200, body: `${verboseReadiness(startup)}ready\n` });
      await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${srv.port}/text/path?token=abc`]);
      await sleep(500);
    } finally {
      agent.child.kill('SIGINT');
    }
    const code = await agent.exited;
    srv.close();
    assert.equal(code, 0, agent.stderr);
    const lines = agent.output().trimEnd().split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    const serverLine = lines.find((l) => / server /.test(l))!;
    const clientLine = lines.find((l) => / client /.test(l))!;
    assert.match(serverLine, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} node\\[${process.pid}\\]\\s+server GET\\s+/text/path\\?token=REDACTED\\s+200\\s+[\\d.]+(µs|ms) in=0\\s+out=2\\s+127\\.0\\.0\\.1:\\d+$`));
    assert.match(clientLine, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} curl\\[\\d+\\]\\s+client GET\\s+/text/path\\?token=REDACTED\\s+200\\s+[\\d.]+(µs|ms) in=0\\s+out=2\\s+127\\.0\\.0\\.1:${srv.port}$`));
    // Columns line up: the method starts at the same place on both lines.
    assert.equal(serverLine.indexOf(' GET '), clientLine.indexOf(' GET '));
    // Logs are JSON lines on stderr, one of them the final tally.
    const logs = agent.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; transactions?: number; kernelDrops?: number; kernel?: string; btf?: string; build?: string });
    const capturing = logs.find((l) => l.msg === 'capturing');
    assert.deepEqual([capturing?.kernel, capturing?.btf, capturing?.build], [os.release(), '/sys/kernel/btf/vmlinux', expectedBuild()]);
    const stopped = logs.find((l) => l.msg === 'stopped');
    assert.equal(stopped?.transactions, 2);
    assert.equal(stopped?.kernelDrops, 0);
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
  });

  it('SIDELIGHT_PROGRAM_BUILD runs the standard or compat build on this kernel, with the same exact counts; another value is refused in one line', async () => {
    const srv = await server();
    try {
      for (const build of ['standard', 'compat'] as const) {
        const agent = await startAgent(['--port', String(srv.port)], 30_000, { SIDELIGHT_PROGRAM_BUILD: build });
        const startup = (JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { startup: StartupReport }).startup;
        for (let i = 0; i < 3; i++) await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${srv.port}/${build}/${i}`]);
        await agent.waitFor(6, (tx) => tx.path.startsWith(`/${build}/`));
        await sleep(300);
        const { code, transactions } = await agent.stop();
        assert.equal(code, 0, agent.stderr);
        assert.equal(startup.build, build);
        assert.deepEqual(
          transactions.map((tx) => `${tx.role} ${tx.path} ${tx.status}`).sort(),
          [0, 1, 2].flatMap((i) => [`client /${build}/${i} 200`, `server /${build}/${i} 200`]).sort(),
        );
      }
    } finally {
      srv.close();
    }
    const bad = spawn(process.execPath, [BIN, 'run', '--output', 'none'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SIDELIGHT_PROGRAM_BUILD: 'turbo' } });
    let stderr = '';
    bad.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((r) => bad.once('exit', r));
    assert.notEqual(code, 0);
    assert.match(stderr, /SIDELIGHT_PROGRAM_BUILD=turbo: expected fast, standard or compat \(or unset, to choose by probing the kernel\)/);
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
  });

  it('--pid keeps only the named process; --duration stops by itself', async () => {
    const srv = await server();
    const adminPort = await freePort();
    // This process is the server; curl's side of the same connections is left out.
    const child = spawn(process.execPath, [BIN, 'run', '--output', 'json', '--pid', String(process.pid), '--port', String(srv.port), '--duration', '3', '--admin-port', String(adminPort), '--admin-host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    for (let i = 0; i < 100; i++) {
      const ok = await httpGet(adminPort, '/readyz').then((r) => r.status === 200, () => false);
      if (ok) break;
      await sleep(50);
    }
    for (let i = 0; i < 3; i++) await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${srv.port}/p/${i}`]);
    const code = await exited;
    srv.close();
    assert.equal(code, 0, stderr);
    const txs = stdout.trim().split('\n').map((l) => JSON.parse(l) as { role: string; pid: number; path: string });
    assert.deepEqual(txs.map((tx) => [tx.role, tx.pid, tx.path]), [0, 1, 2].map((i) => ['server', process.pid, `/p/${i}`]));
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
  });

  it('record then replay: the recording yields the same transactions a live run prints', async () => {
    const srv = await server();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-rec-'));
    const file = path.join(dir, 'capture.slrec');
    try {
      const rec = spawn(process.execPath, [BIN, 'record', '--out', file, '--port', String(srv.port)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      rec.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      for (let i = 0; i < 100 && !err.includes('"recording"'); i++) await sleep(100);
      assert.match(err, /"msg":"recording"/);
      for (let i = 0; i < 3; i++) await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${srv.port}/rec/${i}`]);
      await sleep(300);
      rec.kill('SIGINT');
      assert.equal(await new Promise((r) => rec.once('exit', r)), 0, err);
      assert.match(err, /"msg":"recorded"/);
      const { stdout } = await run(process.execPath, [BIN, 'replay', file, '--output', 'json', '--log-level', 'warn']);
      const txs = stdout.trim().split('\n').map((l) => JSON.parse(l) as { role: string; path: string; status: number; process: string });
      assert.deepEqual(
        txs.map((t) => [t.role, t.path, t.status]).sort(),
        [0, 1, 2].flatMap((i) => [['client', `/rec/${i}`, 200], ['server', `/rec/${i}`, 200]]).sort(),
      );
      // Replay has no /proc: processes are named by the kernel's thread name.
      assert.deepEqual([...new Set(txs.filter((t) => t.role === 'client').map((t) => t.process))], ['curl']);
    } finally {
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
  });

  it('a connection that is not HTTP stops being shipped after four payloads', async () => {
    const port = await freePort();
    const echo = net.createServer((sock) => sock.on('data', (d: Buffer) => sock.write(d)));
    await new Promise<void>((r) => echo.listen(port, '127.0.0.1', r));
    const agent = await startAgent(['--port', String(port)]);
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const msg = Buffer.alloc(100, 0xab);
    for (let i = 0; i < 10; i++) {
      const back = new Promise((r) => sock.once('data', r));
      sock.write(msg);
      await back;
    }
    await sleep(300);
    const stats = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as {
      capture: { kernel: { connectionsOther: number; ringbufDrops: number } };
      tracker: { connectionsOpened: number; bytesUnclassified: number; http1: { transactions: number; parseErrors: number; discardedBytes: number } };
    };
    sock.destroy();
    echo.close();
    const { code, transactions } = await agent.stop();
    assert.equal(code, 0, agent.stderr);
    assert.equal(transactions.length, 0);
    assert.equal(stats.capture.kernel.connectionsOther, 2);
    assert.equal(stats.capture.kernel.ringbufDrops, 0);
    assert.equal(stats.tracker.connectionsOpened, 2);
    // Three payloads per socket were shipped before the verdict, then nothing;
    // held for a verdict that never came, they are counted unparsed, not fed to a parser.
    assert.deepEqual(
      [stats.tracker.http1.transactions, stats.tracker.http1.discardedBytes, stats.tracker.bytesUnclassified],
      [0, 0, 600],
    );
  });

  it('bytes only peeked at (MSG_PEEK) are not counted twice', async () => {
    const port = await freePort();
    const py = spawn('python3', [path.join(ROOT, 'test', 'fixtures', 'peek-server.py'), String(port), '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => py.stdout.once('data', r));
    const agent = await startAgent(['--port', String(port)]);
    for (let i = 0; i < 3; i++) await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/peek/${i}`]);
    await new Promise((r) => py.once('exit', r));
    await sleep(300);
    const stats = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { tracker: { http1: { parseErrors: number } } };
    const { code, transactions } = await agent.stop();
    assert.equal(code, 0, agent.stderr);
    assert.equal(stats.tracker.http1.parseErrors, 0);
    const rows = (role: string) => transactions.filter((tx) => tx.role === role).map((tx) => [tx.path, tx.status, tx.responseBytes]);
    const want = [0, 1, 2].map((i) => [`/peek/${i}`, 200, 6]);
    assert.deepEqual(rows('server'), want);
    assert.deepEqual(rows('client'), want);
  });

  it('stops cleanly when the reader of stdout goes away (sidelight run | head -n 1)', async () => {
    const srv = await server();
    const adminPort = await freePort();
    const child = spawn('bash', ['-c', `"${process.execPath}" "${BIN}" run --output json --port ${srv.port} --admin-port ${adminPort} --admin-host 127.0.0.1 | head -n 1; exit \${PIPESTATUS[0]}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let done = false;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => ((done = true), r(code))));
    // Ready within 30 s even on a loaded machine; then requests until the
    // first line ends the run (a bounded number, so a failure cannot hang).
    let ready = false;
    for (let i = 0; i < 600 && !ready && !done; i++) {
      ready = await httpGet(adminPort, '/readyz').then((r) => r.status === 200, () => false);
      if (!ready) await sleep(50);
    }
    assert.ok(ready, `agent not ready: ${stderr}`);
    for (let i = 0; i < 100 && !done; i++) {
      await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${srv.port}/h/${i}`]);
      await sleep(100);
    }
    assert.ok(done, 'the agent stopped once its first line was read');
    const code = await exited;
    srv.close();
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim().split('\n').length, 1);
    assert.match(stderr, /stdout closed by its reader; stopping/);
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
  });
});
