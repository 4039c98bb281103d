// Live overhead (root): wrk (keep-alive, saturating) and h2load at a fixed
// 20,000 req/s against nginx and against a Node http server, with and
// without the agent, alternating A/B over several rounds. The agent runs as a user would (`sidelight run --output none`,
// port filter on the target). Reports the throughput ratio, p50/p99 latency
// difference, agent CPU per 1,000 transactions, agent RSS, kernel drops, and
// whether the agent's server-side count equals wrk's.
// Usage: node dist/bench/live-overhead.js [seconds per run] [rounds] [connections]
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROOT = path.join(__dirname, '..', '..');
/** The fixed rate of the paced runs (the 20,000 req/s drop target). */
const RATE = 20_000;
const CLK_TCK = 100;

interface WrkResult {
  requests: number;
  rps: number;
  p50us: number;
  p99us: number;
}

function micros(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) throw new Error(`wrk latency not understood: ${v}`);
  const n = Number(m[1]);
  return m[2] === 'us' ? n : m[2] === 'ms' ? n * 1000 : n * 1e6;
}

async function wrk(port: number, seconds: number, connections: number): Promise<WrkResult> {
  const { stdout } = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`], { timeout: (seconds + 30) * 1000 });
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(stdout)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(stdout)?.[1];
  if (!requests || !rps || !p50 || !p99) throw new Error(`wrk output not understood:\n${stdout}`);
  return { requests, rps, p50us: micros(p50), p99us: micros(p99) };
}

/**
 * A fixed rate that leaves CPU to spare: h2load --h1 keep-alive, `rate`
 * requests/s in all, its per-request log for exact percentiles.
 */
async function fixedRate(port: number, seconds: number, rate: number, clients: number, dir: string): Promise<WrkResult & { failed: number }> {
  const log = path.join(dir, `h2load-${Date.now()}.log`);
  const { stdout } = await run(
    'h2load',
    ['--h1', `-c${clients}`, `--rps=${rate / clients}`, `-D${seconds}`, `--log-file=${log}`, `http://127.0.0.1:${port}/`],
    { timeout: (seconds + 30) * 1000 },
  );
  const m = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(stdout);
  if (!m) throw new Error(`h2load output not understood:\n${stdout}`);
  const times = readFileSync(log, 'latin1')
    .trim()
    .split('\n')
    .map((l) => Number(l.split('\t')[2]))
    .sort((a, b) => a - b);
  rmSync(log, { force: true });
  const pct = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { requests: Number(m[3]), rps: Number(m[3]) / seconds, p50us: pct(0.5), p99us: pct(0.99), failed: Number(m[4]) };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function getJson(port: number, p: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface AgentStats {
  capture: { kernel: { ringbufDrops: number } };
  tracker: { http1: { transactions: number } };
}

async function startAgent(port: number): Promise<{ child: ChildProcess; admin: number }> {
  const admin = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'sidelight.js'), 'run', '--output', 'none', '--port', String(port), '--admin-port', String(admin), '--admin-host', '127.0.0.1', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    try {
      await getJson(admin, '/stats');
      return { child, admin };
    } catch {
      await sleep(100);
    }
  }
  throw new Error('agent did not start');
}

interface Target {
  name: string;
  port: number;
  stop: () => void;
}

async function nginx(dir: string): Promise<Target> {
  const port = await freePort();
  writeFileSync(path.join(dir, 'index.html'), 'hello from nginx, a small static page for the benchmark\n');
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off; worker_processes 1; user root; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 256; }
http { access_log off; keepalive_requests 10000000;
  client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  server { listen 127.0.0.1:${port}; root ${dir}; } }\n`,
  );
  const child = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
