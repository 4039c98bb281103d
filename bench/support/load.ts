// Shared by the live benchmarks: the load generators (wrk, h2load) and their
// output, the nginx target, the agent's admin endpoint, and /proc readings.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Linux reports /proc CPU times in USER_HZ ticks, 100 per second on every architecture we run on. */
const CLK_TCK = 100;

export interface WrkResult {
  requests: number;
  rps: number;
  p50us: number;
  p99us: number;
}

export interface PacedResult extends WrkResult {
  failed: number;
}

/** How long a load generator may take past its own duration before it counts as hung. */
export const loadTimeoutMs = (seconds: number) => (seconds + 30) * 1000;

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function micros(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) throw new Error(`wrk latency not understood: ${v}`);
  const n = Number(m[1]);
  return m[2] === 'us' ? n : m[2] === 'ms' ? n * 1000 : n * 1e6;
}

export function wrkArgs(port: number, seconds: number, connections: number): string[] {
  return ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`];
}

export function parseWrk(stdout: string): WrkResult {
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(stdout)?.[1];
  const p99 = /^\s+99%\s+(\S+)/m.exec(stdout)?.[1];
  if (!requests || !rps || !p50 || !p99) throw new Error(`wrk output not understood:\n${stdout}`);
  return { requests, rps, p50us: micros(p50), p99us: micros(p99) };
}

/** Saturating keep-alive load: one wrk thread, `connections` connections. */
export async function wrk(port: number, seconds: number, connections: number): Promise<WrkResult> {
  const { stdout } = await run('wrk', wrkArgs(port, seconds, connections), { timeout: loadTimeoutMs(seconds) });
  return parseWrk(stdout);
}

/** h2load over HTTP/1.1 keep-alive, `rate` requests/s in all, each request's time in `log`. */
export function h2loadArgs(port: number, seconds: number, rate: number, clients: number, log: string): string[] {
  return ['--h1', `-c${clients}`, `--rps=${rate / clients}`, `-D${seconds}`, `--log-file=${log}`, `http://127.0.0.1:${port}/`];
}

/** h2load's counts from its summary, and exact percentiles from its per-request log (which it removes). */
export function parseH2load(stdout: string, log: string, seconds: number): PacedResult {
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

/**
 * A fixed rate that leaves CPU to spare: h2load --h1 keep-alive, `rate`
 * requests/s in all, its per-request log for exact percentiles.
 */
export async function fixedRate(port: number, seconds: number, rate: number, clients: number, dir: string): Promise<PacedResult> {
  const log = path.join(dir, `h2load-${Date.now()}.log`);
  const { stdout } = await run('h2load', h2loadArgs(port, seconds, rate, clients, log), { timeout: loadTimeoutMs(seconds) });
  return parseH2load(stdout, log, seconds);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export function getJson(port: number, p: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

/** The fields of the agent's /stats that the benchmarks compare. */
export interface AgentStats {
  capture: { kernel: { ringbufDrops: number } };
  tracker: { http1: { transactions: number } };
}

/** The agent as a user would run it: no output, only connections on `port` (both of their ends), admin on loopback. */
export function agentArgs(bin: string, port: number, admin: number): string[] {
  return [bin, 'run', '--output', 'none', '--port', String(port), '--admin-port', String(admin), '--admin-host', '127.0.0.1', '--log-level', 'warn'];
}

/** Polls /stats for up to 20 s; gives up early once `alive` says the agent is gone. */
export async function waitForStats(admin: number, alive: () => boolean = () => true): Promise<void> {
  for (let i = 0; i < 200 && alive(); i++) {
    try {
      await getJson(admin, '/stats');
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(alive() ? 'agent did not start' : 'agent exited before /stats answered');
}

/** nginx at its cheapest: one worker, no access log, keep-alive without limit, a 56-byte page. Returns the config's path. */
export function writeNginxSite(dir: string, port: number): string {
  writeFileSync(path.join(dir, 'index.html'), 'hello from nginx, a small static page for the benchmark\n');
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off; worker_processes 1; user root; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 256; }
http { access_log off; keepalive_requests 10000000;
  client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f; uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  server { listen 127.0.0.1:${port}; root ${dir}; } }\n`,
  );
  return conf;
}

/** The fields of /proc/PID/stat after the command name (which may itself hold spaces and parentheses). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
}

/** User plus system CPU time of the whole process (all its threads, living and exited). */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
}

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The pids whose parent is `parent` (nginx's workers under its master). */
export function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(statFields(Number(name))[1]) === parent) pids.push(Number(name));
    } catch {
      // gone between the listing and the read
    }
  }
  return pids;
}
