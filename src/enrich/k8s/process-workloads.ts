// pid -> container (its cgroup, read once per process) -> workload (the pod
// index, asked on every lookup, so a pod that appears, changes or goes is
// seen at once).
import { containerOfPid, type ContainerRef } from '../cgroup';
import { PidCache } from '../pid-cache';
import type { PodIndex, Workload } from './pod-index';

const MAX_PROCESSES = 16_384;

export class ProcessWorkloads {
  /** undefined: the process is in no container (a host process). */
  private readonly containers = new PidCache<ContainerRef | undefined>(MAX_PROCESSES);

  constructor(
    readonly index: PodIndex,
    private readonly procRoot = '/proc',
  ) {}

  /** The container a process runs in, or undefined for host processes (and processes already gone). */
  containerOf(pid: number): ContainerRef | undefined {
    return this.containers.get(pid, () => containerOfPid(pid, this.procRoot));
  }

  /** The pod and container of a process, when this node's pod list has it. */
  of(pid: number): Workload | undefined {
    const c = this.containerOf(pid);
    return c ? this.index.lookup(c.id, c.podUid) : undefined;
  }

  /** Forgets pids not seen for maxAgeMs (pids are reused). */
  sweep(maxAgeMs: number): void {
    this.containers.sweep(maxAgeMs);
  }
}
