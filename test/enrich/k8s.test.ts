import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PodIndex, serviceNameOf, workloadAttributes } from '../../src/enrich/k8s/pod-index';
import { planMetadata } from '../../src/enrich/k8s/enable';
import { KubernetesWatch } from '../../src/enrich/k8s/watcher';
import { DEFAULTS } from '../../src/config/config';
import { createLogger } from '../../src/log';
import { FakeKubernetesApi, podObject, replicaSetObject } from '../support/k8s-api';
import { waitUntil } from '../support/wait';

const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);
const ID_C = 'c'.repeat(64);
const POD_UID = '1f2e3d4c-0000-4000-8000-00000000000a';
const RS_UID = '5a5a5a5a-0000-4000-8000-00000000000b';

const shopPod = () =>
  podObject({
    name: 'shop-7d9f8-x2x4z',
    namespace: 'shop',
    uid: POD_UID,
    node: 'node-1',
    ip: '10.1.2.3',
    labels: { 'app.kubernetes.io/name': 'checkout', 'pod-template-hash': '7d9f8' },
    owner: { kind: 'ReplicaSet', name: 'shop-7d9f8', uid: RS_UID },
    containers: [
      { name: 'web', id: ID_A },
      { name: 'envoy', id: ID_B },
    ],
  });

describe('pod index', () => {
  it('finds a container by id and names its Deployment through the ReplicaSet', () => {
    const index = new PodIndex();
    index.upsertPod(shopPod());
    // Before the ReplicaSet is known, the owner is the ReplicaSet itself.
    assert.deepEqual(index.lookup(ID_A, POD_UID)?.owner, { kind: 'ReplicaSet', name: 'shop-7d9f8' });
    index.upsertReplicaSet(replicaSetObject({ name: 'shop-7d9f8', namespace: 'shop', uid: RS_UID, deployment: { name: 'shop', uid: 'd-1' } }));
    const w = index.lookup(ID_A, POD_UID)!;
    assert.deepEqual(workloadAttributes(w), {
      'k8s.namespace.name': 'shop',
      'k8s.pod.name': 'shop-7d9f8-x2x4z',
      'k8s.pod.uid': POD_UID,
      'k8s.container.name': 'web',
      'container.id': ID_A,
      'k8s.node.name': 'node-1',
      'k8s.replicaset.name': 'shop-7d9f8',
      'k8s.deployment.name': 'shop',
    });
    assert.equal(w.service, 'checkout');
    assert.equal(index.lookup(ID_B, undefined)?.containerName, 'envoy');
    // The same object while nothing changed: resources are not rebuilt per transaction.
    assert.equal(index.lookup(ID_A, POD_UID), w);
  });

  it('falls back to the pod UID while the container id is not reported yet', () => {
    const index = new PodIndex();
    index.upsertPod(podObject({ name: 'p', namespace: 'n', uid: POD_UID, node: 'node-1', ip: '10.1.2.4', containers: [{ name: 'only' }] }));
    const w = index.lookup(ID_C, POD_UID)!;
    assert.equal(w.podName, 'p');
    // One container: its name is certain even without the id.
    assert.equal(w.containerName, 'only');
    assert.equal(w.containerId, undefined);
    assert.equal(index.lookup(ID_C, undefined), undefined);
  });

  it('maps pod IPs, but not host-network or finished pods', () => {
    const index = new PodIndex();
    index.upsertPod(shopPod());
    const host = podObject({ name: 'h', namespace: 'kube-system', uid: 'u-h', node: 'node-1', ip: '10.0.0.1', containers: [{ name: 'c', id: ID_C }] });
    host.spec!.hostNetwork = true;
    index.upsertPod(host);
    const done = podObject({ name: 'job-1', namespace: 'batch', uid: 'u-j', node: 'node-1', ip: '10.1.9.9', containers: [{ name: 'c' }] });
    done.status!.phase = 'Succeeded';
    index.upsertPod(done);
    assert.equal(index.podByIp('10.1.2.3')?.service, 'checkout');
    assert.equal(index.podByIp('10.0.0.1'), undefined);
    assert.equal(index.podByIp('10.1.9.9'), undefined);
    index.deletePod(shopPod());
    assert.equal(index.podByIp('10.1.2.3'), undefined);
    assert.equal(index.lookup(ID_A, POD_UID), undefined);
    assert.equal(index.size, 2);
  });

  it('names the service by annotation, then app.kubernetes.io/name, owner, container, pod', () => {
    assert.equal(serviceNameOf({ 'app.kubernetes.io/name': 'l' }, { 'resource.opentelemetry.io/service.name': 'a' }, { name: 'o' }, 'c', 'p'), 'a');
    assert.equal(serviceNameOf({ 'app.kubernetes.io/name': 'l' }, undefined, { name: 'o' }, 'c', 'p'), 'l');
    assert.equal(serviceNameOf({}, {}, { name: 'o' }, 'c', 'p'), 'o');
    assert.equal(serviceNameOf({}, undefined, undefined, 'c', 'p'), 'c');
    assert.equal(serviceNameOf({}, undefined, undefined, undefined, 'p'), 'p');
  });

  it('StatefulSet and DaemonSet owners come from the pod itself', () => {
    const index = new PodIndex();
    index.upsertPod(podObject({ name: 'db-0', namespace: 'data', uid: 'u-s', node: 'n', ip: '10.1.0.5', owner: { kind: 'StatefulSet', name: 'db', uid: 's' }, containers: [{ name: 'pg', id: ID_A }] }));
    index.upsertPod(podObject({ name: 'agent-x', namespace: 'ops', uid: 'u-d', node: 'n', ip: '10.1.0.6', owner: { kind: 'DaemonSet', name: 'agent', uid: 'd' }, containers: [{ name: 'a', id: ID_B }] }));
    assert.equal(workloadAttributes(index.lookup(ID_A, undefined)!)['k8s.statefulset.name'], 'db');
    assert.equal(index.lookup(ID_A, undefined)!.service, 'db');
    assert.equal(workloadAttributes(index.lookup(ID_B, undefined)!)['k8s.daemonset.name'], 'agent');
  });
});

describe('metadata on or off', () => {
  const cfg = { ...DEFAULTS };
  it('auto is off on a plain machine, on in a pod or with a kubeconfig', () => {
    assert.deepEqual(planMetadata(cfg, {}), { on: false });
    assert.deepEqual(planMetadata({ ...cfg, kubeconfig: '/k', nodeName: 'n1' }, {}), { on: true, nodeName: 'n1', kubeconfig: '/k' });
    assert.deepEqual(planMetadata({ ...cfg, nodeName: 'n1' }, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, __filename), { on: true, nodeName: 'n1', kubeconfig: undefined });
    assert.deepEqual(planMetadata({ ...cfg, kubernetes: 'off', kubeconfig: '/k' }, {}), { on: false });
  });

  it('says what is missing', () => {
    assert.throws(() => planMetadata({ ...cfg, kubeconfig: '/k' }, {}), { message: "kubernetes metadata needs this node's name; set NODE_NAME from the downward API (fieldRef spec.nodeName) or node-name" });
    assert.throws(() => planMetadata({ ...cfg, kubernetes: 'on' }, {}), { message: 'kubernetes is on but there is no service account here and no kubeconfig; set kubeconfig or run the agent as a pod' });
    assert.throws(() => planMetadata({ ...cfg, k8sNamespaces: ['shop'] }, {}), {
      message: 'the k8s-namespaces/k8s-pod-labels selection needs pod metadata, and this is not a Kubernetes pod; set kubeconfig (and node-name) or drop those settings',
    });
  });
});

describe('watch of this node’s pods (real client library, in-test API server)', () => {
  const api = new FakeKubernetesApi();
  let watch: KubernetesWatch;
  before(async () => {
    await api.start();
    api.add('replicasets', replicaSetObject({ name: 'shop-7d9f8', namespace: 'shop', uid: RS_UID, deployment: { name: 'shop', uid: 'd-1' } }));
    api.add('pods', shopPod());
    api.add('pods', podObject({ name: 'elsewhere', namespace: 'shop', uid: 'u-other-node', node: 'node-2', ip: '10.2.0.1', containers: [{ name: 'web', id: ID_C }] }));
  });
  after(async () => {
    await watch?.stop();
    await api.close();
  });

  const until = (pred: () => boolean, what: string): Promise<void> => waitUntil(what, pred, 2000, 20);

  it('lists only this node’s pods, follows adds and deletes, and relists after a lost watch', async () => {
    watch = new KubernetesWatch({ nodeName: 'node-1', kubeconfig: api.kubeconfig(), retryMs: 50 }, createLogger('fatal'));
    await watch.start();
    assert.equal(watch.synced, true);
    assert.equal(watch.index.size, 1);
    assert.equal(watch.index.lookup(ID_A, POD_UID)?.owner?.name, 'shop');
    assert.equal(watch.index.lookup(ID_C, undefined), undefined);
    // Every request carried the token; pods were asked for with the node's field selector.
    assert.ok(api.requests.every((r) => r.authorized));
    const podRequests = api.requests.filter((r) => r.url.startsWith('/api/v1/pods'));
    assert.ok(podRequests.length >= 2);
    assert.ok(podRequests.every((r) => new URL(r.url, 'http://x').searchParams.get('fieldSelector') === 'spec.nodeName=node-1'), JSON.stringify(podRequests));
    assert.ok(podRequests.some((r) => new URL(r.url, 'http://x').searchParams.get('watch') === 'true'));

    const second = podObject({ name: 'cart-0', namespace: 'shop', uid: 'u-cart', node: 'node-1', ip: '10.1.2.9', owner: { kind: 'StatefulSet', name: 'cart', uid: 's-1' }, containers: [{ name: 'cart', id: ID_B }] });
    api.add('pods', second);
    await until(() => watch.index.lookup(ID_B, undefined)?.service === 'cart', 'added pod seen');
    api.remove('pods', POD_UID);
    await until(() => watch.index.lookup(ID_A, POD_UID) === undefined, 'deleted pod dropped');
    assert.equal(watch.index.size, 1);

    // The server ends the watches (a timeout): the client watches again from its resourceVersion.
    const before = api.requests.length;
    api.dropWatches();
    await until(() => api.requests.slice(before).some((r) => r.url.includes('watch=true') && r.url.startsWith('/api/v1/pods')), 'pods watched again');
    api.add('pods', shopPod());
    await until(() => watch.index.lookup(ID_A, POD_UID)?.podName === 'shop-7d9f8-x2x4z', 'pod added after the re-watch');
    assert.equal(watch.stats.errors, 0);
  });

  it('a refused first list is reported in one line, retried, and synced once allowed', async () => {
    const refused = new FakeKubernetesApi();
    await refused.start();
    refused.add('pods', shopPod());
    refused.failLists = 403;
    const w = new KubernetesWatch({ nodeName: 'node-1', kubeconfig: refused.kubeconfig(), retryMs: 50 }, createLogger('fatal'));
    try {
      await assert.rejects(w.start(), { message: /^cannot list this node's pods yet \(HTTP 403: injected failure\); retrying — check the ClusterRole allows list\/watch on pods and that NODE_NAME is the node's name$/ });
      assert.equal(w.synced, false);
      refused.failLists = undefined;
      await until(() => w.synced && w.index.size === 1, 'synced after the retry');
      assert.ok(w.stats.errors >= 2);
    } finally {
      await w.stop();
      await refused.close();
    }
  });
});
