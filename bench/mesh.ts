// Sidelight against a two-hop sidecar mesh (root). One nginx serves three
// kinds of configuration under the same client load:
//   bare:            client -> nginx
//   mesh:            client -> HAProxy (client sidecar) -> HAProxy (server sidecar) -> nginx
//   sidelight[NAME]: client -> nginx, with the agent NAME watching the nginx port
// Two loads each: wrk saturating (8 connections) and h2load paced at --rate
// req/s. Every round runs every configuration once per load, in an order
// rotated each round so drift hits all alike. Per run: throughput and
// latency, the observer's CPU and RSS (the agent, or both HAProxys), the CPU
// of nginx's worker and of the load generator (to see what the observer costs
// inside the applications: BPF programs run there), and for the agent its
// kernel drops, transaction count and per-program BPF run time (with
// kernel.bpf_stats_enabled on for the whole benchmark, which itself adds a
// clock read or two to each program run).
// Prints a JSON object on stdout and a markdown summary on stderr.
// Usage: node dist/bench/mesh.js [--seconds 5] [--rounds 3] [--rate 4000] [--agent NAME=PATH ...]
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  agentArgs,
  childPids,
  cpuSeconds,
  freePort,
  getJson,
  h2loadArgs,
  loadTimeoutMs,
  median,
  parseH2load,
  parseWrk,
  rssMiB,
  sleep,
  waitForStats,
  wrk,
  wrkArgs,
  writeNginxSite,
  type AgentStats,
  type WrkResult,
} from './support/load';
import {
  bpfCounters,
  enableBpfStats,
  heldPrograms,
  programCosts,
  runBenchmark,
  setWorkDir,
  signalGroup,
  spawnTracked,
  stopChild,
  waitForPort,
  type ProgramCost,
  type ProgramCounters,
} from './support/processes';
import { parseAgent, positive, type Agent } from './support/agents';

const ROOT = path.join(__dirname, '..', '..');
/** Client connections, for both loads (as in live-overhead). */
const CONNECTIONS = 8;
const TOOLS = ['wrk', 'h2load', 'nginx', 'haproxy', 'bpftool', '/usr/bin/time'];

// ---- options ---------------------------------------------------------------

interface Options {
  seconds: number;
  rounds: number;
  rate: number;
  agents: Agent[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      rate: { type: 'string' },
      agent: { type: 'string', multiple: true },
    },
  });
  const agents = (values.agent ?? [`now=${path.join(ROOT, 'bin', 'sidelight.js')}`]).map(parseAgent);
  if (new Set(agents.map((a) => a.name)).size !== agents.length) throw new Error('--agent names must differ');
  return {
    seconds: positive('seconds', values.seconds, 5),
    rounds: Math.round(positive('rounds', values.rounds, 3)),
    rate: positive('rate', values.rate, 4000),
    agents,
  };
}

/** Fails with one line when a precondition is missing, before anything starts. */
function checkRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('must run as root (it loads kernel programs and reads other processes in /proc)');
}

function checkTools(): void {
  const missing = TOOLS.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')} (Debian: apt-get install wrk nghttp2-client nginx-light haproxy bpftool time)`);
}

// ---- the processes under test -----------------------------------------------

interface Nginx {
  port: number;
  worker: number;
}

async function startNginx(dir: string): Promise<Nginx> {
  const port = await freePort();
  const master = spawnTracked('nginx', ['-c', writeNginxSite(dir, port), '-p', dir]);
  await waitForPort(port, 'nginx', master);
  const workers = childPids(master.pid as number);
  if (workers.length !== 1) throw new Error(`nginx: expected one worker, found ${workers.length}`);
  return { port, worker: workers[0]! };
}

interface Sidecar {
  name: string;
  pid: number;
  port: number;
  socket: string;
}

/** HTTP-aware proxy, keep-alive on both sides, one thread, no logging: a sidecar at its cheapest. */
function haproxyConfig(listen: number, upstream: number, socket: string): string {
  return `global
  nbthread 1
  maxconn 4096
  stats socket ${socket} mode 600 level user
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  timeout http-request 10s
frontend in
  bind 127.0.0.1:${listen}
  default_backend out
backend out
  server up 127.0.0.1:${upstream}
`;
}

async function startSidecar(dir: string, name: string, upstream: number): Promise<Sidecar> {
  const port = await freePort();
  const socket = path.join(dir, `${name}.sock`);
  const cfg = path.join(dir, `${name}.cfg`);
  writeFileSync(cfg, haproxyConfig(port, upstream, socket));
  const child = spawnTracked('haproxy', ['-f', cfg, '-db']);
  await waitForPort(port, `haproxy ${name}`, child);
  return { name, pid: child.pid as number, port, socket };
}

/** The two sidecars, server side first so that the client side has somewhere to forward. */
async function startMesh(dir: string, nginxPort: number): Promise<Sidecar[]> {
  const server = await startSidecar(dir, 'server-sidecar', nginxPort);
  const client = await startSidecar(dir, 'client-sidecar', server.port);
  return [client, server];
}

function haproxyCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const s = net.connect(socket, () => s.write(`${command}\n`));
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

interface BackendCounters {
  connects: number;
  reuses: number;
}

/** New upstream connections vs requests sent on an idle one: whether the sidecar really keeps its upstream alive. */
async function backendCounters(sidecar: Sidecar): Promise<BackendCounters> {
  const [header, ...rows] = (await haproxyCommand(sidecar.socket, 'show stat')).trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const row = rows.map((r) => r.split(',')).find((r) => r[0] === 'out' && r[1] === 'up');
  if (!row) throw new Error(`haproxy ${sidecar.name}: no stats for its upstream`);
  const field = (name: string) => Number(row[columns.indexOf(name)]);
  return { connects: field('connect'), reuses: field('reuse') };
}

// ---- the agent and its BPF programs -------------------------------------------

interface RunningAgent {
  child: ChildProcess;
  pid: number;
  admin: number;
  programs: number[];
  stderrTail: () => string;
}

async function startAgent(agent: Agent, port: number): Promise<RunningAgent> {
  const admin = await freePort();
  const child = spawnTracked(process.execPath, agentArgs(agent.bin, port, admin), 'pipe');
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-4000)));
  child.stdout?.resume();
  const alive = () => child.exitCode === null && child.signalCode === null;
  const fail = async (why: string) => {
    await stopChild(child);
    return new Error(`${agent.name} (${agent.bin}): ${why}\n${tail}`);
  };
  try {
    await waitForStats(admin, alive);
  } catch (err) {
    throw await fail((err as Error).message);
  }
  await sleep(500); // as live-overhead: let start-up work (TLS library scan) settle
  if (!alive()) throw await fail(`the agent exited (${child.exitCode ?? child.signalCode}) after /stats answered`);
  const pid = child.pid as number;
  return { child, pid, admin, programs: heldPrograms(pid), stderrTail: () => tail };
}

// ---- loads --------------------------------------------------------------------

type LoadName = 'saturating' | 'paced';
const LOADS: LoadName[] = ['saturating', 'paced'];

interface LoadRun extends WrkResult {
  failed?: number;
  clientCpuSeconds: number;
}

/**
 * Runs a load generator under GNU time: its user+system time comes from
 * wait4's rusage, which /proc can no longer give once the process is gone.
 */
async function timed(file: string, args: string[], seconds: number, dir: string): Promise<{ stdout: string; cpuSeconds: number }> {
  const times = path.join(dir, `time-${Date.now()}.txt`);
  const child = spawnTracked('/usr/bin/time', ['-f', '%U %S', '-o', times, file, ...args], 'pipe');
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), loadTimeoutMs(seconds));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${file} exited with ${code}:\n${stderr}${stdout}`);
  // GNU time's last line is the format; earlier ones may report a status.
  const [user, system] = readFileSync(times, 'latin1').trim().split('\n').pop()!.split(' ').map(Number);
  rmSync(times, { force: true });
  return { stdout, cpuSeconds: user! + system! };
}

async function runLoad(load: LoadName, port: number, o: Options, dir: string): Promise<LoadRun> {
  if (load === 'saturating') {
    const { stdout, cpuSeconds } = await timed('wrk', wrkArgs(port, o.seconds, CONNECTIONS), o.seconds, dir);
    return { ...parseWrk(stdout), clientCpuSeconds: cpuSeconds };
  }
  const log = path.join(dir, `h2load-${Date.now()}.log`);
  const { stdout, cpuSeconds } = await timed('h2load', h2loadArgs(port, o.seconds, o.rate, CONNECTIONS, log), o.seconds, dir);
  return { ...parseH2load(stdout, log, o.seconds), clientCpuSeconds: cpuSeconds };
}

// ---- one run --------------------------------------------------------------------

type Configuration = { kind: 'bare' } | { kind: 'mesh' } | { kind: 'sidelight'; agent: Agent };

const label = (c: Configuration) => (c.kind === 'sidelight' ? `sidelight[${c.agent.name}]` : c.kind);

interface AgentMeasures {
  transactions: number;
  transactionsMinusTwiceRequests: number;
  drops: number;
  bpfNsPerRequest: number;
  bpfPrograms: Record<string, ProgramCost>;
}

interface Run {
  round: number;
  load: LoadName;
  configuration: string;
  requests: number;
  rps: number;
  p50us: number;
  p99us: number;
  failed?: number;
  serverCpuUsPerRequest: number;
  clientCpuUsPerRequest: number;
  observerCpuUsPerRequest: number | null;
  observerRssMiB: number | null;
  agent?: AgentMeasures;
  sidecars?: Record<string, BackendCounters>;
}

interface Bench {
  options: Options;
  dir: string;
  nginx: Nginx;
  mesh: Sidecar[];
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const usPer = (seconds: number, requests: number) => +((seconds * 1e6) / requests).toFixed(2);

async function meshCounters(mesh: Sidecar[]): Promise<Record<string, BackendCounters>> {
  const out: Record<string, BackendCounters> = {};
  for (const s of mesh) out[s.name] = await backendCounters(s);
  return out;
}

function counterDelta(before: Record<string, BackendCounters>, after: Record<string, BackendCounters>): Record<string, BackendCounters> {
  const out: Record<string, BackendCounters> = {};
  for (const [name, a] of Object.entries(after)) {
    const b = before[name] ?? { connects: 0, reuses: 0 };
    out[name] = { connects: a.connects - b.connects, reuses: a.reuses - b.reuses };
  }
  return out;
}

interface AgentProbe {
  stats: AgentStats;
  bpf: Map<number, ProgramCounters>;
}

async function agentStats(agent: RunningAgent): Promise<AgentStats> {
  const { exitCode, signalCode } = agent.child;
  if (exitCode !== null || signalCode !== null) throw new Error(`the agent exited (${exitCode ?? signalCode}) during the run:\n${agent.stderrTail()}`);
  return (await getJson(agent.admin, '/stats')) as AgentStats;
}

function agentMeasures(before: AgentProbe, after: AgentProbe, requests: number): AgentMeasures {
  const transactions = after.stats.tracker.http1.transactions - before.stats.tracker.http1.transactions;
  const bpfPrograms = programCosts(before.bpf, after.bpf, requests);
  return {
    transactions,
    // Both ends of each exchange are on the watched port: the client's and nginx's.
    transactionsMinusTwiceRequests: transactions - 2 * requests,
    drops: after.stats.capture.kernel.ringbufDrops - before.stats.capture.kernel.ringbufDrops,
    bpfNsPerRequest: +(sum(Object.values(bpfPrograms).map((p) => p.ns)) / requests).toFixed(1),
    bpfPrograms,
  };
}

/** One load against one configuration; the observers' readings bracket the load as tightly as they can. */
async function measureWith(b: Bench, config: Configuration, load: LoadName, round: number, agent: RunningAgent | undefined): Promise<Run> {
  const observers = config.kind === 'mesh' ? b.mesh.map((s) => s.pid) : agent ? [agent.pid] : [];
  const port = config.kind === 'mesh' ? b.mesh[0]!.port : b.nginx.port;
  const sidecars0 = config.kind === 'mesh' ? await meshCounters(b.mesh) : undefined;
  const probe0 = agent ? { stats: await agentStats(agent), bpf: bpfCounters(agent.programs) } : undefined;
  const server0 = cpuSeconds(b.nginx.worker);
  const observer0 = sum(observers.map(cpuSeconds));

  const result = await runLoad(load, port, b.options, b.dir);

  const server = cpuSeconds(b.nginx.worker) - server0;
  // At once: our programs also run on every other syscall of the machine.
  const bpf1 = agent ? bpfCounters(agent.programs) : undefined;
  if (agent) await sleep(300); // the last batches still on their way to the agent
  const probe1 = agent && bpf1 ? { stats: await agentStats(agent), bpf: bpf1 } : undefined;
  const observer = sum(observers.map(cpuSeconds)) - observer0;
  const { clientCpuSeconds, ...figures } = result;
  const run: Run = {
    round,
    load,
    configuration: label(config),
    ...figures,
    serverCpuUsPerRequest: usPer(server, result.requests),
    clientCpuUsPerRequest: usPer(clientCpuSeconds, result.requests),
    observerCpuUsPerRequest: observers.length > 0 ? usPer(observer, result.requests) : null,
    observerRssMiB: observers.length > 0 ? +sum(observers.map(rssMiB)).toFixed(1) : null,
  };
  if (sidecars0) run.sidecars = counterDelta(sidecars0, await meshCounters(b.mesh));
  if (probe0 && probe1) run.agent = agentMeasures(probe0, probe1, result.requests);
  return run;
}

/** A fresh agent per run, so that no run inherits another's connections or heap. */
async function measure(b: Bench, config: Configuration, load: LoadName, round: number): Promise<Run> {
  const agent = config.kind === 'sidelight' ? await startAgent(config.agent, b.nginx.port) : undefined;
  try {
    return await measureWith(b, config, load, round, agent);
  } finally {
    if (agent) await stopChild(agent.child);
  }
}

function progress(r: Run): void {
  const parts = [`${r.requests} req`, `${Math.round(r.rps)} req/s`, `p50 ${r.p50us} µs`, `p99 ${r.p99us} µs`];
  if (r.agent) parts.push(`transactions − 2×requests ${r.agent.transactionsMinusTwiceRequests}`, `drops ${r.agent.drops}`);
  if (r.sidecars) parts.push(...Object.entries(r.sidecars).map(([n, c]) => `${n} upstream connects ${c.connects}, reuses ${c.reuses}`));
  process.stderr.write(`round ${r.round} ${r.load} ${r.configuration}: ${parts.join(', ')}\n`);
}

/** Each round runs every configuration once per load, the order shifted by one each round. */
async function allRounds(b: Bench, configs: Configuration[]): Promise<Run[]> {
  const runs: Run[] = [];
  for (let round = 1; round <= b.options.rounds; round++) {
    const order = configs.map((_, i) => configs[(i + round - 1) % configs.length]!);
    for (const load of LOADS) {
      for (const config of order) {
        const run = await measure(b, config, load, round);
        progress(run);
        runs.push(run);
      }
    }
  }
  return runs;
}

// ---- summary ----------------------------------------------------------------------

interface ProgramSummary {
  nsPerRun: number | null;
  runsPerRequest: number;
}

interface Summary {
  requestsPerSecond: number;
  throughputKept: number;
  p50us: number;
  p99us: number;
  p50AddedUs: number;
  p99AddedUs: number;
  observerCpuUsPerRequest: number | null;
  serverCpuUsPerRequest: number;
  serverCpuAddedUsPerRequest: number;
  clientCpuUsPerRequest: number;
  clientCpuAddedUsPerRequest: number;
  observerRssMiB: number | null;
  kernelDrops?: number;
  transactionsMinusTwiceRequests?: number[];
  bpfNsPerRequest?: number;
  bpfPrograms?: Record<string, ProgramSummary>;
  sidecarUpstream?: Record<string, { connects: number[]; reuses: number[] }>;
}

const round2 = (n: number) => +n.toFixed(2);
const medianOrNull = (xs: (number | null)[]) => {
  const known = xs.filter((x): x is number => x !== null);
  return known.length > 0 ? round2(median(known)) : null;
};

/** Median over rounds of the difference to bare in the same round and load: drift between rounds cancels. */
function pairedMedian(runs: Run[], bare: Run[], f: (r: Run) => number): number {
  return round2(median(runs.map((r) => f(r) - f(bare.find((x) => x.round === r.round)!))));
}

function programSummary(runs: AgentMeasures[]): Record<string, ProgramSummary> {
  const names = [...new Set(runs.flatMap((a) => Object.keys(a.bpfPrograms)))].sort();
  const out: Record<string, ProgramSummary> = {};
  for (const name of names) {
    const costs = runs.map((a) => a.bpfPrograms[name]).filter((c): c is ProgramCost => c !== undefined);
    out[name] = { nsPerRun: medianOrNull(costs.map((c) => c.nsPerRun)), runsPerRequest: +median(costs.map((c) => c.runsPerRequest)).toFixed(3) };
  }
  return out;
}

function summarizeOne(runs: Run[], bare: Run[]): Summary {
  const s: Summary = {
    requestsPerSecond: Math.round(median(runs.map((r) => r.rps))),
    throughputKept: +median(runs.map((r) => r.rps / bare.find((x) => x.round === r.round)!.rps)).toFixed(4),
    p50us: median(runs.map((r) => r.p50us)),
    p99us: median(runs.map((r) => r.p99us)),
    p50AddedUs: pairedMedian(runs, bare, (r) => r.p50us),
    p99AddedUs: pairedMedian(runs, bare, (r) => r.p99us),
    observerCpuUsPerRequest: medianOrNull(runs.map((r) => r.observerCpuUsPerRequest)),
    serverCpuUsPerRequest: median(runs.map((r) => r.serverCpuUsPerRequest)),
    serverCpuAddedUsPerRequest: pairedMedian(runs, bare, (r) => r.serverCpuUsPerRequest),
    clientCpuUsPerRequest: median(runs.map((r) => r.clientCpuUsPerRequest)),
    clientCpuAddedUsPerRequest: pairedMedian(runs, bare, (r) => r.clientCpuUsPerRequest),
    observerRssMiB: medianOrNull(runs.map((r) => r.observerRssMiB)),
  };
  const agents = runs.map((r) => r.agent).filter((a): a is AgentMeasures => a !== undefined);
  if (agents.length > 0) {
    s.kernelDrops = sum(agents.map((a) => a.drops));
    s.transactionsMinusTwiceRequests = agents.map((a) => a.transactionsMinusTwiceRequests);
    s.bpfNsPerRequest = +median(agents.map((a) => a.bpfNsPerRequest)).toFixed(1);
    s.bpfPrograms = programSummary(agents);
  }
  const sidecars = runs.map((r) => r.sidecars).filter((c): c is Record<string, BackendCounters> => c !== undefined);
  if (sidecars.length > 0) {
    s.sidecarUpstream = {};
    for (const name of Object.keys(sidecars[0]!)) s.sidecarUpstream[name] = { connects: sidecars.map((c) => c[name]!.connects), reuses: sidecars.map((c) => c[name]!.reuses) };
  }
  return s;
}

type Summaries = Record<LoadName, Record<string, Summary>>;

function summarize(runs: Run[], configs: Configuration[]): Summaries {
  const out = { saturating: {}, paced: {} } as Summaries;
  for (const load of LOADS) {
    const ofLoad = runs.filter((r) => r.load === load);
    const bare = ofLoad.filter((r) => r.configuration === 'bare');
    for (const c of configs) out[load][label(c)] = summarizeOne(ofLoad.filter((r) => r.configuration === label(c)), bare);
  }
  return out;
}

// ---- markdown -------------------------------------------------------------------------

const num = (n: number | null | undefined, digits = 1) => (n === null || n === undefined ? '–' : n.toFixed(digits));
const signed = (n: number, digits = 1) => (n >= 0 ? `+${n.toFixed(digits)}` : n.toFixed(digits));
const cell = (value: number, added: number, isBare: boolean, digits = 1) => (isBare ? num(value, digits) : `${num(value, digits)} (${signed(added, digits)})`);

function mainTable(s: Summaries): string[] {
  const lines = [
    '| configuration | load | req/s | kept | p50 µs (vs bare) | p99 µs (vs bare) | observer CPU µs/req | nginx CPU µs/req (vs bare) | client CPU µs/req (vs bare) | observer RSS MiB | BPF ns/req | drops | transactions − 2×requests |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const load of LOADS) {
    for (const [name, x] of Object.entries(s[load])) {
      const bare = name === 'bare';
      lines.push(
        `| ${name} | ${load} | ${x.requestsPerSecond} | ${(x.throughputKept * 100).toFixed(1)} % | ${cell(x.p50us, x.p50AddedUs, bare, 0)} | ${cell(x.p99us, x.p99AddedUs, bare, 0)} | ${num(x.observerCpuUsPerRequest, 2)} | ${cell(x.serverCpuUsPerRequest, x.serverCpuAddedUsPerRequest, bare, 2)} | ${cell(x.clientCpuUsPerRequest, x.clientCpuAddedUsPerRequest, bare, 2)} | ${num(x.observerRssMiB)} | ${num(x.bpfNsPerRequest, 0)} | ${x.kernelDrops ?? '–'} | ${x.transactionsMinusTwiceRequests?.join(', ') ?? '–'} |`,
      );
    }
  }
  return lines;
}

function programTable(s: Summaries): string[] {
  const lines = ['| agent | program | ns/run (saturating) | runs/req (saturating) | ns/run (paced) | runs/req (paced) |', '|---|---|---|---|---|---|'];
  for (const [name, sat] of Object.entries(s.saturating)) {
    const paced = s.paced[name]?.bpfPrograms ?? {};
    for (const [prog, c] of Object.entries(sat.bpfPrograms ?? {})) {
      const p = paced[prog];
      if (c.nsPerRun === null && (p?.nsPerRun ?? null) === null) continue; // never ran (TLS probes, unused syscalls)
      lines.push(`| ${name} | ${prog} | ${num(c.nsPerRun, 0)} | ${num(c.runsPerRequest, 2)} | ${num(p?.nsPerRun, 0)} | ${num(p?.runsPerRequest, 2)} |`);
    }
  }
  return lines;
}

function markdown(o: Options, s: Summaries): string {
  return [
    `Medians of ${o.rounds} round(s), ${o.seconds} s per run, ${CONNECTIONS} connections; saturating = wrk, paced = h2load at ${o.rate} req/s; "vs bare" = median of the per-round differences.`,
    '',
    ...mainTable(s),
    '',
    ...programTable(s),
    '',
  ].join('\n');
}

// ---- main ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  checkRoot();
  const o = parseOptions(process.argv.slice(2));
  checkTools();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-mesh-'));
  setWorkDir(dir);
  enableBpfStats();
  const nginx = await startNginx(dir);
  const mesh = await startMesh(dir, nginx.port);
  const b: Bench = { options: o, dir, nginx, mesh };
  await wrk(nginx.port, 1, CONNECTIONS); // warm-up, both paths
  await wrk(mesh[0]!.port, 1, CONNECTIONS);
  const configs: Configuration[] = [{ kind: 'bare' }, { kind: 'mesh' }, ...o.agents.map((agent) => ({ kind: 'sidelight' as const, agent }))];
  const runs = await allRounds(b, configs);
  const summary = summarize(runs, configs);
  const haproxy = execFileSync('haproxy', ['-v'], { encoding: 'latin1' }).split('\n')[0];
  const agents = Object.fromEntries(o.agents.map((a) => [a.name, a.bin]));
  process.stdout.write(`${JSON.stringify({ seconds: o.seconds, rounds: o.rounds, rate: o.rate, connections: CONNECTIONS, node: process.version, kernel: os.release(), haproxy, agents, runs, summary }, null, 2)}\n`);
  process.stderr.write(`\n${markdown(o, summary)}`);
}

runBenchmark('mesh', main);
