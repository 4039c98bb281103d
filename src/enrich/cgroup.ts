// A process's container, from its /proc/<pid>/cgroup: the first step from a
// pid to a Kubernetes pod. Runtimes name the container's cgroup after its
// 64-hex id, in the cgroupfs layout (…/pod<uid>/<id>, …/docker/<id>) or the
// systemd one (…-pod<uid>.slice/<runtime>-<id>.scope), under cgroup v1 or v2.
import { readFileSync } from 'node:fs';

export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker' | 'podman' | 'unknown';

export interface ContainerRef {
  /** The runtime's full container id (64 lowercase hex), as in a pod's containerStatuses. */
  id: string;
  runtime: ContainerRuntime;
  /** The pod's UID when the path names a Kubernetes pod. */
  podUid: string | undefined;
}

const ID = /^[0-9a-f]{64}$/;
/** systemd scope of a container: "<prefix>-<id>.scope". */
const SCOPE = /^(cri-containerd|crio|docker|libpod)-([0-9a-f]{64})\.scope$/;
const SCOPE_RUNTIME: Record<string, ContainerRuntime> = {
  'cri-containerd': 'containerd',
  crio: 'cri-o',
  docker: 'docker',
  libpod: 'podman',
};
/** "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid_with_underscores>.slice" (systemd). */
const POD = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/** The container a cgroup path belongs to, or undefined (host process, systemd service, the root of a cgroup namespace). */
export function containerOfPath(path: string): ContainerRef | undefined {
  const parts = path.split('/');
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i]!;
    let id: string | undefined;
    let runtime: ContainerRuntime = 'unknown';
    const scope = SCOPE.exec(part);
    if (scope) {
      id = scope[2]!;
      runtime = SCOPE_RUNTIME[scope[1]!]!;
    } else if (ID.test(part)) {
      id = part;
      // cgroupfs layouts: /docker/<id> is Docker's own; under /kubepods the runtime is not named.
      if (parts[i - 1] === 'docker') runtime = 'docker';
    }
    if (id === undefined) continue;
    let podUid: string | undefined;
    for (let j = i - 1; j >= 0 && podUid === undefined; j--) {
      const pod = POD.exec(parts[j]!);
      if (pod) podUid = pod[1]!.replace(/_/g, '-');
    }
    return { id, runtime, podUid };
  }
  return undefined;
}

/**
 * The container named by a /proc/<pid>/cgroup file's text. The unified (v2)
 * line "0::<path>" is preferred; on v1 every controller's path is tried, since
 * a runtime may leave some controllers at the root.
 */
export function containerOfCgroupFile(text: string): ContainerRef | undefined {
  const paths: string[] = [];
  for (const line of text.split('\n')) {
    // hierarchy-ID:controller-list:cgroup-path (the path may itself hold colons)
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (b < 0) continue;
    const path = line.slice(b + 1);
    if (line.startsWith('0::')) paths.unshift(path);
    else paths.push(path);
  }
  for (const path of paths) {
    const ref = containerOfPath(path);
    if (ref) return ref;
  }
  return undefined;
}

/** The container of a running process; undefined when it has none or has exited. */
export function containerOfPid(pid: number, procRoot = '/proc'): ContainerRef | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/cgroup`, 'latin1');
  } catch {
    return undefined; // exited, or not ours to read: no container is claimed
  }
  return containerOfCgroupFile(text);
}
