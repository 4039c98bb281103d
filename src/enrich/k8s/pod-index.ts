// This node's pods and the cluster's ReplicaSets, indexed for the enrich
// stage: a container id or pod UID (from a process's cgroup) to its pod and
// workload, and a pod IP to its pod (to name the peer of a connection).
// Fed by the watch (watcher.ts); pure data, so it is tested without a cluster.
import type { ContainerStatus, OwnerReference, PodObject, ReplicaSetObject } from './objects';

/** What sidelight reports about one container of one pod. */
export interface Workload {
  readonly namespace: string;
  readonly podName: string;
  readonly podUid: string;
  /** undefined while the pod's status does not list the container yet. */
  readonly containerName: string | undefined;
  readonly containerId: string | undefined;
  readonly nodeName: string | undefined;
  /** The controlling workload: Deployment (through its ReplicaSet), StatefulSet, DaemonSet, Job, CronJob, or a bare ReplicaSet. */
  readonly owner: { readonly kind: string; readonly name: string } | undefined;
  readonly replicaSet: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  /** service.name by the rules in serviceNameOf. */
  readonly service: string;
}

interface PodEntry {
  pod: PodObject;
  uid: string;
  /** container id -> name, from every kind of container status. */
  containers: Map<string, string>;
  ips: string[];
  /** Workloads made for this version of the pod, by container id ('' for the pod as a whole). */
  workloads: Map<string, Workload>;
}

/** Strips "containerd://" and the like; ids are compared without the runtime. */
export function bareContainerId(id: string): string {
  const i = id.indexOf('://');
  return i >= 0 ? id.slice(i + 3) : id;
}

function controllerOf(refs: OwnerReference[] | undefined): OwnerReference | undefined {
  return refs?.find((r) => r.controller) ?? refs?.[0];
}

/**
 * service.name of a pod's container: the OpenTelemetry annotation
 * resource.opentelemetry.io/service.name, then the app.kubernetes.io/name
 * label, then the controlling workload's name, then the container's name,
 * then the pod's.
 */
export function serviceNameOf(
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>> | undefined,
  owner: { name: string } | undefined,
  containerName: string | undefined,
  podName: string,
): string {
  return annotations?.['resource.opentelemetry.io/service.name'] || labels['app.kubernetes.io/name'] || owner?.name || containerName || podName;
}

export class PodIndex {
  private readonly pods = new Map<string, PodEntry>();
  private readonly byContainer = new Map<string, PodEntry>();
  private readonly byIp = new Map<string, PodEntry>();
  /** ReplicaSet uid -> its controller (a Deployment), or null for a bare ReplicaSet. */
  private readonly replicaSets = new Map<string, { owner: OwnerReference | null; name: string; namespace: string }>();
  private changes = 0;

  /** Bumped on every change: a cached miss is worth retrying once it moved. */
  get version(): number {
    return this.changes;
  }

  get size(): number {
    return this.pods.size;
  }

  upsertPod(pod: PodObject): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    this.removePod(uid);
    const containers = new Map<string, string>();
    const statuses: ContainerStatus[] = [
      ...(pod.status?.containerStatuses ?? []),
      ...(pod.status?.initContainerStatuses ?? []),
      ...(pod.status?.ephemeralContainerStatuses ?? []),
    ];
    for (const s of statuses) if (s.containerID) containers.set(bareContainerId(s.containerID), s.name);
    // Host-network pods share the node's address, and finished pods' addresses are reused.
    const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
    const ips = pod.spec?.hostNetwork || finished ? [] : [...new Set([pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)].filter((ip): ip is string => !!ip))];
    const entry: PodEntry = { pod, uid, containers, ips, workloads: new Map() };
    this.pods.set(uid, entry);
    for (const id of containers.keys()) this.byContainer.set(id, entry);
    for (const ip of ips) this.byIp.set(ip, entry);
    this.changes++;
  }

  deletePod(pod: PodObject): void {
    const uid = pod.metadata?.uid;
    if (uid && this.removePod(uid)) this.changes++;
  }

  upsertReplicaSet(rs: ReplicaSetObject): void {
    const uid = rs.metadata?.uid;
    if (!uid) return;
    const owner = controllerOf(rs.metadata?.ownerReferences) ?? null;
    this.replicaSets.set(uid, { owner, name: rs.metadata?.name ?? '', namespace: rs.metadata?.namespace ?? '' });
    // Pods owned by it may now name their Deployment.
    for (const e of this.pods.values()) if (controllerOf(e.pod.metadata?.ownerReferences)?.uid === uid) e.workloads.clear();
    this.changes++;
  }

  deleteReplicaSet(rs: ReplicaSetObject): void {
    const uid = rs.metadata?.uid;
    if (uid && this.replicaSets.delete(uid)) this.changes++;
  }

  /** Replaces everything (a relist after the watch was lost). */
  reset(): void {
    this.pods.clear();
    this.byContainer.clear();
    this.byIp.clear();
    this.replicaSets.clear();
    this.changes++;
  }

  /**
   * The workload of a process whose cgroup named this container (and maybe
   * pod UID): by container id, else by pod UID with the container not listed
   * yet (the kubelet reports ids a moment after the process starts).
   */
  lookup(containerId: string | undefined, podUid: string | undefined): Workload | undefined {
    let entry = containerId ? this.byContainer.get(containerId) : undefined;
    if (!entry && podUid) entry = this.pods.get(podUid);
    if (!entry) return undefined;
    const known = containerId && entry.containers.has(containerId) ? containerId : '';
    return entry.workloads.get(known) ?? this.makeWorkload(entry, known);
  }

  /** The pod (as a whole) that owns this IP address, for naming a connection's peer. */
  podByIp(ip: string): Workload | undefined {
    const entry = this.byIp.get(ip);
    return entry ? (entry.workloads.get('') ?? this.makeWorkload(entry, '')) : undefined;
  }

  private makeWorkload(entry: PodEntry, containerId: string): Workload {
    const meta = entry.pod.metadata ?? {};
    const labels = meta.labels ?? {};
    const ref = controllerOf(meta.ownerReferences);
    let owner: { kind: string; name: string } | undefined = ref ? { kind: ref.kind, name: ref.name } : undefined;
    let replicaSet: string | undefined;
    if (ref?.kind === 'ReplicaSet') {
      replicaSet = ref.name;
      const rs = this.replicaSets.get(ref.uid);
      if (rs?.owner) owner = { kind: rs.owner.kind, name: rs.owner.name };
    }
    const single = entry.pod.spec?.containers?.length === 1 ? entry.pod.spec.containers[0].name : undefined;
    const containerName = containerId ? entry.containers.get(containerId) : single;
    const podName = meta.name ?? '';
    const w: Workload = {
      namespace: meta.namespace ?? '',
      podName,
      podUid: entry.uid,
      containerName,
      containerId: containerId || undefined,
      nodeName: entry.pod.spec?.nodeName,
      owner,
      replicaSet,
      labels,
      service: serviceNameOf(labels, meta.annotations, owner, containerName, podName),
    };
    entry.workloads.set(containerId, w);
    return w;
  }

  private removePod(uid: string): boolean {
    const old = this.pods.get(uid);
    if (!old) return false;
    this.pods.delete(uid);
    for (const id of old.containers.keys()) if (this.byContainer.get(id) === old) this.byContainer.delete(id);
    for (const ip of old.ips) if (this.byIp.get(ip) === old) this.byIp.delete(ip);
    return true;
  }
}

/** The resource attributes of a workload (OpenTelemetry k8s.* and container.* conventions). */
export function workloadAttributes(w: Workload): Record<string, string> {
  const a: Record<string, string> = {
    'k8s.namespace.name': w.namespace,
    'k8s.pod.name': w.podName,
    'k8s.pod.uid': w.podUid,
  };
  if (w.containerName !== undefined) a['k8s.container.name'] = w.containerName;
  if (w.containerId !== undefined) a['container.id'] = w.containerId;
  if (w.nodeName !== undefined) a['k8s.node.name'] = w.nodeName;
  if (w.replicaSet !== undefined) a['k8s.replicaset.name'] = w.replicaSet;
  const ownerKey = w.owner ? OWNER_ATTRIBUTES[w.owner.kind] : undefined;
  if (w.owner && ownerKey) a[ownerKey] = w.owner.name;
  return a;
}

const OWNER_ATTRIBUTES: Record<string, string> = {
  Deployment: 'k8s.deployment.name',
  StatefulSet: 'k8s.statefulset.name',
  DaemonSet: 'k8s.daemonset.name',
  ReplicaSet: 'k8s.replicaset.name',
  Job: 'k8s.job.name',
  CronJob: 'k8s.cronjob.name',
};
