// Keeps a PodIndex current from the API server: a list+watch of this node's
// pods (field selector spec.nodeName) and of ReplicaSets (a pod names its
// Deployment only through its ReplicaSet). The client library is loaded
// only when Kubernetes metadata is on: it is an ES module and weighs ~10 MiB.
import { existsSync } from 'node:fs';
import type { Logger } from '../../log';
import type { PodObject, ReplicaSetObject } from './objects';
import { PodIndex } from './pod-index';

type ClientModule = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });

export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Inside a pod with a service account (how `auto` decides). */
export function inCluster(env: NodeJS.ProcessEnv = process.env, tokenPath = SERVICE_ACCOUNT_TOKEN): boolean {
  return !!env.KUBERNETES_SERVICE_HOST && existsSync(tokenPath);
}

export interface WatchOptions {
  nodeName: string;
  /** A kubeconfig file; undefined: the in-cluster service account. */
  kubeconfig: string | undefined;
  /** First retry after a failed list or watch; doubles up to 30 s. */
  retryMs?: number;
}

export interface WatchStats {
  podEvents: number;
  replicaSetEvents: number;
  errors: number;
}

interface Watched {
  on(verb: 'add' | 'update' | 'delete', cb: (obj: never) => void): void;
  on(verb: 'error' | 'connect', cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class KubernetesWatch {
  readonly index = new PodIndex();
  readonly stats: WatchStats = { podEvents: 0, replicaSetEvents: 0, errors: 0 };
  private readonly watches: Watched[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private podsListed = false;
  private lastError = '';
  private stopped = false;

  constructor(
    private readonly opts: WatchOptions,
    private readonly log: Logger,
  ) {}

  /** True once this node's pods were listed: until then processes cannot be named. */
  get synced(): boolean {
    return this.podsListed;
  }

  /** Starts both watches; resolves when the first list of pods is in (or rejects with a one-line reason). */
  async start(): Promise<void> {
    // A real dynamic import: the library is ESM-only and this project is CommonJS.
    const k8s = (await import('@kubernetes/client-node')) as ClientModule;
    const kc = new k8s.KubeConfig();
    try {
      if (this.opts.kubeconfig) kc.loadFromFile(this.opts.kubeconfig);
      else kc.loadFromCluster();
    } catch (err) {
      throw new Error(`cannot load the Kubernetes credentials (${(err as Error).message}); check --kubeconfig or the pod's service account`);
    }
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const fieldSelector = `spec.nodeName=${this.opts.nodeName}`;
    // The library starts its watch after a list even when stop() came during
    // that list: once stopped, no new watch is opened (an open one would keep
    // the process from exiting).
    const watcher = () => {
      const w = new k8s.Watch(kc);
      return {
        watch: (path: string, params: Record<string, string | number | boolean | undefined>, cb: (phase: string, obj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void) =>
          this.stopped ? Promise.resolve(new AbortController()) : w.watch(path, params, cb, done),
      } as unknown as InstanceType<ClientModule['Watch']>;
    };
    const pods = new k8s.ListWatch<InstanceType<ClientModule['V1Pod']>>(
      '/api/v1/pods',
      watcher(),
      async () => {
        const list = await core.listPodForAllNamespaces({ fieldSelector });
        // The library adds the items right after this resolves, before any other task runs.
        if (!this.podsListed) queueMicrotask(() => this.log.info({ node: this.opts.nodeName, pods: this.index.size }, 'kubernetes metadata synced'));
        this.podsListed = true;
        return list;
      },
      false,
      undefined,
      fieldSelector,
    );
    const replicaSets = new k8s.ListWatch<InstanceType<ClientModule['V1ReplicaSet']>>(
      '/apis/apps/v1/replicasets',
      watcher(),
      () => apps.listReplicaSetForAllNamespaces(),
      false,
    );
    const index = this.index;
    this.follow<PodObject>(pods as unknown as Watched, 'pods', 'podEvents', (o) => index.upsertPod(o), (o) => index.deletePod(o));
    this.follow<ReplicaSetObject>(replicaSets as unknown as Watched, 'replicasets', 'replicaSetEvents', (o) => index.upsertReplicaSet(o), (o) => index.deleteReplicaSet(o));
    // ReplicaSets first, so the first pods already name their Deployments.
    await replicaSets.start().catch(() => undefined);
    // start() resolves after the first list, or after reporting its failure (keepAlive then retries).
    await pods.start();
    if (!this.podsListed) {
      throw new Error(`cannot list this node's pods yet (${this.lastError}); retrying — check the ClusterRole allows list/watch on pods and that NODE_NAME is the node's name`);
    }
  }

  /** Feeds one watch's objects to the index (adds and updates alike), counts them, and keeps the watch alive. */
  private follow<T>(w: Watched, what: string, counter: 'podEvents' | 'replicaSetEvents', upsert: (obj: T) => void, remove: (obj: T) => void): void {
    const onUpsert = (obj: T) => {
      this.stats[counter]++;
      upsert(obj);
    };
    w.on('add', onUpsert as (obj: never) => void);
    w.on('update', onUpsert as (obj: never) => void);
    w.on('delete', ((obj: T) => {
      this.stats[counter]++;
      remove(obj);
    }) as (obj: never) => void);
    this.watches.push(w);
    this.keepAlive(w, what);
  }

  /** A failed list or watch stops the library's loop: start it again, backing off. */
  private keepAlive(w: Watched, what: string): void {
    let delay = this.opts.retryMs ?? 1000;
    w.on('connect', () => undefined);
    w.on('error', (err) => {
      this.stats.errors++;
      this.lastError = describe(err);
      if (this.stopped) return;
      this.log.warn({ watch: what, error: describe(err), retryInMs: delay }, 'kubernetes watch failed; retrying');
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (!this.stopped) void w.start().then(() => (delay = this.opts.retryMs ?? 1000), () => undefined);
      }, delay);
      t.unref();
      this.timers.add(t);
      delay = Math.min(delay * 2, 30_000);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await Promise.all(this.watches.map((w) => w.stop()));
  }
}

function describe(err: unknown): string {
  // The client's API errors carry the HTTP code and the API server's Status as the body.
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown };
  const code = typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  let reason: string | undefined;
  if (typeof e?.body === 'string') {
    try {
      const status = JSON.parse(e.body) as { message?: unknown };
      if (typeof status.message === 'string') reason = status.message;
    } catch {
      // not a Status: fall back to the message
    }
  }
  reason ??= typeof e?.message === 'string' ? e.message.split('\n')[0] : String(err);
  return code !== undefined ? `HTTP ${code}: ${reason}` : reason;
}
