// daemonset/: every file the kustomization lists is a valid Kubernetes object
// (checked against the API's OpenAPI schemas), and the objects say exactly
// what the agent needs: its capability list, host mounts, probes on the port
// the config sets, RBAC, the config the agent itself accepts. The examples:
// a collector config that sends traces to Tempo and Jaeger, and a dashboard
// whose every metric and label is one the agent's own code exports.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { PriorityClass } from 'kubernetes-models/scheduling.k8s.io/v1/PriorityClass';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ServiceAccount, type IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IPriorityClass } from 'kubernetes-models/scheduling.k8s.io/v1/PriorityClass';
import { boundPort, startAdminServer } from '../../src/admin/server';
import { DEFAULTS, fromEnv, fromFile, resolveConfig, SETTINGS, type Config } from '../../src/config/config';
import { planMetadata } from '../../src/enrich/k8s/enable';
import { HttpMetrics } from '../../src/export/metrics';
import { registerSelfMetrics, type SelfStats } from '../../src/export/self-metrics';
import type { HttpTransaction } from '../../src/transactions/transaction';
import { ROOT, httpGet } from '../support/agent';
import { clientTx, serverTx } from '../support/transactions';
import { DAEMONSET_CAPABILITIES } from './capabilities';
import { need } from '../support/requirements';
import {
  DAEMONSET_DIR,
  EXAMPLES_DIR,
  TARGET_LABELS,
  agentConfigText,
  agentContainer,
  clusterRole,
  configMap,
  daemonSet,
  dashboard,
  dashboardQueries,
  expositionSeries,
  kustomization,
  manifestObjects,
  queryReferences,
  substituteVariables,
  yamlDocuments,
  type K8sObject,
} from './manifests';

/** Model classes of kubernetes-models: each validates against the official OpenAPI schema. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/DaemonSet': DaemonSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'scheduling.k8s.io/v1/PriorityClass': PriorityClass,
};
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PriorityClass']);

function validate(o: K8sObject): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  assert.ok(Model, `no schema model for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

function objectsOfKind<T>(kind: string): T[] {
  return manifestObjects()
    .filter((o) => o.object.kind === kind)
    .map((o) => o.object as unknown as T);
}

/** The agent's settings from the ConfigMap, as the agent resolves them (plus NODE_NAME from the downward API). */
function resolvedAgentConfig(env: NodeJS.ProcessEnv = {}): Config {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-ds-config-'));
  try {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, agentConfigText());
    return resolveConfig({ file: fromFile(file), env: fromEnv(env) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('daemonset/ (kubectl apply -k)', () => {
  it('the kustomization lists every YAML file of daemonset/ (examples aside), and each listed file exists', () => {
    const k = kustomization();
    assert.equal(k.apiVersion, 'kustomize.config.k8s.io/v1beta1');
    assert.equal(k.kind, 'Kustomization');
    const onDisk = readdirSync(DAEMONSET_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    assert.deepEqual([...k.resources].sort(), onDisk.sort());
    for (const r of k.resources) assert.ok(existsSync(path.join(DAEMONSET_DIR, r)), `${r} listed but missing`);
    assert.equal(new Set(k.resources).size, k.resources.length, 'a file listed twice');
  });

  it('every object validates against the Kubernetes API schema', () => {
    const objects = manifestObjects();
    assert.deepEqual(objects.map((o) => `${o.file}: ${o.object.kind}`).sort(), [
      'clusterrole.yaml: ClusterRole',
      'clusterrolebinding.yaml: ClusterRoleBinding',
      'configmap.yaml: ConfigMap',
      'daemonset.yaml: DaemonSet',
      'namespace.yaml: Namespace',
      'priorityclass.yaml: PriorityClass',
      'service.yaml: Service',
      'serviceaccount.yaml: ServiceAccount',
    ]);
    for (const { file, object } of objects) {
      assert.doesNotThrow(() => validate(object), (err: Error) => `${file}: ${err.message}`);
    }
    // The validator is not a rubber stamp: a wrong type is refused.
    const broken = structuredClone(daemonSet()) as unknown as K8sObject & { spec: { template: { spec: { hostPID: unknown } } } };
    broken.spec.template.spec.hostPID = 'yes';
    assert.throws(() => validate(broken), /hostPID must be boolean/);
  });

  it('namespaced objects are in the kustomization namespace, labelled app.kubernetes.io/name=sidelight', () => {
    const k = kustomization();
    assert.equal(k.namespace, 'sidelight');
    for (const { file, object } of manifestObjects()) {
      assert.equal(object.metadata.namespace, CLUSTER_SCOPED.has(object.kind) ? undefined : k.namespace, file);
      assert.equal(object.metadata.labels?.['app.kubernetes.io/name'], 'sidelight', file);
    }
    const [ns] = objectsOfKind<INamespace>('Namespace');
    assert.equal(ns!.metadata!.name, k.namespace);
    // Pod Security admission: "baseline" refuses hostPID, hostPath and these capabilities.
    assert.equal(ns!.metadata!.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
  });

  it('the image is sidelight:<package version>, and the kustomization can rename and retag it', () => {
    const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.deepEqual(kustomization().images, [{ name: 'sidelight', newName: 'sidelight', newTag: version }]);
    const c = agentContainer();
    assert.equal(c.image, `sidelight:${version}`);
    assert.equal(daemonSet().metadata?.labels?.['app.kubernetes.io/version'], version);
  });

  it('the pod: hostPID, not privileged, no escalation, read-only root, uid 0, exactly the capability list, RuntimeDefault seccomp', () => {
    const ds = daemonSet();
    const pod = ds.spec!.template.spec!;
    assert.equal(pod.hostPID, true);
    assert.equal(pod.hostNetwork, false);
    assert.equal(pod.hostIPC, undefined);
    assert.equal(pod.securityContext, undefined, 'no pod-level securityContext: everything is on the container');
    const sc = agentContainer(ds).securityContext;
    assert.deepEqual(sc, {
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      capabilities: { drop: ['ALL'], add: [...DAEMONSET_CAPABILITIES] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('host mounts: only tracefs, read-only; the config at /etc/sidelight; nothing else', () => {
    const ds = daemonSet();
    const volumes = ds.spec!.template.spec!.volumes ?? [];
    assert.deepEqual(
      volumes.filter((v) => v.hostPath).map((v) => ({ name: v.name, ...v.hostPath })),
      [{ name: 'tracefs', path: '/sys/kernel/tracing', type: 'Directory' }],
    );
    assert.deepEqual(volumes.map((v) => v.name).sort(), ['config', 'tracefs']);
    assert.deepEqual(volumes.find((v) => v.name === 'config')?.configMap, { name: configMap().metadata!.name });
    assert.deepEqual(agentContainer(ds).volumeMounts, [
      { name: 'config', mountPath: '/etc/sidelight', readOnly: true },
      { name: 'tracefs', mountPath: '/sys/kernel/tracing', readOnly: true },
    ]);
  });

  it('runs `run --config` on the mounted file, with NODE_NAME from the downward API', () => {
    const c = agentContainer();
    assert.equal(c.command, undefined, 'the image entrypoint (node bin/sidelight.js) is kept');
    assert.deepEqual(c.args, ['run', '--config', '/etc/sidelight/config.yaml']);
    assert.ok(configMap().data?.['config.yaml'], 'the ConfigMap key the --config path names');
    assert.deepEqual(c.env, [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
    assert.ok(SETTINGS.nodeName.env.includes('NODE_NAME'), 'the agent reads NODE_NAME');
  });

  it('probes and the Prometheus annotations use the admin port the config sets', () => {
    const ds = daemonSet();
    const c = agentContainer(ds);
    const adminPort = resolvedAgentConfig().adminPort;
    assert.equal(adminPort, 9464);
    assert.deepEqual(c.ports, [{ name: 'admin', containerPort: adminPort, protocol: 'TCP' }]);
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'admin' });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'admin' });
    assert.deepEqual(ds.spec!.template.metadata?.annotations, {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(adminPort),
      'prometheus.io/path': '/metrics',
    });
  });

  it('the admin server really serves the probe and scrape paths', async () => {
    const c = agentContainer();
    const paths = [c.livenessProbe!.httpGet!.path!, c.readinessProbe!.httpGet!.path!, daemonSet().spec!.template.metadata!.annotations!['prometheus.io/path']!];
    const server = await startAdminServer('127.0.0.1', 0, {
      ready: () => true,
      stats: () => ({}),
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: '# nothing yet\n' }),
    });
    try {
      const port = boundPort(server);
      for (const p of paths) assert.equal((await httpGet(port, p)).status, 200, p);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('schedules on every node, first, one node at a time', () => {
    const ds = daemonSet();
    const pod = ds.spec!.template.spec!;
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/os': 'linux' });
    const [pc] = objectsOfKind<IPriorityClass>('PriorityClass');
    assert.equal(pod.priorityClassName, pc!.metadata!.name);
    assert.ok(pc!.value > 0 && pc!.value < 1_000_000_000, 'above workloads, below the system-* classes');
    assert.equal(pc!.globalDefault, false);
    assert.deepEqual(ds.spec!.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    assert.equal(pod.terminationGracePeriodSeconds, 30);
    assert.deepEqual(agentContainer(ds).resources, { requests: { cpu: '100m', memory: '200Mi' }, limits: { cpu: '1', memory: '512Mi' } });
  });

  it('RBAC: read-only pods and replicasets, granted to the service account the pod runs as', () => {
    assert.deepEqual(clusterRole().rules, [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
    ]);
    const [sa] = objectsOfKind<IServiceAccount>('ServiceAccount');
    const [binding] = objectsOfKind<IClusterRoleBinding>('ClusterRoleBinding');
    const pod = daemonSet().spec!.template.spec!;
    assert.equal(pod.serviceAccountName, sa!.metadata!.name);
    assert.equal(pod.automountServiceAccountToken, true);
    assert.deepEqual(binding!.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole().metadata!.name });
    assert.deepEqual(binding!.subjects, [{ kind: 'ServiceAccount', name: sa!.metadata!.name, namespace: sa!.metadata!.namespace }]);
  });

  it('the Service selects the DaemonSet pods and targets the admin port, headless', () => {
    const ds = daemonSet();
    const [svc] = objectsOfKind<IService>('Service');
    const podLabels = ds.spec!.template.metadata!.labels!;
    assert.deepEqual(svc!.spec!.selector, ds.spec!.selector.matchLabels);
    for (const [k, v] of Object.entries(ds.spec!.selector.matchLabels!)) assert.equal(podLabels[k], v, `pod label ${k}`);
    assert.equal(svc!.spec!.clusterIP, 'None');
    assert.deepEqual(svc!.spec!.ports, [{ name: 'admin', port: 9464, targetPort: 'admin', protocol: 'TCP' }]);
    assert.ok(agentContainer(ds).ports!.some((p) => p.name === svc!.spec!.ports![0]!.targetPort));
  });

  it("the ConfigMap's config.yaml is accepted by the agent's own validation, with the expected values", () => {
    const text = agentConfigText();
    const keys = Object.keys(parseYaml(text) as Record<string, unknown>);
    // Node-local or test-only settings make no sense for every node of a cluster.
    for (const k of ['pids', 'duration', 'kubeconfig', 'node-name', 'ports']) assert.ok(!keys.includes(k), `${k} in the cluster config`);
    const config = resolvedAgentConfig({ NODE_NAME: 'node-a' });
    assert.deepEqual(config, {
      ...DEFAULTS,
      output: 'none',
      kubernetes: 'on',
      nodeName: 'node-a',
      adminHost: '0.0.0.0',
      adminPort: 9464,
      logLevel: 'info',
      otlpEndpoint: 'http://otel-collector.observability:4318',
      otlpProtocol: 'http/protobuf',
      metricIntervalMs: 60_000,
      sampler: 'parentbased_always_on',
      excludeK8sNamespaces: ['kube-system'],
      ignoreRoutes: ['/healthz', '/readyz', '/livez'],
      redactQuery: true,
      commandLine: false,
      maxRoutesPerService: 500,
    } satisfies Config);
    // In a pod (service account token present) pod metadata turns on for this node.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-sa-'));
    try {
      const token = path.join(dir, 'token');
      writeFileSync(token, 'x');
      assert.deepEqual(planMetadata(config, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, token), { on: true, nodeName: 'node-a', kubeconfig: undefined });
      // Without NODE_NAME the agent refuses to start rather than watch every node's pods.
      assert.throws(() => planMetadata(resolvedAgentConfig(), { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, token), /NODE_NAME/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// --- examples ---------------------------------------------------------------

interface CollectorConfig {
  receivers: Record<string, { protocols?: Record<string, { endpoint?: string }> } | null>;
  processors: Record<string, unknown>;
  exporters: Record<string, { endpoint?: string } | null>;
  service: { pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }> };
}

const needPromtool = (t: TestContext): boolean =>
  need(t, 'needs promtool', existsSync('/usr/bin/promtool') ? undefined : '/usr/bin/promtool missing: install the Debian package "prometheus" (SIDELIGHT_SETUP_PEERS=1 bash scripts/setup.sh)');

/** An exposition made by the agent's own metric code, with every kind of series the dashboard reads. */
async function agentExposition(): Promise<string> {
  const registry = new Registry();
  const metrics = new HttpMetrics(registry);
  const tx = (base: HttpTransaction, over: Partial<HttpTransaction>): HttpTransaction => ({ ...base, ...over });
  metrics.record(tx(serverTx, { status: 200 }), 'checkout');
  metrics.record(tx(serverTx, { status: 503 }), 'checkout');
  metrics.record(tx(clientTx, { status: 200, route: '/orders' }), 'frontend');
  const grpc = { system: 'grpc' as const, service: 'shop.Cart', method: 'Add', statusCode: 0, requestMessages: 1, responseMessages: 1, messagesExact: true };
  metrics.record(tx(serverTx, { protocol: 'HTTP/2', method: 'POST', rpc: grpc }), 'cart');
  metrics.record(tx(clientTx, { protocol: 'HTTP/2', method: 'POST', rpc: { ...grpc, statusCode: 14 } }), 'checkout');
  const stats: SelfStats = {
    eventsReceived: 10,
    kernelDrops: 0,
    bytesUnparsed: { lost: 0, unclassified: 0 },
    parseErrors: { http1: 0, hpack: 0 },
    http2Unknown: { hpack_refs: 0 },
    http2Streams: { reset: 0 },
    connectionsTracked: 2,
    connectionsLimited: {},
    transactions: 5,
    spansExported: 5,
    spansDropped: { queue_full: 0 },
    exportErrors: { traces: 0, metrics: 0 },
    routesOverflowed: 0,
    routesIgnored: 0,
    eventsDeselected: 0,
    processesExcluded: {},
    kubernetesWatchErrors: 0,
    tlsLibraries: { attached: 1, failed: 0 },
  };
  registerSelfMetrics(registry, () => stats);
  return registry.metrics();
}

describe('daemonset/examples', () => {
  it('otel-collector.yaml: OTLP in (gRPC 4317, HTTP 4318), traces out to Tempo and Jaeger, metrics to Prometheus', () => {
    const docs = yamlDocuments(path.join(EXAMPLES_DIR, 'otel-collector.yaml')) as K8sObject[];
    assert.equal(docs.length, 1);
    validate(docs[0]!);
    const cfg = parseYaml((docs[0] as unknown as { data: Record<string, string> }).data['config.yaml']!) as CollectorConfig;
    assert.deepEqual(cfg.receivers.otlp?.protocols, { grpc: { endpoint: '0.0.0.0:4317' }, http: { endpoint: '0.0.0.0:4318' } });
    assert.ok('batch' in cfg.processors);
    const { traces, metrics } = cfg.service.pipelines;
    assert.ok(traces && metrics, 'traces and metrics pipelines');
    assert.deepEqual(traces.receivers, ['otlp']);
    assert.ok(traces.processors?.includes('batch') && metrics.processors?.includes('batch'));
    // Exporter ids are type[/name]; the OTLP gRPC exporter is otlp_grpc (otlp before collector v0.144).
    const endpoints = traces.exporters.map((id) => {
      assert.match(id, /^(otlp_grpc|otlp)\//, id);
      return cfg.exporters[id]?.endpoint;
    });
    assert.deepEqual(endpoints.sort(), ['jaeger-collector:4317', 'tempo:4317']);
    assert.ok(traces.exporters.some((id) => id.endsWith('/tempo')) && traces.exporters.some((id) => id.endsWith('/jaeger')));
    assert.deepEqual(metrics.receivers, ['otlp']);
    assert.ok(metrics.exporters.every((id) => /^(prometheus|prometheusremotewrite)(\/|$)/.test(id)) && metrics.exporters.length > 0);
    // Every component a pipeline names is configured, and every configured one is used.
    const used = { receivers: new Set<string>(), processors: new Set<string>(), exporters: new Set<string>() };
    for (const p of Object.values(cfg.service.pipelines)) {
      p.receivers.forEach((r) => used.receivers.add(r));
      (p.processors ?? []).forEach((r) => used.processors.add(r));
      p.exporters.forEach((r) => used.exporters.add(r));
    }
    for (const section of ['receivers', 'processors', 'exporters'] as const) {
      assert.deepEqual([...used[section]].sort(), Object.keys(cfg[section]).sort(), section);
    }
  });

  it('grafana-dashboard.json: a service variable, and rate / errors / p50-p95-p99 for HTTP server and client', () => {
    const d = dashboard();
    assert.equal(typeof d.uid, 'string');
    assert.equal(typeof d.title, 'string');
    const vars = d.templating.list as { name: string; type: string; query?: unknown; definition?: string; includeAll?: boolean; multi?: boolean; allValue?: string }[];
    assert.deepEqual(vars.map((v) => [v.name, v.type]), [['datasource', 'datasource'], ['service', 'query']]);
    const service = vars[1]!;
    assert.match(service.definition!, /^label_values\(.*, service_name\)$/);
    assert.deepEqual([service.multi, service.includeAll, service.allValue], [true, true, '.*']);
    const queries = dashboardQueries(d);
    const exprs = (panel: string) => queries.filter((q) => q.panel === panel).map((q) => q.expr);
    for (const side of ['server', 'client']) {
      const by = side === 'server' ? 'service_name, http_route' : 'service_name, server_address, http_route';
      const metric = `http_${side}_request_duration_seconds`;
      assert.deepEqual(exprs(`HTTP ${side}: request rate`), [`sum by (${by}) (rate(${metric}_count{service_name=~"$service"}[$__rate_interval]))`]);
      assert.deepEqual(exprs(`HTTP ${side}: error rate`), [
        `sum by (${by}) (rate(${metric}_count{service_name=~"$service", http_response_status_code=~"5.."}[$__rate_interval])) / sum by (${by}) (rate(${metric}_count{service_name=~"$service"}[$__rate_interval]))`,
      ]);
      assert.deepEqual(
        exprs(`HTTP ${side}: latency p50 / p95 / p99`),
        [0.5, 0.95, 0.99].map((q) => `histogram_quantile(${q}, sum by (le, ${by}) (rate(${metric}_bucket{service_name=~"$service"}[$__rate_interval])))`),
      );
    }
    for (const side of ['server', 'client']) {
      assert.equal(exprs(`gRPC ${side}: error rate`).length, 1);
      assert.match(exprs(`gRPC ${side}: error rate`)[0]!, /rpc_grpc_status_code!~"0\|"/);
    }
    // Every request panel follows the service variable.
    for (const q of queries.filter((q) => /^(HTTP|gRPC)/.test(q.panel))) assert.match(q.expr, /service_name=~"\$service"/, q.panel);
  });

  it('every metric and label the dashboard reads is one the agent exports (its own metric code)', async () => {
    const series = expositionSeries(await agentExposition());
    const queries = dashboardQueries();
    assert.ok(queries.length >= 20);
    for (const q of queries) {
      const refs = queryReferences(q.expr);
      assert.ok(refs.metrics.length > 0, `${q.panel}: no metric in ${q.expr}`);
      for (const m of refs.metrics) {
        const labels = series.get(m);
        assert.ok(labels, `${q.panel}: ${m} is not exported by the agent`);
        for (const l of refs.labels) assert.ok(labels.has(l) || TARGET_LABELS.has(l), `${q.panel}: ${m} has no label ${l}`);
      }
    }
  });

  it('every dashboard expression is valid PromQL (promtool)', (t) => {
    if (!needPromtool(t)) return;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-dash-'));
    try {
      const rules = dashboardQueries().map((q, i) => ({ record: `sidelight:dashboard_query_${i}`, expr: substituteVariables(q.expr, { service: 'checkout', rateInterval: '1m' }) }));
      const file = path.join(dir, 'rules.yml');
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = spawnSync('/usr/bin/promtool', ['check', 'rules', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
