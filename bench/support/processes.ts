// What the benchmarks that start real processes share: children in their own
// process groups, stopped together at exit; bpf_stats switched on and back;
// the run time of one agent's BPF programs, read with bpftool.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { sleep } from './load';

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

/**
 * Every child runs in its own process group, so that stopping it also stops
 * what it started (nginx's worker, the load generator under /usr/bin/time).
 */
const children = new Set<ChildProcess>();
/** A work directory removed at cleanup. */
export let workDir: string | undefined;
export const setWorkDir = (dir: string) => (workDir = dir);
let bpfStatsBefore: string | undefined;

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function spawnTracked(file: string, args: string[], stdio: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  return track(spawn(file, args, { detached: true, stdio: ['ignore', stdio, stdio] }));
}

export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM (the agent detaches its programs on it), SIGKILL after 10 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Stops every child still running, then cleans up. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map(stopChild));
  cleanup();
}

/** Synchronous, so that it also runs from 'exit' and signal handlers. */
export function cleanup(): void {
  for (const child of children) signalGroup(child, 'SIGTERM');
  children.clear();
  if (bpfStatsBefore !== undefined) {
    writeFileSync(BPF_STATS, bpfStatsBefore);
    bpfStatsBefore = undefined;
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
}

/**
 * Runs a benchmark's main: its children are stopped and what it changed is
 * restored when it ends, fails, exits or gets SIGINT/SIGTERM. A failure is
 * one line on stderr, named for the benchmark, and exit status 1.
 */
export function runBenchmark(name: string, main: () => Promise<void>): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      cleanup();
      process.exit(code);
    });
  }
  process.on('exit', cleanup);
  main()
    .then(stopAll)
    .catch(async (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      await stopAll();
      process.exit(1);
    });
}

export function enableBpfStats(): void {
  bpfStatsBefore = readFileSync(BPF_STATS, 'latin1').trim();
  writeFileSync(BPF_STATS, '1');
}

export async function waitForPort(port: number, what: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.end(() => resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/** The BPF programs this process holds (its program and link fds name them in fdinfo), not another agent's. */
export function heldPrograms(pid: number): number[] {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (!/bpf[-_](prog|link)/.test(readlinkSync(`/proc/${pid}/fd/${fd}`))) continue;
      const id = /^prog_id:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'))?.[1];
      if (id) ids.add(Number(id));
    } catch {
      // fd closed meanwhile
    }
  }
  return [...ids];
}

export interface ProgramCounters {
  name: string;
  runTimeNs: number;
  runCount: number;
}

/**
 * run_time_ns and run_cnt of our programs (names sl_...) among `ids`; bpftool
 * omits both while they are zero. A program runs at every matching syscall of
 * the host and filters inside, so other load on the machine adds runs too.
 */
export function bpfCounters(ids: number[]): Map<number, ProgramCounters> {
  const wanted = new Set(ids);
  const list: unknown = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'latin1', maxBuffer: 64 << 20 }));
  const out = new Map<number, ProgramCounters>();
  for (const p of Array.isArray(list) ? (list as Record<string, unknown>[]) : []) {
    const id = Number(p.id);
    const name = typeof p.name === 'string' ? p.name : '';
    if (!wanted.has(id) || !name.startsWith('sl_')) continue;
    out.set(id, { name, runTimeNs: Number(p.run_time_ns ?? 0), runCount: Number(p.run_cnt ?? 0) });
  }
  return out;
}

export interface ProgramCost {
  runs: number;
  ns: number;
  nsPerRun: number | null;
  runsPerRequest: number;
}

/** Per program name: the runs and time between two readings, relative to the requests served. */
export function programCosts(before: Map<number, ProgramCounters>, after: Map<number, ProgramCounters>, requests: number): Record<string, ProgramCost> {
  const costs: Record<string, ProgramCost> = {};
  for (const [id, a] of after) {
    const b = before.get(id) ?? { runTimeNs: 0, runCount: 0 };
    const c = costs[a.name] ?? { runs: 0, ns: 0, nsPerRun: null, runsPerRequest: 0 };
    c.runs += a.runCount - b.runCount;
    c.ns += a.runTimeNs - b.runTimeNs;
    c.nsPerRun = c.runs > 0 ? +(c.ns / c.runs).toFixed(1) : null;
    c.runsPerRequest = +(c.runs / requests).toFixed(3);
    costs[a.name] = c;
  }
  return costs;
}
