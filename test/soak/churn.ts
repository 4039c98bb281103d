// Connection churn against the real agent: many short-lived connections,
// then thousands of idle keep-alive ones, then repeated cycles of both for a
// soak. Checks that every exchange is reported exactly, that the connections
// tracked in the kernel map and in JavaScript stay within --max-connections,
// and that the agent's memory does not grow from cycle to cycle.
// `npm run soak` runs it for 10 minutes; the test suite runs a short version.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, httpGet, startAgent, type RunningAgent } from '../support/agent';
import { spawn } from '../support/children';
import { poll, sleep } from '../support/wait';

export interface ChurnOptions {
  /** Short-lived connections of the first phase. */
  shortConnections: number;
  /** Idle keep-alive connections held open at once in the second phase. */
  idleConnections: number;
  /** max-connections of the agent (kernel map size and JavaScript bound). */
  maxConnections: number;
  /** Soak: cycles of (short, idle, release) repeated this long after the two phases. */
  soakMs: number;
  cycleShort: number;
  cycleIdle: number;
  log: (line: string) => void;
}

export interface ChurnSample {
  at: string;
  transactions: number;
  tracked: number;
  kernelEntries: number;
  evicted: number;
  rssMiB: number;
  heapUsedMiB: number;
}

export interface ChurnResult {
  samples: ChurnSample[];
  /** The soak cycles' samples only. */
  soak: ChurnSample[];
  kernelDrops: number;
}

/**
 * No leak over the soak: the live heap (each sample is taken right after a
 * full collection) of the second half of the cycles stays within 4 MiB of the
 * first half's lowest, and nothing is lost in the kernel.
 */
export function checkSoak(r: ChurnResult): { heapLowFirstMiB: number; heapLowSecondMiB: number; rssMinMiB: number; rssMaxMiB: number } {
  assert.ok(r.soak.length >= 2, `${r.soak.length} soak cycles`);
  const half = Math.floor(r.soak.length / 2);
  const low = (xs: ChurnSample[]) => Math.min(...xs.map((x) => x.heapUsedMiB));
  const out = {
    heapLowFirstMiB: low(r.soak.slice(0, half)),
    heapLowSecondMiB: low(r.soak.slice(half)),
    rssMinMiB: Math.min(...r.soak.map((x) => x.rssMiB)),
    rssMaxMiB: Math.max(...r.soak.map((x) => x.rssMiB)),
  };
  assert.equal(r.kernelDrops, 0);
  assert.ok(out.heapLowSecondMiB <= out.heapLowFirstMiB + 4, `live heap grew: ${JSON.stringify(out)}`);
  return out;
}

interface Stats {
  tracker: { http1: { transactions: number; unansweredRequests: number }; connectionsEvicted: number };
  connections: number;
  capture: { kernel: { ringbufDrops: number } };
  memory: { heapUsed: number; heapTotal: number; external: number; arrayBuffers: number; rss: number };
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Entries in the agent's connection map, read with bpftool. */
function kernelEntries(): number {
  const r = spawnSync('bpftool', ['-j', 'map', 'dump', 'name', 'sl_conns'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`bpftool map dump name sl_conns: ${r.stderr}`);
  return (JSON.parse(r.stdout) as unknown[]).length;
}

export async function runChurn(o: ChurnOptions): Promise<ChurnResult> {
  const peers = spawn('python3', [path.join(ROOT, 'test', 'fixtures', 'churn-peers.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: peers.stdout! })[Symbol.asyncIterator]();
  const next = async () => ((await lines.next()).value as string | undefined) ?? '';
  const command = async (cmd: string, reply: string) => {
    peers.stdin!.write(`${cmd}\n`);
    const line = await next();
    assert.equal(line, reply, `${cmd}: ${line}`);
  };
  const ready = (await next()).split(' ');
  assert.equal(ready[0], 'ready');
  const serverPid = Number(ready[2]);
  let agent: RunningAgent | undefined;
  const samples: ChurnSample[] = [];
  try {
    agent = await startAgent(['--output', 'none', '--pid', String(peers.pid), '--pid', String(serverPid)], 30_000, { SIDELIGHT_MAX_CONNECTIONS: String(o.maxConnections) });
    const a = agent;
    const stats = async () => JSON.parse((await httpGet(a.adminPort, '/stats')).body) as Stats;
    /** /stats after a full collection: heapUsed is then live data only. */
    const liveStats = async (): Promise<Stats> => {
      for (;;) {
        const r = await httpGet(a.adminPort, '/stats?gc');
        if (r.status === 200) return JSON.parse(r.body) as Stats;
        assert.equal(r.status, 429, r.body);
        await sleep(1000);
      }
    };
    let expected = 0;
    /** Waits until the agent has every transaction so far, then records a sample. */
    const settle = async (at: string): Promise<ChurnSample> => {
      await poll(async () => (await stats()).tracker.http1.transactions >= expected, 120_000, 200);
      await sleep(500);
      const s = await liveStats();
      assert.equal(s.tracker.http1.transactions, expected, `${at}: transactions (kernel drops ${s.capture.kernel.ringbufDrops})`);
      const sample = { at, transactions: s.tracker.http1.transactions, tracked: s.connections, kernelEntries: kernelEntries(), evicted: s.tracker.connectionsEvicted, rssMiB: Math.round(rssMiB(a.child.pid!) * 10) / 10, heapUsedMiB: Math.round(s.memory.heapUsed / 104857.6) / 10 };
      samples.push(sample);
      o.log(`${JSON.stringify(sample)} heapTotal ${Math.round(s.memory.heapTotal / 1048576)} MiB, external ${Math.round(s.memory.external / 1048576)} MiB, arrayBuffers ${Math.round(s.memory.arrayBuffers / 1048576)} MiB`);
      assert.ok(sample.tracked <= o.maxConnections, `${at}: ${sample.tracked} connections tracked in JavaScript`);
      assert.ok(sample.kernelEntries <= o.maxConnections, `${at}: ${sample.kernelEntries} kernel map entries`);
      return sample;
    };

    await command(`short ${o.shortConnections} 64`, `short ${o.shortConnections}`);
    expected += 2 * o.shortConnections;
    // Each end's entry goes when its socket reaches TCP_CLOSE, as the closes complete.
    for (let i = 0; i < 100 && kernelEntries() >= 64; i++) await sleep(200);
    const afterShort = await settle(`${o.shortConnections} short connections`);
    // With the map never full, closed connections are forgotten at their close, in the kernel and in JavaScript.
    assert.equal(afterShort.tracked, 0);
    assert.ok(afterShort.kernelEntries < 64, `${afterShort.kernelEntries} kernel entries 20 s after the last close`);

    await command(`idle ${o.idleConnections}`, `idle ${o.idleConnections}`);
    expected += 2 * o.idleConnections;
    const idle = await settle(`${o.idleConnections} idle keep-alive connections`);
    if (2 * o.idleConnections > o.maxConnections) assert.ok(idle.evicted > 0, 'the bound evicted the least recently seen');
    await command('release', `released ${o.idleConnections}`);
    await sleep(1000);
    // Under pressure past the bound, some entries outlive their sockets until the LRU reuses them
    // (seen: 273 of 4,096 twenty seconds after the release; the cause is not pinned down): bounded, as settle() checks.
    await settle('released');

    const soak: ChurnSample[] = [];
    const soakEnd = Date.now() + o.soakMs;
    for (let cycle = 1; cycle <= 2 || Date.now() < soakEnd; cycle++) {
      await command(`short ${o.cycleShort} 64`, `short ${o.cycleShort}`);
      await command(`idle ${o.cycleIdle}`, `idle ${o.cycleIdle}`);
      expected += 2 * (o.cycleShort + o.cycleIdle);
      await command('release', `released ${o.cycleIdle}`);
      await sleep(500);
      soak.push(await settle(`soak cycle ${cycle}`));
    }
    const end = await stats();
    return { samples, soak, kernelDrops: end.capture.kernel.ringbufDrops };
  } finally {
    peers.stdin!.end();
    if (agent) await agent.stop();
    if (peers.exitCode === null) await new Promise((r) => peers.once('exit', r));
    if (agent) assert.equal(await agent.exited, 0, agent.stderr);
  }
}

if (require.main === module) {
  const minutes = Number(process.argv[2] ?? 10);
  runChurn({
    shortConnections: 100_000,
    idleConnections: 10_000,
    maxConnections: 4096,
    soakMs: minutes * 60_000,
    cycleShort: 5000,
    cycleIdle: 2000,
    log: (l) => console.log(l),
  })
    .then((r) => console.log(`soak passed: ${r.soak.length} cycles, ${JSON.stringify(checkSoak(r))}`))
    .catch((err: Error) => {
      console.error(`soak failed: ${err.message}`);
      process.exit(1);
    });
}
