// Process selection with the real agent and kernel: port ranges and
// exclusions in the kernel filter, executable globs decided once per process
// and then enforced by the kernel.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort, httpGet, startAgent } from '../support/agent';
import { spawn } from '../support/children';
import { bpfSkip } from '../support/requirements';
import { sleep } from '../support/wait';

const run = promisify(execFile);
const skip = bpfSkip();

async function server(port: number): Promise<http.Server> {
  const s = http.createServer((_req, res) => res.writeHead(200, { 'content-length': 2 }).end('ok'));
  await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, '127.0.0.1', resolve));
  return s;
}

/** Servers on three consecutive free ports below the ephemeral range (another test's client may hold one). */
async function consecutiveServers(): Promise<{ base: number; servers: http.Server[] }> {
  for (let attempt = 0; ; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    const servers: http.Server[] = [];
    try {
      for (const p of [base, base + 1, base + 2]) servers.push(await server(p));
      return { base, servers };
    } catch (err) {
      for (const s of servers) s.close();
      if (attempt >= 20) throw err;
    }
  }
}

/** One python process making one request, then (after a line on stdin) `n - 1` more, each on a new connection. */
const CLIENT = `
import sys, urllib.request
for i in range(int(sys.argv[2])):
    if i == 1:
        print("first done", flush=True)
        sys.stdin.readline()
    urllib.request.urlopen("http://127.0.0.1:%s/py/%d" % (sys.argv[1], i)).read()
`;

interface Stats {
  selection: { processesIncluded: number; processesExcluded: Record<string, number>; eventsDropped: number; kernelSkips: number; kernelSkipFailures: number };
  capture: { kernel: { connectionsFiltered: number } };
}

describe('process selection in the kernel', { skip }, () => {
  it('port ranges keep and exclude connections exactly', async () => {
    const { base, servers } = await consecutiveServers();
    const ports = [base, base + 1, base + 2];
    // Keep base..base+2, but leave out base+1.
    const agent = await startAgent(['--port', `${base}-${base + 2}`, '--exclude-port', String(base + 1)]);
    try {
      for (const p of ports) await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${p}/p${p}`]);
      const other = await freePort();
      const extra = await server(other);
      await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${other}/outside`]);
      extra.close();
      await sleep(500);
    } finally {
      agent.child.kill('SIGINT');
      servers.forEach((s) => s.close());
    }
    assert.equal(await agent.exited, 0, agent.stderr);
    const seen = agent.transactions().map((t) => `${t.role} ${t.path}`).sort();
    assert.deepEqual(seen, [`client /p${base}`, `client /p${base + 2}`, `server /p${base}`, `server /p${base + 2}`]);
  });

  it('an excluded executable is dropped in user space once, then filtered by the kernel', async () => {
    const port = await freePort();
    const srv = await server(port);
    const agent = await startAgent(['--port', String(port), '--exclude-exe-path', '**/python3*']);
    let first: Stats;
    let stats: Stats;
    try {
      const py = spawn('python3', ['-c', CLIENT, String(port), '5'], { stdio: ['pipe', 'pipe', 'inherit'] });
      await once(py.stdout, 'data');
      await sleep(300);
      first = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as Stats;
      py.stdin.write('go\n');
      assert.equal((await once(py, 'exit'))[0], 0);
      await sleep(500);
      stats = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as Stats;
    } finally {
      agent.child.kill('SIGINT');
      srv.close();
    }
    assert.equal(await agent.exited, 0, agent.stderr);
    // Only this (node) server's side of the five exchanges.
    const txs = agent.transactions();
    assert.deepEqual(txs.map((t) => `${t.role} ${t.path}`), [0, 1, 2, 3, 4].map((i) => `server /py/${i}`));
    assert.equal(stats.selection.processesIncluded, 1);
    assert.deepEqual(stats.selection.processesExcluded, { 'exclude-exe-path': 1 });
    assert.equal(stats.selection.kernelSkips, 1);
    assert.equal(stats.selection.kernelSkipFailures, 0);
    // The first connection's events reached user space (the decision is made on its first event) and were dropped there;
    // the four later connections were judged "other" by the kernel and sent nothing more.
    assert.ok(first.selection.eventsDropped > 0);
    // Not one more: the four later connections never left the kernel (closes are not gated by
    // process: a TCP state change runs in whatever task the kernel was in).
    assert.equal(stats.selection.eventsDropped, first.selection.eventsDropped, `dropped ${first.selection.eventsDropped} then ${stats.selection.eventsDropped}`);
    // The four later client sockets were filtered in the kernel (other sockets on the host outside --port count too).
    assert.ok(stats.capture.kernel.connectionsFiltered >= 4, `kernel-filtered connections: ${stats.capture.kernel.connectionsFiltered}`);
  });

  it('an include glob keeps only matching executables', async () => {
    const port = await freePort();
    const srv = await server(port);
    const agent = await startAgent(['--port', String(port), '--exe-path', '**/curl']);
    try {
      await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/only-curl`]);
      await sleep(500);
    } finally {
      agent.child.kill('SIGINT');
      srv.close();
    }
    assert.equal(await agent.exited, 0, agent.stderr);
    assert.deepEqual(agent.transactions().map((t) => `${t.role} ${t.process} ${t.path}`), ['client curl /only-curl']);
  });
});
