// Process names by pid: the executable's file name, which thread names
// cannot change (Node 24 names its main thread "MainThread", JVM threads
// carry pool names); then the main thread's name; then the kernel's thread
// name when the process is already gone.
import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { PidCache } from './pid-cache';

export class ProcessNames {
  private readonly names = new PidCache<string>();

  constructor(private readonly procRoot = '/proc') {}

  nameOf(pid: number, fallback: () => string): string {
    return this.names.get(pid, () => {
      const exe = this.exePath(pid);
      if (exe !== undefined) return path.basename(exe);
      try {
        return readFileSync(`${this.procRoot}/${pid}/comm`, 'latin1').trimEnd();
      } catch {
        return fallback();
      }
    });
  }

  /** The executable's absolute path, undefined when the process is gone (or not ours to read). */
  exePath(pid: number): string | undefined {
    try {
      return readlinkSync(`${this.procRoot}/${pid}/exe`).replace(/ \(deleted\)$/, '');
    } catch {
      return undefined;
    }
  }

  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): with the pid, names one process. */
  startTicks(pid: number): number | undefined {
    try {
      return startTicksOf(readFileSync(`${this.procRoot}/${pid}/stat`, 'latin1'));
    } catch {
      return undefined;
    }
  }

  /** The command line from /proc (arguments joined by spaces), or undefined when the process is gone. */
  commandLine(pid: number): string | undefined {
    try {
      const raw = readFileSync(`${this.procRoot}/${pid}/cmdline`, 'latin1');
      const args = raw.split('\0');
      if (args[args.length - 1] === '') args.pop();
      return args.length > 0 ? args.join(' ') : undefined;
    } catch {
      return undefined;
    }
  }

  /** Forgets pids not seen for maxAgeMs (pids are reused). */
  sweep(maxAgeMs: number): void {
    this.names.sweep(maxAgeMs);
  }
}

/** Replay: no /proc to ask, so a process is named by what its events carried (the kernel's thread name). */
export class RecordedProcessNames {
  nameOf(_pid: number, fallback: () => string): string {
    return fallback();
  }

  commandLine(): string | undefined {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised name, which may hold spaces). */
export function startTicksOf(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state): field 22 is fields[19].
  const n = Number(fields[19]);
  return Number.isInteger(n) ? n : undefined;
}
