// Least privilege, read from the kernel's view of the running agent: once
// its programs are attached every thread keeps only the capabilities still
// needed, and the admin server listens on loopback unless told otherwise.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { PrivilegeReport } from '../../src/capture/privileges';
import { BIN, RunningAgent, freePort, httpGet } from '../support/agent';
import { spawn } from '../support/children';
import { bpfSkip } from '../support/requirements';

const run = promisify(execFile);
const skip = bpfSkip();

const CAP_SYS_PTRACE = 1n << 19n;
const CAP_SYS_ADMIN = 1n << 21n;
/** Node 22.14+ can run without its SIGUSR1 inspector thread (which blocks every signal); the agent re-executes itself so. */
const NO_SIGUSR1_THREAD = process.allowedNodeEnvironmentFlags.has('--disable-sigusr1') && typeof (process as { execve?: unknown }).execve === 'function';

interface ThreadStatus {
  tid: number;
  CapInh: bigint;
  CapPrm: bigint;
  CapEff: bigint;
  CapBnd: bigint;
  CapAmb: bigint;
  SigBlk: bigint;
  NoNewPrivs: bigint;
}

function threads(pid: number): ThreadStatus[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const text = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const field = (name: string, radix: 16 | 10) => {
      const m = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(text);
      assert.ok(m, `${name} in /proc/${pid}/task/${tid}/status`);
      return radix === 16 ? BigInt(`0x${m[1]}`) : BigInt(m[1]);
    };
    return {
      tid: Number(tid),
      CapInh: field('CapInh', 16),
      CapPrm: field('CapPrm', 16),
      CapEff: field('CapEff', 16),
      CapBnd: field('CapBnd', 16),
      CapAmb: field('CapAmb', 16),
      SigBlk: field('SigBlk', 16),
      NoNewPrivs: field('NoNewPrivs', 10),
    };
  });
}

/** Listening TCP sockets on `port` as "address:port" strings, from /proc/net/tcp{,6}. */
function listeners(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue;
      const [addr, p] = f[1].split(':');
      if (parseInt(p, 16) === port) out.push(`${addr}:${port}`);
    }
  }
  return out;
}

async function startPlain(args: string[]): Promise<RunningAgent> {
  const adminPort = await freePort();
  // No --admin-host: the default is under test.
  const child = spawn(process.execPath, [BIN, 'run', '--output', 'json', '--admin-port', String(adminPort), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const agent = new RunningAgent(child, adminPort);
  await agent.ready();
  return agent;
}

async function privilegesOf(agent: RunningAgent): Promise<PrivilegeReport> {
  const r = await httpGet(agent.adminPort, '/stats');
  return (JSON.parse(r.body) as { privileges: PrivilegeReport }).privileges;
}

/** Every thread holds exactly `keep` (the one signal-blocking thread of an older Node excepted, and asserted as such). */
function assertThreads(pid: number, keep: bigint, p: PrivilegeReport): void {
  const all = threads(pid);
  const wider = all.filter((t) => t.CapPrm !== keep || t.CapEff !== keep);
  if (NO_SIGUSR1_THREAD) {
    assert.deepEqual(wider.map((t) => t.tid), [], 'every thread dropped');
    assert.equal(p.blocked, 0);
  } else {
    // Node's SIGUSR1 inspector thread: every catchable signal blocked, so it never ran the handler.
    assert.equal(wider.length, 1, `one thread kept its set: ${wider.map((t) => t.tid).join(',')}`);
    assert.equal(wider[0].SigBlk & (1n << 62n), 1n << 62n, 'it blocks the real-time signals');
    assert.equal(p.blocked, 1);
  }
  assert.equal(p.failed, 0);
  for (const t of all.filter((t) => !wider.includes(t))) {
    assert.equal(t.CapBnd, keep, `bounding set of thread ${t.tid}`);
    assert.equal(t.CapInh, 0n);
    assert.equal(t.CapAmb, 0n);
    assert.equal(t.NoNewPrivs, 1n);
  }
  assert.equal(p.boundingDropped, true);
  assert.ok(p.threads >= all.length - 1, `${p.threads} threads looked at, ${all.length} now`);
}

describe('least privilege', { skip }, () => {
  it('with TLS on: only CAP_SYS_PTRACE and CAP_SYS_ADMIN stay, in every thread; capture still exact; admin on loopback', async () => {
    const port = await freePort();
    const srv = http.createServer((_req, res) => res.writeHead(200, { 'content-length': 2 }).end('ok'));
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    const agent = await startPlain(['--port', String(port)]);
    try {
      const p = await privilegesOf(agent);
      assert.deepEqual(p.kept, ['CAP_SYS_PTRACE', 'CAP_SYS_ADMIN']);
      assert.deepEqual(p.bounding, ['CAP_SYS_PTRACE', 'CAP_SYS_ADMIN']);
      assertThreads(agent.child.pid!, CAP_SYS_PTRACE | CAP_SYS_ADMIN, p);
      assert.deepEqual(listeners(agent.adminPort), [`0100007F:${agent.adminPort}`]);
      // After the drop: the ring buffer, the stats map and the parsers all still work.
      for (let i = 0; i < 3; i++) await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/after-drop/${i}`]);
      await agent.waitFor(6, (tx) => tx.path.startsWith('/after-drop/'));
      const s = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { capture: { kernel: { ringbufDrops: number } } };
      assert.equal(s.capture.kernel.ringbufDrops, 0);
    } finally {
      const { code } = await agent.stop();
      srv.close();
      assert.equal(code, 0, agent.stderr);
    }
    const txs = agent.transactions().filter((tx) => tx.path.startsWith('/after-drop/'));
    assert.deepEqual(txs.map((tx) => `${tx.role} ${tx.path} ${tx.status}`).sort(), [0, 0, 1, 1, 2, 2].map((i, k) => `${k % 2 ? 'server' : 'client'} /after-drop/${i} 200`).sort());
    const logs = agent.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; kept?: string[] });
    assert.deepEqual(logs.find((l) => l.msg === 'capabilities dropped')?.kept, ['CAP_SYS_PTRACE', 'CAP_SYS_ADMIN']);
  });

  it('with TLS off: only CAP_SYS_PTRACE stays', async () => {
    const agent = await startPlain(['--no-tls', '--port', String(await freePort())]);
    try {
      const p = await privilegesOf(agent);
      assert.deepEqual(p.kept, ['CAP_SYS_PTRACE']);
      assertThreads(agent.child.pid!, CAP_SYS_PTRACE, p);
    } finally {
      const { code } = await agent.stop();
      assert.equal(code, 0, agent.stderr);
    }
  });

  it('--admin-host 0.0.0.0 listens on every address when asked', async () => {
    const agent = await startPlain(['--no-tls', '--port', String(await freePort()), '--admin-host', '0.0.0.0']);
    try {
      assert.deepEqual(listeners(agent.adminPort), [`00000000:${agent.adminPort}`]);
    } finally {
      await agent.stop();
    }
  });
});
