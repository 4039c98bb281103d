// pid -> container (its cgroup, read once per process) -> workload (the pod
// index, asked on every lookup, so a pod that appears, changes or goes is
// seen at once).
import { containerOfPid, type ContainerRef } from '../cgroup';
import type { PodIndex, Workload } from './pod-index';

const MAX_PROCESSES = 16_384;

export class ProcessWorkloads {
  /** null: the process is in no container (a host process). */
  private readonly containers = new Map<number, { ref: ContainerRef | null; seen: number }>();

  constructor(
    readonly index: PodIndex,
    private readonly procRoot = '/proc',
  ) {}

  /** The container a process runs in, or undefined for host processes (and processes already gone). */
  containerOf(pid: number): ContainerRef | undefined {
    const now = Date.now();
    const hit = this.containers.get(pid);
    if (hit) {
      hit.seen = now;
      return hit.ref ?? undefined;
    }
    const ref = containerOfPid(pid, this.procRoot) ?? null;
    if (this.containers.size >= MAX_PROCESSES) this.containers.delete(this.containers.keys().next().value as number);
    this.containers.set(pid, { ref, seen: now });
    return ref ?? undefined;
  }

  /** The pod and container of a process, when this node's pod list has it. */
  of(pid: number): Workload | undefined {
    const c = this.containerOf(pid);
    return c ? this.index.lookup(c.id, c.podUid) : undefined;
  }

  /** Forgets pids not seen for maxAgeMs (pids are reused). */
  sweep(maxAgeMs: number): void {
    const cutoff = Date.now() - maxAgeMs;
    for (const [pid, v] of this.containers) if (v.seen < cutoff) this.containers.delete(pid);
  }
}
