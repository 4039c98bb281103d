// Live overhead (root): wrk (keep-alive, saturating) and h2load at a fixed
// 20,000 req/s against nginx and against a Node http server, with and
// without the agent, alternating A/B over several rounds. The agent runs as a user would (`sidelight run --output none`,
// port filter on the target). Reports the throughput ratio, p50/p99 latency
// difference, agent CPU per 1,000 transactions, agent RSS, kernel drops, and
// whether the agent's server-side count equals wrk's.
// Usage: node dist/bench/live-overhead.js [seconds per run] [rounds] [connections]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentArgs, cpuSeconds, fixedRate, freePort, getJson, median, rssMiB, sleep, waitForStats, wrk, writeNginxSite, type AgentStats, type WrkResult } from './support/load';

const ROOT = path.join(__dirname, '..', '..');
/** The fixed rate of the paced runs (the 20,000 req/s drop target). */
const RATE = 20_000;

async function startAgent(port: number): Promise<{ child: ChildProcess; admin: number }> {
  const admin = await freePort();
  const child = spawn(process.execPath, agentArgs(path.join(ROOT, 'bin', 'sidelight.js'), port, admin), { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForStats(admin);
  return { child, admin };
}

interface Target {
  name: string;
  port: number;
  stop: () => void;
}

async function nginx(dir: string): Promise<Target> {
  const port = await freePort();
  const conf = writeNginxSite(dir, port);
  const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
  await sleep(500);
  return { name: 'nginx', port, stop: () => child.kill() };
}

async function nodeServer(): Promise<Target> {
  const port = await freePort();
  const script = `require('node:http').createServer((q, s) => { s.writeHead(200, { 'content-type': 'text/plain', 'content-length': 12 }); s.end('hello world\\n'); }).listen(${port}, '127.0.0.1');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  await sleep(500);
  return { name: 'node', port, stop: () => child.kill() };
}

interface RunB extends WrkResult {
  agentCpuSeconds: number;
  agentTransactions: number;
  rssMiB: number;
  drops: number;
}

async function withAgent(t: Target, load: () => Promise<WrkResult>): Promise<RunB> {
  const { child, admin } = await startAgent(t.port);
  await sleep(500);
  const pid = child.pid as number;
  const before = (await getJson(admin, '/stats')) as AgentStats;
  const cpu0 = cpuSeconds(pid);
  const w = await load();
  await sleep(300); // the last batches
  const cpu = cpuSeconds(pid) - cpu0;
  const after = (await getJson(admin, '/stats')) as AgentStats;
  const rss = rssMiB(pid);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return {
    ...w,
    agentCpuSeconds: cpu,
    agentTransactions: after.tracker.http1.transactions - before.tracker.http1.transactions,
    rssMiB: +rss.toFixed(1),
    drops: after.capture.kernel.ringbufDrops - before.capture.kernel.ringbufDrops,
  };
}

/** `rounds` runs of `load` without and with the agent, alternating which goes first so drift (thermal, caches) hits both. */
async function alternate(t: Target, rounds: number, load: () => Promise<WrkResult>): Promise<[WrkResult[], RunB[]]> {
  const without: WrkResult[] = [];
  const withIt: RunB[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      without.push(await load());
      withIt.push(await withAgent(t, load));
    } else {
      withIt.push(await withAgent(t, load));
      without.push(await load());
    }
  }
  return [without, withIt];
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const rounds = Number(process.argv[3] ?? 3);
  const connections = Number(process.argv[4] ?? 8);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-bench-'));
  const out: Record<string, unknown> = {};
  try {
    for (const make of [() => nginx(dir), () => nodeServer()]) {
      const t = await make();
      await wrk(t.port, 1, connections); // warm-up
      const [a, b] = await alternate(t, rounds, () => wrk(t.port, seconds, connections));
      const [fa, fb] = await alternate(t, rounds, () => fixedRate(t.port, seconds, RATE, connections, dir));
      t.stop();
      const rpsA = median(a.map((x) => x.rps));
      const rpsB = median(b.map((x) => x.rps));
      out[t.name] = {
        rounds: a.map((x, i) => ({ without: x, with: b[i] })),
        throughputRatio: +(rpsB / rpsA).toFixed(4),
        p50AddedUs: +(median(b.map((x) => x.p50us)) - median(a.map((x) => x.p50us))).toFixed(1),
        p99AddedUs: +(median(b.map((x) => x.p99us)) - median(a.map((x) => x.p99us))).toFixed(1),
        // µs per transaction = ms per 1,000 transactions.
        agentCpuMsPer1000Transactions: +median(b.map((x) => (x.agentCpuSeconds * 1e6) / x.agentTransactions)).toFixed(2),
        agentRssMiB: Math.max(...b.map((x) => x.rssMiB)),
        kernelDrops: b.reduce((n, x) => n + x.drops, 0),
        // Each request is two transactions (wrk's client side and the server's);
        // wrk does not count requests still in flight when its time is up.
        transactionsMinusTwiceWrkRequests: b.map((x) => x.agentTransactions - 2 * x.requests),
        fixedRate: {
          requestsPerSecond: RATE,
          rounds: fa.map((x, i) => ({ without: x, with: fb[i] })),
          p50AddedUs: median(fb.map((x) => x.p50us)) - median(fa.map((x) => x.p50us)),
          p99AddedUs: median(fb.map((x) => x.p99us)) - median(fa.map((x) => x.p99us)),
          agentCpuMsPer1000Transactions: +median(fb.map((x) => (x.agentCpuSeconds * 1e6) / x.agentTransactions)).toFixed(2),
          agentRssMiB: Math.max(...fb.map((x) => x.rssMiB)),
          kernelDrops: fb.reduce((n, x) => n + x.drops, 0),
          transactionsMinusTwiceRequests: fb.map((x) => x.agentTransactions - 2 * x.requests),
        },
      };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify({ seconds, rounds, connections, node: process.version, kernel: os.release(), results: out }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
