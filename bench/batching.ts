// Exactness and cost when a server batches many responses into one write.
//
// HTTP/2 (the default): Node's HTTP/2 server answers h2load's 25 concurrent
// streams per connection with 2 KiB bodies: each writev holds ~51 KB, three
// times the default per-syscall cap. HTTP/1 (--protocol h1): Node's HTTP/1.1
// server answers 25 pipelined requests per connection (h2load --h1), and
// writes the responses queued behind a pending write in one writev. Each
// --agent watches the same server in
// alternating rounds, as deployed (--output none). Reported per agent:
// transactions on both ends against requests served (exact means 2 per
// request), bytes lost, kernel drops, HTTP/2 directions whose framing the
// kernel lost, BPF time per request over both ends (bpf_stats) and agent
// CPU per transaction.
//
// Usage: node dist/bench/batching.js [--protocol h2|h1] [--requests 20000] [--rounds 3] [--body 2048] [--agent NAME=PATH ...]
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { alternateRounds, parseAgent, positive, type Agent } from './support/agents';
import { agentArgs, cpuSeconds, freePort, getJson, median, run, sleep, waitForStats } from './support/load';
import { bpfCounters, enableBpfStats, heldPrograms, programCosts, runBenchmark, setWorkDir, spawnTracked, stopChild, waitForPort } from './support/processes';

const ROOT = path.join(__dirname, '..', '..');
const CONNECTIONS = 4;
const STREAMS = 25;

interface Options {
  protocol: 'h2' | 'h1';
  requests: number;
  rounds: number;
  body: number;
  agents: Agent[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { protocol: { type: 'string' }, requests: { type: 'string' }, rounds: { type: 'string' }, body: { type: 'string' }, agent: { type: 'string', multiple: true } },
  });
  const protocol = values.protocol ?? 'h2';
  if (protocol !== 'h2' && protocol !== 'h1') throw new Error(`--protocol ${protocol}: expected h2 or h1`);
  return {
    protocol,
    requests: positive('requests', values.requests, 20_000),
    rounds: positive('rounds', values.rounds, 3),
    body: positive('body', values.body, 2048),
    agents: (values.agent ?? [`now=${path.join(ROOT, 'bin', 'sidelight.js')}`]).map(parseAgent),
  };
}

interface BatchStats {
  capture: { events: number; kernel: { ringbufDrops: number; h2FramingLost: number; h1FramingLost?: number; headsUnshipped: number } };
  tracker: {
    bytesLost: number;
    bytesUncaptured: number;
    http1: { transactions: number; parseErrors: number };
    http2: { transactions: number; frames: { desyncs: number } };
  };
}

interface Round {
  transactions: number;
  bytesLost: number;
  drops: number;
  framingLost: number;
  desyncs: number;
  bpfNsPerRequest: number;
  agentUsPerTx: number;
  eventsPerRequest: number;
}

async function round(agent: Agent, port: number, o: Options): Promise<Round> {
  const admin = await freePort();
  const child = spawnTracked(process.execPath, agentArgs(agent.bin, port, admin), 'pipe');
  try {
    await waitForStats(admin, () => child.exitCode === null);
    await sleep(500);
    const pid = child.pid as number;
    const programs = heldPrograms(pid);
    const bpf0 = bpfCounters(programs);
    const cpu0 = cpuSeconds(pid);
    const h1 = o.protocol === 'h1' ? ['--h1'] : [];
    const { stdout } = await run('h2load', [...h1, '-n', String(o.requests), '-c', String(CONNECTIONS), '-m', String(STREAMS), `http://127.0.0.1:${port}/`], { timeout: 120_000 });
    if (!new RegExp(`requests: ${o.requests} total, ${o.requests} started, ${o.requests} done, ${o.requests} succeeded`).test(stdout)) throw new Error(`h2load did not complete:\n${stdout}`);
    await sleep(1500); // the poll thread's idle tick, then parsing
    const cpu1 = cpuSeconds(pid);
    const costs = programCosts(bpf0, bpfCounters(programs), o.requests);
    const s = (await getJson(admin, '/stats')) as BatchStats;
    const tx = o.protocol === 'h1' ? s.tracker.http1.transactions : s.tracker.http2.transactions;
    return {
      transactions: tx,
      bytesLost: s.tracker.bytesLost,
      drops: s.capture.kernel.ringbufDrops,
      framingLost: o.protocol === 'h1' ? (s.capture.kernel.h1FramingLost ?? 0) : s.capture.kernel.h2FramingLost,
      desyncs: o.protocol === 'h1' ? s.tracker.http1.parseErrors : s.tracker.http2.frames.desyncs,
      bpfNsPerRequest: Object.values(costs).reduce((n, c) => n + c.ns, 0) / o.requests,
      agentUsPerTx: tx > 0 ? ((cpu1 - cpu0) * 1e6) / tx : NaN,
      eventsPerRequest: s.capture.events / o.requests,
    };
  } finally {
    await stopChild(child);
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('must run as root (it loads kernel programs)');
  setWorkDir(mkdtempSync(path.join(os.tmpdir(), 'sidelight-batching-')));
  enableBpfStats();
  const port = await freePort();
  const server = spawnTracked(process.execPath, [path.join(__dirname, 'load', `${o.protocol}-server.js`), String(port), String(o.body)]);
  await waitForPort(port, `the ${o.protocol === 'h1' ? 'HTTP/1.1' : 'HTTP/2'} server`, server);
  const rounds = await alternateRounds(o.agents, o.rounds, (agent) => round(agent, port, o));
  const rows = o.agents.map((a) => {
    const rs = rounds.get(a.name)!;
    const m = (f: (x: Round) => number) => median(rs.map(f));
    return {
      agent: a.name,
      reported: `${rs.map((x) => x.transactions).join(' / ')} of ${2 * o.requests}`,
      bytesLost: rs.map((x) => x.bytesLost).join(' / '),
      kernelDrops: rs.map((x) => x.drops).join(' / '),
      framingLost: rs.map((x) => x.framingLost).join(' / '),
      bpfNsPerRequest: Math.round(m((x) => x.bpfNsPerRequest)),
      agentUsPerTx: +m((x) => x.agentUsPerTx).toFixed(2),
      eventsPerRequest: +m((x) => x.eventsPerRequest).toFixed(2),
    };
  });
  process.stdout.write(`${JSON.stringify({ machine: `${os.cpus().length} cores, ${os.release()}`, protocol: o.protocol, requests: o.requests, body: o.body, rows }, null, 2)}\n`);
}

runBenchmark('batching', main);
