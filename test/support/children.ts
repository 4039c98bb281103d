// Child processes of a test file. Every one is remembered until it exits, and
// whatever is still running when the file's tests are done (passed, or failed
// mid-way) is killed with all its descendants, so a failed test can never
// leave a peer or an agent behind holding the file open; so is whatever runs
// when the file's process exits or the runner stops it.
import { spawn as spawnRaw, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after } from 'node:test';
import { readProcess, type ProcessInfo } from '../../src/launcher';

const running = new Set<ChildProcess>();

/** Every process of the host (zombies included: their state says so). */
function processTable(): ProcessInfo[] {
  const table: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const p = readProcess(Number(entry));
    if (p) table.push(p);
  }
  return table;
}

/** Processes whose command line holds this exact argument (a test's mark, a port it chose). */
export const processesWithArg = (arg: string): ProcessInfo[] => processTable().filter((p) => p.argv.includes(arg));

/** The pids under these, at any depth (a shell's agent, nginx's workers). */
function descendants(roots: Iterable<number>): number[] {
  const byParent = new Map<number, number[]>();
  for (const p of processTable()) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p.pid]);
  const found: number[] = [];
  const queue = [...roots];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const c of byParent.get(pid) ?? []) {
      found.push(c);
      queue.push(c);
    }
  }
  return found;
}

/** Kills every child still running and everything under it, at once (found first, so none is reparented away). */
function killAll(): void {
  const pids = [...running].map((c) => c.pid!);
  for (const pid of [...pids, ...descendants(pids)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
// In a test file: once every test and hook is done. (node's --test-force-exit
// would do without this, but under load it ends a file before all its tests
// ran, reporting no failure.) Scripts that use this module (the soak) are no
// test files: calling node:test there would start a test report.
if (process.env.NODE_TEST_CONTEXT !== undefined) after(killAll);
process.once('exit', killAll);
// The runner ends a file that overran its bound with SIGTERM, which skips
// 'exit' handlers: take the children along.
process.once('SIGTERM', () => {
  killAll();
  process.exit(143);
});

/** node's spawn (same overloads), with the child killed at the latest when this process exits. */
export const spawn = ((...args: Parameters<typeof spawnRaw>): ChildProcess => {
  const child = spawnRaw(...args);
  if (child.pid === undefined) return child; // failed to start: 'error' follows, nothing to kill
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}) as typeof spawnRaw;
