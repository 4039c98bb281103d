// An in-test Kubernetes API server: the list and watch endpoints of Pods and
// ReplicaSets, as the real one answers them (JSON lists with a
// resourceVersion; watches as a stream of {type, object} lines; field
// selector spec.nodeName applied; bearer token required; TLS with a
// certificate made by openssl for 127.0.0.1, which the client verifies).
// Enough for the real client library to list, watch and see objects come and go.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { PodObject, ReplicaSetObject } from '../../src/enrich/k8s/objects';

type Kind = 'pods' | 'replicasets';
type Stored = (PodObject | ReplicaSetObject) & { metadata: { uid: string; resourceVersion?: string } };

const PATHS: Record<string, Kind> = { '/api/v1/pods': 'pods', '/apis/apps/v1/replicasets': 'replicasets' };
const LIST_KIND: Record<Kind, { kind: string; apiVersion: string; itemKind: string }> = {
  pods: { kind: 'PodList', apiVersion: 'v1', itemKind: 'Pod' },
  replicasets: { kind: 'ReplicaSetList', apiVersion: 'apps/v1', itemKind: 'ReplicaSet' },
};

export const TOKEN = 'test-token-0123456789';

export class FakeKubernetesApi {
  /** Every request: method, path and query, and whether its bearer token was right. */
  readonly requests: { method: string; url: string; authorized: boolean }[] = [];
  private readonly objects: Record<Kind, Map<string, Stored>> = { pods: new Map(), replicasets: new Map() };
  private readonly watchers = new Set<{ kind: Kind; node: string | undefined; res: http.ServerResponse }>();
  private rv = 1000;
  private server: https.Server | undefined;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-kube-'));
  private cert = '';
  private readonly sockets = new Set<Socket>();
  /** Answer lists with this status instead (to test failures). */
  failLists: number | undefined;

  async start(): Promise<number> {
    const key = path.join(this.dir, 'key.pem');
    const crt = path.join(this.dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', crt], { stdio: 'ignore' });
    this.cert = readFileSync(crt, 'utf8');
    this.server = https.createServer({ key: readFileSync(key), cert: this.cert }, (req, res) => this.handle(req, res));
    // Every raw socket, TLS handshakes in progress included, so close() ends them all.
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  /** A kubeconfig file for this server: its CA, token auth. */
  kubeconfig(): string {
    const file = path.join(this.dir, 'config');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: test`,
        `  cluster: {server: "https://127.0.0.1:${this.port}", certificate-authority-data: "${Buffer.from(this.cert).toString('base64')}"}`,
        'users:',
        '- name: agent',
        `  user: {token: "${TOKEN}"}`,
        'contexts:',
        '- name: test',
        '  context: {cluster: test, user: agent}',
        'current-context: test',
        '',
      ].join('\n'),
    );
    return file;
  }

  add(kind: Kind, obj: PodObject | ReplicaSetObject): void {
    this.put(kind, obj, 'ADDED');
  }

  update(kind: Kind, obj: PodObject | ReplicaSetObject): void {
    this.put(kind, obj, 'MODIFIED');
  }

  remove(kind: Kind, uid: string): void {
    const old = this.objects[kind].get(uid);
    if (!old) throw new Error(`no ${kind} ${uid}`);
    this.objects[kind].delete(uid);
    const gone = { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.notify(kind, 'DELETED', gone);
  }

  /** Ends every open watch (as the API server does when a watch times out). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  async close(): Promise<void> {
    this.dropWatches();
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private put(kind: Kind, obj: PodObject | ReplicaSetObject, type: 'ADDED' | 'MODIFIED'): void {
    const uid = obj.metadata?.uid;
    if (!uid) throw new Error('object without metadata.uid');
    const stored = {
      apiVersion: LIST_KIND[kind].apiVersion,
      kind: LIST_KIND[kind].itemKind,
      ...obj,
      metadata: { ...obj.metadata, uid, resourceVersion: String(++this.rv) },
    } as unknown as Stored;
    this.objects[kind].set(uid, stored);
    this.notify(kind, type, stored);
  }

  private notify(kind: Kind, type: string, obj: Stored): void {
    for (const w of this.watchers) {
      if (w.kind === kind && matchesNode(obj, w.node)) w.res.write(`${JSON.stringify({ type, object: obj })}\n`);
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const authorized = req.headers.authorization === `Bearer ${TOKEN}`;
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', authorized });
    const kind = PATHS[url.pathname];
    if (!authorized) return json(res, 401, status(401, 'Unauthorized'));
    if (!kind || req.method !== 'GET') return json(res, 404, status(404, `the server could not find the requested resource (${url.pathname})`));
    const selector = url.searchParams.get('fieldSelector');
    let node: string | undefined;
    if (selector !== null) {
      const m = /^spec\.nodeName=(.+)$/.exec(selector);
      if (!m || kind !== 'pods') return json(res, 400, status(400, `field label not supported: ${selector}`));
      node = m[1];
    }
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      const w = { kind, node, res };
      this.watchers.add(w);
      req.on('close', () => this.watchers.delete(w));
      return;
    }
    if (this.failLists !== undefined) return json(res, this.failLists, status(this.failLists, 'injected failure'));
    const items = [...this.objects[kind].values()].filter((o) => matchesNode(o, node));
    json(res, 200, { kind: LIST_KIND[kind].kind, apiVersion: LIST_KIND[kind].apiVersion, metadata: { resourceVersion: String(this.rv) }, items });
  }
}

function matchesNode(obj: Stored, node: string | undefined): boolean {
  return node === undefined || (obj as PodObject).spec?.nodeName === node;
}

function status(code: number, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: code === 401 ? 'Unauthorized' : 'NotFound', code };
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A pod as the API server returns it once scheduled and running (the fields sidelight reads, and the usual others). */
export function podObject(o: {
  name: string;
  namespace: string;
  uid: string;
  node: string;
  ip: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  owner?: { kind: string; name: string; uid: string };
  containers: { name: string; id?: string }[];
}): PodObject {
  return {
    metadata: {
      name: o.name,
      namespace: o.namespace,
      uid: o.uid,
      labels: o.labels ?? {},
      annotations: o.annotations,
      ownerReferences: o.owner ? [{ ...o.owner, controller: true }] : undefined,
      creationTimestamp: '2026-11-23T10:00:00Z',
    } as PodObject['metadata'],
    spec: {
      nodeName: o.node,
      containers: o.containers.map((c) => ({ name: c.name, image: `registry.example/${c.name}:1.0` })),
      restartPolicy: 'Always',
      serviceAccountName: 'default',
    } as PodObject['spec'],
    status: {
      phase: 'Running',
      podIP: o.ip,
      podIPs: [{ ip: o.ip }],
      hostIP: '10.0.0.1',
      containerStatuses: o.containers.map((c) => ({
        name: c.name,
        containerID: c.id ? `containerd://${c.id}` : undefined,
        ready: c.id !== undefined,
        restartCount: 0,
        image: `registry.example/${c.name}:1.0`,
        imageID: '',
      })),
    } as PodObject['status'],
  };
}

export function replicaSetObject(o: { name: string; namespace: string; uid: string; deployment?: { name: string; uid: string } }): ReplicaSetObject {
  return {
    metadata: {
      name: o.name,
      namespace: o.namespace,
      uid: o.uid,
      ownerReferences: o.deployment ? [{ apiVersion: 'apps/v1', kind: 'Deployment', name: o.deployment.name, uid: o.deployment.uid, controller: true, blockOwnerDeletion: true }] : undefined,
    } as ReplicaSetObject['metadata'],
  };
}
