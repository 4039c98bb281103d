// Local TCP ports in LISTEN state, from /proc/<pid>/net/tcp and tcp6.
// Used to give connections opened before the agent started their role.
import { readFileSync, readlinkSync } from 'node:fs';

const TCP_LISTEN = '0A';

/** Parses one /proc/net/tcp{,6} table into the set of listening ports. */
export function parseListeningPorts(table: string, into: Set<number> = new Set()): Set<number> {
  const lines = table.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i]!.trim().split(/\s+/);
    if (cols.length < 4 || cols[3] !== TCP_LISTEN) continue;
    const local = cols[1]!;
    const port = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (Number.isFinite(port)) into.add(port);
  }
  return into;
}

interface Table {
  ports: Set<number>;
  readAt: number;
}

const MAX_NAMESPACES = 4096;

/**
 * Listening ports per network namespace: a pod's server listens in its own
 * namespace, which the agent's /proc/net/tcp does not show. A process's
 * namespace is read from /proc/<pid>/ns/net and its table from
 * /proc/<pid>/net/tcp{,6}; a process already gone falls back to the agent's own.
 */
export class ListeningPorts {
  private readonly tables = new Map<string, Table>();
  private readonly nsOfPid = new Map<number, string>();

  constructor(private readonly procRoot = '/proc', private readonly maxAgeMs = 1000) {}

  has(port: number, pid?: number): boolean {
    const dir = pid === undefined ? this.procRoot : `${this.procRoot}/${pid}`;
    const ns = pid === undefined ? 'self' : this.namespaceOf(pid);
    let t = this.tables.get(ns);
    if (!t || (!t.ports.has(port) && Date.now() - t.readAt >= this.maxAgeMs)) {
      t = { ports: readTables(ns === 'self' ? this.procRoot : dir), readAt: Date.now() };
      if (this.tables.size >= MAX_NAMESPACES) this.tables.delete(this.tables.keys().next().value as string);
      this.tables.set(ns, t);
    }
    return t.ports.has(port);
  }

  /** The listening ports of the agent's own namespace now (recordings carry them, for replay). */
  snapshot(): number[] {
    return [...readTables(this.procRoot)].sort((a, b) => a - b);
  }

  private namespaceOf(pid: number): string {
    let ns = this.nsOfPid.get(pid);
    if (ns === undefined) {
      try {
        ns = readlinkSync(`${this.procRoot}/${pid}/ns/net`);
      } catch {
        return 'self';
      }
      if (this.nsOfPid.size >= MAX_NAMESPACES * 4) this.nsOfPid.clear();
      this.nsOfPid.set(pid, ns);
    }
    return ns;
  }
}

function readTables(dir: string): Set<number> {
  const ports = new Set<number>();
  for (const file of ['net/tcp', 'net/tcp6']) {
    try {
      parseListeningPorts(readFileSync(`${dir}/${file}`, 'latin1'), ports);
    } catch {
      // No IPv6 here: the other table is enough.
    }
  }
  return ports;
}
