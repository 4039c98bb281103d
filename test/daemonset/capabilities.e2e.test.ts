// The DaemonSet's least-privilege claim, on the real kernel: the agent runs
// as uid 0 with exactly the capabilities daemonset.yaml adds (bounding,
// permitted and effective set; inheritable and ambient empty; no_new_privs
// on, as allowPrivilegeEscalation: false sets it), in a mount namespace where
// every mount is read-only (readOnlyRootFilesystem, the read-only tracefs
// mount), with the ConfigMap's config file. It must then capture exactly the
// test's requests, answer the manifest's probes, list and watch only what the
// ClusterRole allows, and serve the metrics the example dashboard reads.
// Dropping any one capability of the list must lose something: BPF or
// PERFMON stop the agent with its one-line error (with SYS_ADMIN gone too: it
// stands in for both); SYS_ADMIN loses the TLS uprobes; SYS_PTRACE loses
// process names by executable.
import assert from 'node:assert/strict';
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { BIN, RunningAgent, freePort, httpGet, kernelObjectsAfterExit } from '../support/agent';
import { FakeKubernetesApi } from '../support/k8s-api';
import { OtlpReceiver } from '../support/otlp-receiver';
import { PrometheusServer, prometheusBinary, type Sample } from '../support/prometheus';
import { DAEMONSET_CAPABILITIES, capabilityMask, setprivArgs, statusCaps } from './capabilities';
import { spawn } from '../support/children';
import { bpfSkip } from '../support/requirements';
import { sleep } from '../support/wait';
import {
  TARGET_LABELS,
  agentConfigText,
  agentContainer,
  allowedBy,
  clusterRole,
  daemonSet,
  dashboardQueries,
  expositionFamilies,
  expositionSeries,
  familyOf,
  queryReferences,
  substituteVariables,
} from './manifests';

const run = promisify(execFile);
const skip = bpfSkip();

const NODE = 'node-capabilities';
const TRACEFS = '/sys/kernel/tracing';
/** The test's traffic: method GET, path, the status the server answers. */
const REQUESTS: [string, number][] = [
  ['/cap/one', 200],
  ['/cap/two', 200],
  ['/cap/fail', 503],
];
/** The server's thread name (process.title sets it): differs from its executable's name, node. */
const SERVER_TITLE = 'sl-capsrv';
const SERVER = `
process.title = ${JSON.stringify(SERVER_TITLE)};
require('node:http')
  .createServer((req, res) => {
    const fail = req.url === '/cap/fail';
    res.writeHead(fail ? 503 : 200, { 'content-length': 2 }).end(fail ? 'no' : 'ok');
  })
  .listen(Number(process.argv[1]), '127.0.0.1', () => process.stdout.write('listening\\n'));`;

/**
 * In a private mount namespace, every mount remounted read-only (the pod's
 * read-only root filesystem and read-only mounts), then the command.
 * Mount points in /proc/self/mounts escape spaces as octal, which printf %b undoes.
 */
const READ_ONLY_MOUNTS = `awk '{print $2}' /proc/self/mounts | while read -r mp; do mount -o remount,bind,ro "$(printf '%b' "$mp")" 2>/dev/null || true; done; exec "$@"`;

interface Scenario {
  caps: readonly string[];
  port: number;
  adminPort: number;
  configFile: string;
  kubeconfig: string;
  otlpEndpoint: string;
}

/**
 * The agent as the DaemonSet runs it: `run --config <the ConfigMap's file>`,
 * NODE_NAME from the environment, uid 0 with exactly `caps`. Flags override
 * only what must differ outside a cluster: stdout output (to assert on),
 * the admin port (a free one, on loopback), the kubeconfig (the in-test API
 * server instead of the service account), the OTLP endpoint (an in-test
 * receiver) and the port filter (only the test's own traffic).
 */
function spawnAgent(s: Scenario): ChildProcess {
  const agentArgs = [
    process.execPath, BIN, 'run',
    '--config', s.configFile,
    '--output', 'json',
    '--admin-port', String(s.adminPort),
    '--admin-host', '127.0.0.1',
    '--kubeconfig', s.kubeconfig,
    '--otlp-endpoint', s.otlpEndpoint,
    '--port', String(s.port),
  ];
  return spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', READ_ONLY_MOUNTS, 'sh', 'setpriv', ...setprivArgs(s.caps), '--', ...agentArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NAME: NODE, KUBERNETES_SERVICE_HOST: '' },
  });
}

async function sendRequests(port: number): Promise<void> {
  for (const [p] of REQUESTS) await run('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}${p}`]);
}

/** What each round of REQUESTS must produce: a server and a client transaction per request. */
function expectedRows(serverName: string, rounds: number): string[] {
  const rows: string[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const [p, status] of REQUESTS) {
      rows.push(JSON.stringify(['server', 'GET', p, status, serverName]), JSON.stringify(['client', 'GET', p, status, 'curl']));
    }
  }
  return rows.sort();
}

function rows(agent: RunningAgent): string[] {
  return agent
    .transactions()
    .map((t) => JSON.stringify([t.role, t.method, t.path, t.status, t.process]))
    .sort();
}

describe("the DaemonSet's capability list, on the real kernel", { skip }, () => {
  const api = new FakeKubernetesApi();
  let receiver: OtlpReceiver;
  let server: ChildProcess;
  let port = 0;
  let dir = '';
  let configFile = '';
  let kubeconfig = '';
  const running: ChildProcess[] = [];

  const scenario = async (caps: readonly string[]): Promise<RunningAgent> => {
    const adminPort = await freePort();
    const child = spawnAgent({ caps, port, adminPort, configFile, kubeconfig, otlpEndpoint: receiver.endpoint });
    running.push(child);
    return new RunningAgent(child, adminPort);
  };

  before(async () => {
    // The DaemonSet mounts the host's tracefs; here it is the host's own.
    if (!existsSync(path.join(TRACEFS, 'events', 'syscalls'))) execFileSync('mount', ['-t', 'tracefs', 'tracefs', TRACEFS]);
    await api.start();
    kubeconfig = api.kubeconfig();
    receiver = await OtlpReceiver.start({ transport: 'http' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-caps-'));
    configFile = path.join(dir, 'config.yaml');
    writeFileSync(configFile, agentConfigText());
    port = await freePort();
    server = spawn(process.execPath, ['-e', SERVER, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => server.stdout!.once('data', r));
    // The premise of the SYS_PTRACE check: thread name and executable differ.
    assert.equal(readFileSync(`/proc/${server.pid}/comm`, 'utf8').trim(), SERVER_TITLE);
    assert.equal(path.basename(readlinkSync(`/proc/${server.pid}/exe`)), 'node');
  });

  after(async () => {
    for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    server?.kill('SIGKILL');
    await receiver?.stop();
    await api.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('with exactly the list, read-only mounts and the ConfigMap config: exact transactions, probes, RBAC, dashboard metrics', async (t) => {
    const caps = [...DAEMONSET_CAPABILITIES];
    assert.deepEqual(agentContainer().securityContext?.capabilities?.add, caps, 'the manifest and this test agree');
    const agent = await scenario(caps);
    let prom: PrometheusServer | undefined;
    try {
      await agent.ready();

      // The process the kernel sees: node, uid 0, exactly the list, no_new_privs, read-only root.
      const pid = agent.child.pid!;
      assert.equal(readlinkSync(`/proc/${pid}/exe`), process.execPath);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const mask = capabilityMask(caps);
      // Once attached it keeps only what it still uses (TLS libraries found later, other processes' /proc);
      // the bounding set stays the grant: cutting it needs CAP_SETPCAP, which the pod does not have.
      const kept = capabilityMask(['SYS_PTRACE', 'SYS_ADMIN']);
      assert.deepEqual(
        ['CapEff', 'CapPrm', 'CapBnd', 'CapInh', 'CapAmb'].map((f) => [f, statusCaps(status, f)]),
        [['CapEff', kept], ['CapPrm', kept], ['CapBnd', mask], ['CapInh', 0n], ['CapAmb', 0n]],
      );
      const privileges = (JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { privileges: { kept: string[]; boundingDropped: boolean; failed: number } }).privileges;
      assert.deepEqual([privileges.kept, privileges.boundingDropped, privileges.failed], [['CAP_SYS_PTRACE', 'CAP_SYS_ADMIN'], false, 0]);
      assert.match(status, /^Uid:\s+0\s+0\s+0\s+0$/m);
      assert.match(status, /^NoNewPrivs:\s+1$/m);
      const mounts = readFileSync(`/proc/${pid}/mounts`, 'utf8').split('\n').map((l) => l.split(' '));
      const optionsOf = (mp: string) => mounts.filter((m) => m[1] === mp).at(-1)?.[3]?.split(',') ?? [];
      assert.ok(optionsOf('/').includes('ro'), 'root filesystem read-only');
      assert.ok(optionsOf(TRACEFS).includes('ro'), 'tracefs read-only');

      // The manifest's probe paths, on the real agent.
      const c = agentContainer(daemonSet());
      for (const probe of [c.livenessProbe!, c.readinessProbe!]) assert.equal((await httpGet(agent.adminPort, probe.httpGet!.path!)).status, 200, probe.httpGet!.path);

      // A real Prometheus scraping this agent, for the dashboard's queries.
      if (prometheusBinary()) {
        prom = await PrometheusServer.start({ targets: [`127.0.0.1:${agent.adminPort}`], scrapeIntervalMs: 1000 });
        await prom.waitForScrapes(1, 20_000);
      } else if (process.env.CI) {
        throw new Error('/usr/bin/prometheus missing: install the Debian package "prometheus"');
      }

      // Two rounds, each scraped: a rate needs a series seen before it grows.
      await sendRequests(port);
      await agent.waitFor(6, () => true);
      await prom?.waitForScrapes(1, 20_000);
      await sendRequests(port);
      await agent.waitFor(12, () => true);
      await prom?.waitForScrapes(1, 20_000);
      await sleep(200);
      assert.deepEqual(rows(agent), expectedRows('node', 2));
      assert.ok(agent.transactions().filter((tx) => tx.role === 'server').every((tx) => tx.pid === server.pid));

      // The TLS uprobes attach with this set: the host's libssl and the server's node binary, no failure.
      const tls = (JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { tls: { failed: number; libraries: { path: string; attached: boolean; error?: string }[] } }).tls;
      assert.deepEqual(tls.libraries.filter((l) => !l.attached).map((l) => `${l.path}: ${l.error}`), []);
      assert.ok(tls.libraries.some((l) => /\/libssl\.so\.3$/.test(l.path)), JSON.stringify(tls.libraries));
      assert.ok(tls.libraries.some((l) => l.path === readlinkSync(`/proc/${server.pid}/exe`)), JSON.stringify(tls.libraries));

      // The scrape itself: every metric the dashboard reads is served, with the labels it uses.
      const exposition = (await httpGet(agent.adminPort, '/metrics')).body;
      const families = expositionFamilies(exposition);
      const series = expositionSeries(exposition);
      for (const q of dashboardQueries()) {
        const refs = queryReferences(q.expr);
        for (const m of refs.metrics) {
          assert.ok(familyOf(m, families), `${q.panel}: ${m} not in the agent's /metrics`);
          // gRPC series appear with gRPC traffic; HTTP and the agent's own appear now.
          if (m.startsWith('rpc_')) continue;
          const labels = series.get(m);
          assert.ok(labels, `${q.panel}: no ${m} series after the traffic`);
          for (const l of refs.labels) assert.ok(labels.has(l) || TARGET_LABELS.has(l), `${q.panel}: ${m} has no label ${l}`);
        }
      }

      await t.test('the dashboard queries answer from a real Prometheus', { skip: prom ? false : 'prometheus not installed' }, async () => {
        const answer = async (panel: string): Promise<Sample[][]> => {
          const qs = dashboardQueries().filter((q) => q.panel === panel);
          assert.ok(qs.length > 0, panel);
          return Promise.all(qs.map((q) => prom!.query(substituteVariables(q.expr, { service: '.*', rateInterval: '1m' }))));
        };
        const labelsOf = (samples: Sample[], keys: string[]) => samples.map((s) => JSON.stringify(keys.map((k) => s.metric[k]))).sort();
        const routes = REQUESTS.map(([p]) => p);
        const sides = [
          { side: 'server', keys: ['service_name', 'http_route'], ids: (r: string) => ['node', r] },
          { side: 'client', keys: ['service_name', 'server_address', 'http_route'], ids: (r: string) => ['curl', '127.0.0.1', r] },
        ];
        for (const { side, keys, ids } of sides) {
          const [rate] = await answer(`HTTP ${side}: request rate`);
          assert.deepEqual(labelsOf(rate!, keys), routes.map((r) => JSON.stringify(ids(r))).sort(), `HTTP ${side} rate`);
          assert.ok(rate!.every((s) => s.value > 0), `HTTP ${side} rate > 0`);
          const [errors] = await answer(`HTTP ${side}: error rate`);
          assert.deepEqual(errors!.map((s) => [keys.map((k) => s.metric[k]), s.value]), [[ids('/cap/fail'), 1]], `HTTP ${side} error share`);
          const latency = await answer(`HTTP ${side}: latency p50 / p95 / p99`);
          assert.equal(latency.length, 3);
          for (const l of latency) {
            assert.deepEqual(labelsOf(l, keys), routes.map((r) => JSON.stringify(ids(r))).sort());
            assert.ok(l.every((s) => Number.isFinite(s.value) && s.value > 0 && s.value <= 10), `HTTP ${side} latency`);
          }
          // No gRPC traffic here: the gRPC panels' queries are valid and empty.
          for (const panel of ['request rate', 'error rate', 'latency p50 / p95 / p99']) {
            for (const r of await answer(`gRPC ${side}: ${panel}`)) assert.deepEqual(r, []);
          }
        }
        for (const panel of ['Kernel events and drops', 'Parse errors and unparsed bytes', 'Export', 'Connections tracked', 'Transactions']) {
          for (const r of await answer(panel)) assert.ok(r.length > 0, `${panel}: no answer`);
        }
        const [received, drops] = await answer('Kernel events and drops');
        assert.deepEqual(received!.map((s) => s.metric.instance), [`127.0.0.1:${agent.adminPort}`]);
        assert.ok(received![0]!.value > 0);
        assert.deepEqual(drops!.map((s) => s.value), [0]);
      });
    } finally {
      await prom?.stop();
      agent.child.kill('SIGINT');
    }
    assert.equal(await agent.exited, 0, agent.stderr);
    assert.deepEqual(rows(agent), expectedRows('node', 2));
    assert.doesNotMatch(agent.stderr, /"level":50/, 'no error logged');

    // The ConfigMap's export settings: every transaction reached the (stand-in) collector as a span.
    await receiver.waitForSpans(12, 10_000);
    assert.deepEqual([receiver.spans.filter((s) => s.kind === 2).length, receiver.spans.filter((s) => s.kind === 3).length], [6, 6]);

    // Every API request was authorized and within the ClusterRole; pods were listed and watched for this node only.
    const role = clusterRole();
    assert.ok(api.requests.length > 0);
    for (const r of api.requests) {
      const url = new URL(r.url, 'https://api');
      const [group, resource] = url.pathname === '/api/v1/pods' ? ['', 'pods'] : url.pathname === '/apis/apps/v1/replicasets' ? ['apps', 'replicasets'] : ['?', url.pathname];
      const verb = r.method !== 'GET' ? r.method : url.searchParams.get('watch') === 'true' ? 'watch' : 'list';
      assert.ok(r.authorized, r.url);
      assert.ok(allowedBy(role, group!, resource!, verb), `${verb} ${r.url} is not allowed by clusterrole.yaml`);
      if (resource === 'pods') assert.equal(url.searchParams.get('fieldSelector'), `spec.nodeName=${NODE}`);
    }
    const verbs = new Set(api.requests.map((r) => `${new URL(r.url, 'https://api').pathname} ${r.url.includes('watch=true') ? 'watch' : 'list'}`));
    assert.ok(verbs.has('/api/v1/pods list') && verbs.has('/api/v1/pods watch'), [...verbs].join(', '));
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
  });

  for (const missing of ['BPF', 'PERFMON']) {
    // SYS_ADMIN stands in for both (the kernel's pre-5.8 rule), so it goes too.
    it(`without ${missing} (and SYS_ADMIN): the agent refuses to start, with its one-line error`, async () => {
      const agent = await scenario(DAEMONSET_CAPABILITIES.filter((c) => c !== missing && c !== 'SYS_ADMIN'));
      assert.equal(await agent.exited, 2);
      assert.match(agent.stderr, /^sidelight: missing privileges to load eBPF programs: [^\n]*CAP_BPF and CAP_PERFMON[^\n]*\n$/);
      assert.equal(agent.output(), '');
    });
  }

  it('without SYS_ADMIN: it runs and reports cleartext exactly, and says for each TLS library that uprobes need it', async () => {
    const agent = await scenario(DAEMONSET_CAPABILITIES.filter((c) => c !== 'SYS_ADMIN'));
    let tls: { attached: number; failed: number; libraries: { path: string; attached: boolean; error?: string }[] };
    try {
      await agent.ready();
      await sendRequests(port);
      await agent.waitFor(6, () => true);
      await sleep(200);
      tls = (JSON.parse((await httpGet(agent.adminPort, '/stats')).body) as { tls: typeof tls }).tls;
    } finally {
      agent.child.kill('SIGINT');
    }
    assert.equal(await agent.exited, 0, agent.stderr);
    assert.deepEqual(rows(agent), expectedRows('node', 1));
    assert.equal(tls.attached, 0);
    assert.ok(tls.failed >= 2, JSON.stringify(tls));
    for (const l of tls.libraries) assert.match(l.error ?? '', /^uprobe SSL_write: permission denied; creating uprobes needs CAP_SYS_ADMIN \(or run with tls off\)$/);
    // One warning line per library file, naming it.
    for (const l of tls.libraries) assert.ok(agent.stderr.includes(`TLS: cannot attach to ${l.path}`), l.path);
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
  });

  it('without SYS_PTRACE: it runs, but cannot read /proc/<pid>/exe and names the server by its thread name', async () => {
    const agent = await scenario(DAEMONSET_CAPABILITIES.filter((c) => c !== 'SYS_PTRACE'));
    try {
      await agent.ready();
      // Granted BPF, PERFMON and SYS_ADMIN; after attaching it keeps SYS_ADMIN alone (for TLS libraries found later).
      assert.equal(statusCaps(readFileSync(`/proc/${agent.child.pid}/status`, 'utf8'), 'CapEff'), capabilityMask(['SYS_ADMIN']));
      await sendRequests(port);
      await agent.waitFor(6, () => true);
      await sleep(200);
    } finally {
      agent.child.kill('SIGINT');
    }
    assert.equal(await agent.exited, 0, agent.stderr);
    // With SYS_PTRACE the same server is "node" (its executable), as the test above asserts.
    assert.deepEqual(rows(agent), expectedRows(SERVER_TITLE, 1));
    assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });
  });
});
