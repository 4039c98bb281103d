// Pod metadata end to end: a real server process placed in a kubepods
// cgroup (as the kubelet's runtime would), an in-test API server listing and
// watching this node's pods and ReplicaSets, the real agent, real curl, and
// spans checked at an OTLP receiver built from the official protos.
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort, httpGet, startAgent, type RunningAgent } from '../support/agent';
import { FakeKubernetesApi, podObject, replicaSetObject } from '../support/k8s-api';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { spawn } from '../support/children';
import { bpfSkip } from '../support/requirements';
import { sleep } from '../support/wait';

const run = promisify(execFile);
const skip = bpfSkip();

const CONTAINER_ID = 'e2e0'.repeat(16);
const POD_UID = '7c6b5a49-1e2d-4f00-9a8b-0123456789ab';
const RS_UID = '0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6';
const POD_IP = '127.0.0.2'; // a loopback address of its own: the "pod's" IP as curl dials it
const NODE = 'node-e2e';

/** Where cgroup v2 is mounted (/sys/fs/cgroup on v2-only hosts, …/unified on hybrid ones). */
function cgroup2Root(): string {
  const line = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[2] === 'cgroup2');
  if (!line) throw new Error('no cgroup2 mount: this test places a process in a kubepods cgroup');
  return line.split(' ')[1];
}

/** The systemd-driver layout the kubelet uses for a BestEffort pod's containerd container. */
function podCgroupDirs(root: string): string[] {
  const slice = `kubepods-besteffort-pod${POD_UID.replace(/-/g, '_')}.slice`;
  const base = path.join(root, 'kubepods.slice');
  return [base, path.join(base, 'kubepods-besteffort.slice'), path.join(base, 'kubepods-besteffort.slice', slice), path.join(base, 'kubepods-besteffort.slice', slice, `cri-containerd-${CONTAINER_ID}.scope`)];
}

const SERVER = `
const http = require('node:http');
process.stdin.once('data', () => {
  http.createServer((req, res) => res.writeHead(200, { 'content-length': 2 }).end('ok')).listen(Number(process.argv[1]), '${POD_IP}', () => process.stdout.write('listening\\n'));
});`;

describe('Kubernetes pod metadata', { skip }, () => {
  const api = new FakeKubernetesApi();
  let receiver: OtlpReceiver;
  let agent: RunningAgent | undefined;
  let server: ChildProcess | undefined;
  const dirs: string[] = [];
  let port = 0;

  before(async () => {
    await api.start();
    receiver = await OtlpReceiver.start({ transport: 'http' });
    api.add('replicasets', replicaSetObject({ name: 'checkout-6c9f7', namespace: 'shop', uid: RS_UID, deployment: { name: 'checkout', uid: 'dep-uid-1' } }));
    api.add(
      'pods',
      podObject({
        name: 'checkout-6c9f7-qx2lp',
        namespace: 'shop',
        uid: POD_UID,
        node: NODE,
        ip: POD_IP,
        labels: { 'app.kubernetes.io/name': 'checkout-api', 'pod-template-hash': '6c9f7' },
        owner: { kind: 'ReplicaSet', name: 'checkout-6c9f7', uid: RS_UID },
        containers: [{ name: 'api', id: CONTAINER_ID }],
      }),
    );
    // Another node's pod with the same IP: the field selector must keep it out.
    api.add('pods', podObject({ name: 'other-node-pod', namespace: 'shop', uid: 'uid-elsewhere', node: 'node-other', ip: '10.9.9.9', containers: [{ name: 'x', id: 'f'.repeat(64) }] }));

    // The server process, moved into its container's cgroup before it listens.
    port = await freePort();
    // Only what this test makes is removed afterwards.
    const all = podCgroupDirs(cgroup2Root());
    for (const d of all) {
      if (!existsSync(d)) {
        mkdirSync(d);
        dirs.push(d);
      }
    }
    server = spawn(process.execPath, ['-e', SERVER, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
    writeFileSync(path.join(all[all.length - 1], 'cgroup.procs'), String(server.pid));
    const listening = new Promise<void>((resolve) => server!.stdout!.once('data', () => resolve()));
    server.stdin!.write('go\n');
    await listening;
    assert.match(readFileSync(`/proc/${server.pid}/cgroup`, 'utf8'), new RegExp(`cri-containerd-${CONTAINER_ID}\\.scope`));
  });

  after(async () => {
    if (agent && agent.child.exitCode === null) agent.child.kill('SIGKILL');
    server?.kill('SIGKILL');
    await sleep(200);
    // Leaf first; an emptied cgroup can be removed.
    for (const d of [...dirs].reverse()) if (existsSync(d)) rmdirSync(d);
    await receiver?.stop();
    await api.close();
  });

  it('names spans by pod, workload and service, names the peer pod on client spans, and drops a deleted pod', async () => {
    agent = await startAgent([
      '--kubernetes', 'on',
      '--kubeconfig', api.kubeconfig(),
      '--node-name', NODE,
      '--port', String(port),
      '--otlp-endpoint', receiver.endpoint,
      '--span-delay', '100',
      '--metric-interval', '600000',
    ]);
    // Ready only once this node's pods are listed.
    const stats = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { kubernetes: { synced: boolean; pods: number } };
    assert.deepEqual({ synced: stats.kubernetes.synced, pods: stats.kubernetes.pods }, { synced: true, pods: 1 });

    for (let i = 0; i < 3; i++) await run('curl', ['-s', '-o', '/dev/null', `http://${POD_IP}:${port}/cart/${i}`]);
    const spans = await receiver.waitForSpans(6, 10_000);
    await sleep(300);
    assert.equal(receiver.spans.length, 6);
    const serverSpans = spans.filter((s) => s.kind === 2);
    const clientSpans = spans.filter((s) => s.kind === 3);
    assert.equal(serverSpans.length, 3);
    assert.equal(clientSpans.length, 3);
    for (const s of serverSpans) {
      assert.deepEqual(k8sResource(s), {
        'service.name': 'checkout-api',
        'service.namespace': 'shop',
        'service.instance.id': 'shop.checkout-6c9f7-qx2lp.api',
        'k8s.namespace.name': 'shop',
        'k8s.pod.name': 'checkout-6c9f7-qx2lp',
        'k8s.pod.uid': POD_UID,
        'k8s.container.name': 'api',
        'container.id': CONTAINER_ID,
        'k8s.node.name': NODE,
        'k8s.replicaset.name': 'checkout-6c9f7',
        'k8s.deployment.name': 'checkout',
      });
      assert.equal(s.resource['process.pid'], server!.pid);
      // The client (curl) runs on the host: no pod to name on this side.
      assert.equal(s.attributes['client.service.name'], undefined);
    }
    for (const s of clientSpans) {
      // curl is a host process: no Kubernetes resource attributes of its own.
      assert.deepEqual(k8sResource(s), { 'service.name': 'curl', 'service.instance.id': s.resource['service.instance.id'] });
      assert.equal(s.attributes['server.service.name'], 'checkout-api');
      assert.equal(s.attributes['server.service.namespace'], 'shop');
      assert.equal(s.attributes['sidelight.server.k8s.pod.name'], 'checkout-6c9f7-qx2lp');
      assert.equal(s.attributes['network.peer.address'], POD_IP);
    }

    // The pod goes away mid-run: the watch drops it, and later spans carry no pod names.
    api.remove('pods', POD_UID);
    for (let i = 0; i < 50; i++) {
      const s = JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { kubernetes: { pods: number } };
      if (s.kubernetes.pods === 0) break;
      await sleep(50);
    }
    await run('curl', ['-s', '-o', '/dev/null', `http://${POD_IP}:${port}/cart/after`]);
    await receiver.waitForSpans(8, 10_000);
    await sleep(300);
    assert.equal(receiver.spans.length, 8);
    const late = receiver.spans.slice(6);
    const lateServer = late.find((s) => s.kind === 2)!;
    const lateClient = late.find((s) => s.kind === 3)!;
    assert.deepEqual(k8sResource(lateServer), { 'service.name': 'node', 'service.instance.id': lateServer.resource['service.instance.id'] });
    assert.equal(lateServer.attributes['url.path'], '/cart/after');
    assert.equal(lateClient.attributes['server.service.name'], undefined);

    agent.child.kill('SIGINT');
    assert.equal(await agent.exited, 0, agent.stderr);
    // Every API request carried the service account's token; pods were asked for by node.
    assert.ok(api.requests.every((r) => r.authorized));
    assert.ok(api.requests.filter((r) => r.url.startsWith('/api/v1/pods')).every((r) => r.url.includes(`fieldSelector=spec.nodeName%3D${NODE}`)), JSON.stringify(api.requests));
  });
});

/** The resource attributes that depend on Kubernetes (and the service identity). */
function k8sResource(s: ReceivedSpan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.resource)) if (k.startsWith('k8s.') || k.startsWith('service.') || k === 'container.id') out[k] = v;
  return out;
}
