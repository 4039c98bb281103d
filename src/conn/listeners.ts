// Local TCP ports in LISTEN state, from /proc/net/tcp and /proc/net/tcp6.
// Used to give connections opened before the agent started their role.
import { readFileSync } from 'node:fs';

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

export class ListeningPorts {
  private ports = new Set<number>();
  private readAt = 0;

  constructor(private readonly procRoot = '/proc', private readonly maxAgeMs = 1000) {}

  has(port: number): boolean {
    if (!this.ports.has(port) && Date.now() - this.readAt >= this.maxAgeMs) this.refresh();
    return this.ports.has(port);
  }

  /** The listening ports now (recordings carry them, for replay). */
  snapshot(): number[] {
    this.refresh();
    return [...this.ports].sort((a, b) => a - b);
  }

  refresh(): void {
    const ports = new Set<number>();
    for (const file of ['net/tcp', 'net/tcp6']) {
      try {
        parseListeningPorts(readFileSync(`${this.procRoot}/${file}`, 'latin1'), ports);
      } catch {
        // No IPv6 on this host: the other table is enough.
      }
    }
    this.ports = ports;
    this.readAt = Date.now();
  }
}
