// Child processes of a test file. Every one is remembered until it exits, and
// whatever is still running when the file's process exits (tests done, failed
// mid-way, or cancelled by the runner's timeout and --test-force-exit) is
// killed, so a failed test can never leave a peer or an agent behind holding
// the file open.
import { spawn as spawnRaw, type ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** node's spawn (same overloads), with the child killed at the latest when this process exits. */
export const spawn = ((...args: Parameters<typeof spawnRaw>): ChildProcess => {
  const child = spawnRaw(...args);
  if (child.pid === undefined) return child; // failed to start: 'error' follows, nothing to kill
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}) as typeof spawnRaw;

/** Children of this file still running (for tests of the suite itself). */
export const runningChildren = (): number => running.size;
