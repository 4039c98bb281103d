// What was learnt about a process, by pid, kept while the pid is in use:
// an entry idle for longer than the sweep's age is forgotten (pids are
// reused), and the oldest entry goes when the bound is reached.
export class PidCache<T> {
  private readonly entries = new Map<number, { value: T; seen: number }>();

  constructor(private readonly maxEntries = Infinity) {}

  /** The cached value (marking the pid as in use), else load()'s, cached. */
  get(pid: number, load: () => T): T {
    const now = Date.now();
    const hit = this.entries.get(pid);
    if (hit) {
      hit.seen = now;
      return hit.value;
    }
    const value = load();
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as number);
    this.entries.set(pid, { value, seen: now });
    return value;
  }

  /** Forgets pids not seen for maxAgeMs. */
  sweep(maxAgeMs: number): void {
    const cutoff = Date.now() - maxAgeMs;
    for (const [pid, v] of this.entries) if (v.seen < cutoff) this.entries.delete(pid);
  }
}
