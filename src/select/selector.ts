// Which processes to observe, beyond --pid and the ports (those two the
// kernel applies from the start): executable path globs, Kubernetes
// namespaces and pod labels, and their exclude lists. Decided once per
// process in user space; a process left out is handed to the kernel, which
// then stops classifying its new connections. Events of its connections
// that were already open are dropped here and counted.
import picomatch from 'picomatch';
import type { Config } from '../config/config';
import { labelsMatch } from './labels';

export type SelectionRules = Pick<
  Config,
  'exePaths' | 'excludeExePaths' | 'k8sNamespaces' | 'excludeK8sNamespaces' | 'k8sPodLabels' | 'excludeK8sPodLabels'
>;

export function selectionActive(r: SelectionRules): boolean {
  return (
    r.exePaths.length + r.excludeExePaths.length + r.k8sNamespaces.length + r.excludeK8sNamespaces.length + r.k8sPodLabels.length + r.excludeK8sPodLabels.length >
    0
  );
}

export function usesKubernetes(r: SelectionRules): boolean {
  return r.k8sNamespaces.length + r.excludeK8sNamespaces.length + r.k8sPodLabels.length + r.excludeK8sPodLabels.length > 0;
}

/** Why a process was left out (the label of sidelight_processes_excluded_total). */
export type Verdict = 'in' | 'exe-path' | 'exclude-exe-path' | 'k8s-namespace' | 'exclude-k8s-namespace' | 'k8s-pod-labels' | 'exclude-k8s-pod-labels' | 'not-in-a-pod';

/** What the rules read of a process's pod (the enrich stage's Workload has these). */
export interface PodOf {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface SelectorDeps {
  /** The executable's absolute path, undefined when the process is gone. */
  exePath(pid: number): string | undefined;
  /** The process's container, when it runs in one; podUid set when that container is a Kubernetes pod's. */
  containerOf(pid: number): { readonly podUid: string | undefined } | undefined;
  workloadOf(pid: number): PodOf | undefined;
  /** Changes whenever the pod index does (a pending process is judged again). */
  metadataVersion(): number;
  /** /proc/<pid>/stat start time, in clock ticks. */
  startTicks(pid: number): number | undefined;
  /** Tells the kernel; false when it could not (the map is full). */
  skipInKernel(pid: number, startTicks: number): boolean;
  unskipInKernel(pid: number): void;
}

export interface SelectorStats {
  processesIncluded: number;
  /** Processes left out, by the rule that did it. */
  processesExcluded: Partial<Record<Verdict, number>>;
  /** Events of left-out or not-yet-known processes dropped in user space. */
  eventsDropped: number;
  kernelSkips: number;
  kernelSkipFailures: number;
}

interface Decision {
  keep: boolean;
  /** A container whose pod is not known yet: judged again when the pod index changes. */
  pendingAt: number | undefined;
  startTicks: number | undefined;
  inKernel: boolean;
  seen: number;
}

const MAX_PROCESSES = 16_384;

export class ProcessSelector {
  private readonly include: ((p: string) => boolean) | undefined;
  private readonly exclude: ((p: string) => boolean) | undefined;
  private readonly decisions = new Map<number, Decision>();
  readonly stats: SelectorStats = { processesIncluded: 0, processesExcluded: {}, eventsDropped: 0, kernelSkips: 0, kernelSkipFailures: 0 };

  constructor(
    private readonly rules: SelectionRules,
    private readonly deps: SelectorDeps,
  ) {
    const glob = (globs: string[]) => (globs.length ? picomatch(globs, { dot: true }) : undefined);
    this.include = glob(rules.exePaths);
    this.exclude = glob(rules.excludeExePaths);
  }

  /** One Map lookup per event for a process already judged. */
  wants(pid: number): boolean {
    const d = this.decisions.get(pid);
    if (d && (d.pendingAt === undefined || d.pendingAt === this.deps.metadataVersion())) {
      if (!d.keep) this.stats.eventsDropped++;
      return d.keep;
    }
    return this.decide(pid);
  }

  /** The rule a process falls under (exported for tests and /stats). */
  verdict(pid: number): Verdict | 'pending' {
    const exe = this.deps.exePath(pid);
    // A process already gone cannot be judged by path: keep its last events.
    if (exe !== undefined) {
      if (this.include && !this.include(exe)) return 'exe-path';
      if (this.exclude && this.exclude(exe)) return 'exclude-exe-path';
    }
    if (!usesKubernetes(this.rules)) return 'in';
    const w = this.deps.workloadOf(pid);
    if (!w) {
      // A pod's container (its cgroup names the pod) whose pod is not listed yet: wait for it.
      if (this.deps.containerOf(pid)?.podUid !== undefined) return 'pending';
      // A host process, or a container no pod owns: only an include rule on pods can leave it out.
      return this.rules.k8sNamespaces.length + this.rules.k8sPodLabels.length > 0 ? 'not-in-a-pod' : 'in';
    }
    if (this.rules.k8sNamespaces.length && !this.rules.k8sNamespaces.includes(w.namespace)) return 'k8s-namespace';
    if (this.rules.excludeK8sNamespaces.includes(w.namespace)) return 'exclude-k8s-namespace';
    if (this.rules.k8sPodLabels.length && !labelsMatch(this.rules.k8sPodLabels, w.labels)) return 'k8s-pod-labels';
    if (this.rules.excludeK8sPodLabels.length && labelsMatch(this.rules.excludeK8sPodLabels, w.labels)) return 'exclude-k8s-pod-labels';
    return 'in';
  }

  private decide(pid: number): boolean {
    const v = this.verdict(pid);
    const now = Date.now();
    const prev = this.decisions.get(pid);
    const d: Decision = prev ?? { keep: false, pendingAt: undefined, startTicks: undefined, inKernel: false, seen: now };
    d.seen = now;
    if (v === 'pending') {
      d.keep = false;
      d.pendingAt = this.deps.metadataVersion();
      this.stats.eventsDropped++;
    } else {
      d.pendingAt = undefined;
      d.keep = v === 'in';
      if (d.keep) {
        this.stats.processesIncluded++;
      } else {
        this.stats.processesExcluded[v] = (this.stats.processesExcluded[v] ?? 0) + 1;
        this.stats.eventsDropped++;
        const ticks = this.deps.startTicks(pid);
        if (ticks !== undefined) {
          d.startTicks = ticks;
          d.inKernel = this.deps.skipInKernel(pid, ticks);
          if (d.inKernel) this.stats.kernelSkips++;
          else this.stats.kernelSkipFailures++;
        }
      }
    }
    if (!prev) {
      if (this.decisions.size >= MAX_PROCESSES) this.forget(this.decisions.keys().next().value as number);
      this.decisions.set(pid, d);
    }
    return d.keep;
  }

  /**
   * Forgets processes idle for maxAgeMs that exited (their pid may come back
   * as another program). A left-out process is idle by design once the
   * kernel filters it, so its start time is what tells.
   */
  sweep(maxAgeMs: number): void {
    const cutoff = Date.now() - maxAgeMs;
    for (const [pid, d] of this.decisions) {
      if (d.seen >= cutoff) continue;
      if (!d.inKernel) {
        this.forget(pid);
        continue;
      }
      const ticks = this.deps.startTicks(pid);
      if (ticks === undefined || (d.startTicks !== undefined && ticks !== d.startTicks)) this.forget(pid);
    }
  }

  get size(): number {
    return this.decisions.size;
  }

  private forget(pid: number): void {
    const d = this.decisions.get(pid);
    this.decisions.delete(pid);
    if (d?.inKernel) this.deps.unskipInKernel(pid);
  }
}
