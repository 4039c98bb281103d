// The npm launcher the agent runs under, if any. `npx sidelight run` and
// `npm start` put npm and a `sh -c` between the user and the agent; npm hands
// a SIGTERM or SIGINT to that shell, which dies without passing it on, and
// nothing at all reaches the agent when npm is killed outright. Left alone,
// the agent would go on, orphaned, with its programs attached. So under npm
// the agent watches those launchers and stops the way a signal stops it when
// one of them exits. Outside npm nothing is watched: `nohup sidelight run &`
// and service managers keep their usual meaning.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** R, S, D, Z (exited, not yet reaped), ... */
  state: string;
  /** Field 22 of /proc/<pid>/stat: with the pid, names one process for good (pids are reused). */
  startTime: string;
  /** /proc/<pid>/cmdline; npm rewrites its own into one title ("npm exec sidelight run"). */
  argv: string[];
}

export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The name may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    if (argv[argv.length - 1] === '') argv.pop();
    return { pid, ppid: Number(fields[1]), state: fields[0], startTime: fields[19], argv };
  } catch {
    return undefined; // gone, or not Linux
  }
}

const SHELLS = new Set(['sh', 'dash', 'bash']);

function isNpm(argv: string[]): boolean {
  const first = path.basename((argv[0] ?? '').split(' ')[0]);
  return first === 'npm' || first === 'npx' || argv.some((a) => /[\\/]np[mx]-cli\.js$/.test(a));
}

const isShellCommand = (argv: string[]): boolean => SHELLS.has(path.basename(argv[0] ?? '')) && argv[1] === '-c';

/**
 * The launchers between npm and this process, npm included, nearest first:
 * empty unless npm started this process (it sets npm_lifecycle_event for
 * every script and for npx) and every process between is a `sh -c`.
 */
export function npmLaunchers(env: NodeJS.ProcessEnv, self: number, read: (pid: number) => ProcessInfo | undefined = readProcess): ProcessInfo[] {
  if (env.npm_lifecycle_event === undefined) return [];
  const chain: ProcessInfo[] = [];
  let pid = read(self)?.ppid;
  for (let depth = 0; depth < 8 && pid !== undefined && pid > 1; depth++) {
    const p = read(pid);
    if (!p) return [];
    chain.push(p);
    if (isNpm(p.argv)) return chain;
    if (!isShellCommand(p.argv)) return [];
    pid = p.ppid;
  }
  return [];
}

/**
 * Calls onExit once, with the launcher that went first, when any of them
 * exits; polls every intervalMs. Returns the function that stops watching.
 */
export function watchLaunchers(
  launchers: ProcessInfo[],
  onExit: (gone: ProcessInfo) => void,
  intervalMs = 250,
  read: (pid: number) => ProcessInfo | undefined = readProcess,
): () => void {
  if (launchers.length === 0) return () => {};
  const timer = setInterval(() => {
    const gone = launchers.find((l) => {
      const now = read(l.pid);
      return now === undefined || now.startTime !== l.startTime || now.state === 'Z';
    });
    if (!gone) return;
    clearInterval(timer);
    onExit(gone);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
