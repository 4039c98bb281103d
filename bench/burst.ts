// A burst through a proxy (root): h2load fires --requests HTTP/2 requests
// as fast as it can (--clients connections, --streams streams each) at
// HAProxy, which forwards them over HTTP/1.1 to nginx. The agent watches
// both hops at its default settings, as deployed (--output none), so every
// request is four transactions: h2load's and HAProxy's ends of the HTTP/2
// hop, HAProxy's and nginx's ends of the HTTP/1.1 hop. Each --agent runs in
// alternating rounds. Reported per agent and round: transactions against
// 4 x requests, kernel drops, bytes lost.
//
// Usage: node dist/bench/burst.js [--requests 3000] [--clients 10] [--streams 20] [--body 0] [--rounds 3] [--agent NAME=PATH ...]
// --body 0 serves nginx's small page (57 bytes); N > 0 a file of N bytes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { alternateRounds, parseAgent, positive, type Agent } from './support/agents';
import { freePort, getJson, run, sleep, waitForStats, writeNginxSite } from './support/load';
import { runBenchmark, setWorkDir, spawnTracked, stopChild, waitForPort } from './support/processes';

const ROOT = path.join(__dirname, '..', '..');

interface Options {
  requests: number;
  clients: number;
  streams: number;
  body: number;
  rounds: number;
  agents: Agent[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      requests: { type: 'string' }, clients: { type: 'string' }, streams: { type: 'string' }, body: { type: 'string' },
      rounds: { type: 'string' }, agent: { type: 'string', multiple: true },
    },
  });
  const body = values.body === undefined ? 0 : Number(values.body);
  if (!Number.isInteger(body) || body < 0) throw new Error(`--body ${values.body}: expected a whole number of bytes (0: the small page)`);
  return {
    requests: positive('requests', values.requests, 3000),
    clients: positive('clients', values.clients, 10),
    streams: positive('streams', values.streams, 20),
    body,
    rounds: positive('rounds', values.rounds, 3),
    agents: (values.agent ?? [`now=${path.join(ROOT, 'bin', 'sidelight.js')}`]).map(parseAgent),
  };
}

/** HTTP/2 in front (prior knowledge, as h2load speaks it), HTTP/1.1 to nginx. */
function haproxyConfig(listen: number, upstream: number): string {
  return `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend in
  bind 127.0.0.1:${listen} proto h2
  default_backend out
backend out
  server up 127.0.0.1:${upstream}
`;
}

interface BurstStats {
  capture: { kernel: { ringbufDrops: number } };
  tracker: { bytesLost: number; http1: { transactions: number }; http2: { transactions: number } };
}

interface Round {
  transactions: number;
  drops: number;
  bytesLost: number;
}

async function round(agent: Agent, ports: { front: number; nginx: number }, urlPath: string, o: Options): Promise<Round> {
  const admin = await freePort();
  const args = [agent.bin, 'run', '--output', 'none', '--port', String(ports.front), '--port', String(ports.nginx), '--admin-port', String(admin), '--admin-host', '127.0.0.1', '--log-level', 'warn'];
  const child = spawnTracked(process.execPath, args, 'pipe');
  try {
    await waitForStats(admin, () => child.exitCode === null);
    await sleep(500);
    const { stdout } = await run('h2load', ['-n', String(o.requests), '-c', String(o.clients), '-m', String(o.streams), `http://127.0.0.1:${ports.front}${urlPath}`], { timeout: 120_000 });
    const n = o.requests;
    if (!new RegExp(`requests: ${n} total, ${n} started, ${n} done, ${n} succeeded`).test(stdout)) throw new Error(`h2load did not complete:\n${stdout}`);
    await sleep(1500); // the poll thread's idle tick, then parsing
    const s = (await getJson(admin, '/stats')) as BurstStats;
    return { transactions: s.tracker.http1.transactions + s.tracker.http2.transactions, drops: s.capture.kernel.ringbufDrops, bytesLost: s.tracker.bytesLost };
  } finally {
    await stopChild(child);
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('must run as root (it loads kernel programs)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-burst-'));
  setWorkDir(dir);
  const ports = { front: await freePort(), nginx: await freePort() };
  const conf = writeNginxSite(dir, ports.nginx);
  if (o.body > 0) writeFileSync(path.join(dir, 'body.bin'), Buffer.alloc(o.body, 0x62));
  const nginx = spawnTracked('nginx', ['-c', conf, '-p', dir]);
  await waitForPort(ports.nginx, 'nginx', nginx);
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(ports.front, ports.nginx));
  const proxy = spawnTracked('haproxy', ['-f', cfg, '-db']);
  await waitForPort(ports.front, 'haproxy', proxy);
  const urlPath = o.body > 0 ? '/body.bin' : '/';
  const rounds = await alternateRounds(o.agents, o.rounds, (agent) => round(agent, ports, urlPath, o));
  const rows = o.agents.map((a) => {
    const rs = rounds.get(a.name)!;
    return {
      agent: a.name,
      reported: `${rs.map((x) => x.transactions).join(' / ')} of ${4 * o.requests}`,
      kernelDrops: rs.map((x) => x.drops).join(' / '),
      bytesLost: rs.map((x) => x.bytesLost).join(' / '),
    };
  });
  const shape = { requests: o.requests, clients: o.clients, streams: o.streams, body: o.body };
  process.stdout.write(`${JSON.stringify({ machine: `${os.cpus().length} cores, ${os.release()}`, ...shape, rows }, null, 2)}\n`);
}

runBenchmark('burst', main);
