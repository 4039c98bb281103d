import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULTS } from '../../src/config/config';
import type { ContainerRef } from '../../src/enrich/cgroup';
import { PodIndex } from '../../src/enrich/k8s/pod-index';
import { startTicksOf } from '../../src/enrich/process';
import { labelsMatch, parseRequirement } from '../../src/select/labels';
import { parsePortRange, portBitmap, PORT_BITMAP_BYTES } from '../../src/capture/ports';
import { ProcessSelector, type SelectionRules } from '../../src/select/selector';
import { podObject } from '../support/k8s-api';

const rules = (r: Partial<SelectionRules>): SelectionRules => ({ ...DEFAULTS, ...r });

/** Processes by pid: executable, container, start ticks; the kernel map as a Map. */
function world(procs: Record<number, { exe?: string; container?: ContainerRef; ticks?: number }>, index = new PodIndex()) {
  const kernel = new Map<number, number>();
  const deps = {
    exePath: (pid: number) => procs[pid]?.exe,
    containerOf: (pid: number) => procs[pid]?.container,
    workloadOf: (pid: number) => {
      const c = procs[pid]?.container;
      return c ? index.lookup(c.id, c.podUid) : undefined;
    },
    metadataVersion: () => index.version,
    startTicks: (pid: number) => procs[pid]?.ticks,
    skipInKernel: (pid: number, ticks: number) => (kernel.set(pid, ticks), true),
    unskipInKernel: (pid: number) => void kernel.delete(pid),
  };
  return { deps, kernel, index };
}

const C1: ContainerRef = { id: '1'.repeat(64), runtime: 'containerd', podUid: 'uid-shop' };
const C2: ContainerRef = { id: '2'.repeat(64), runtime: 'containerd', podUid: 'uid-sys' };

describe('label selectors', () => {
  it('parses the equality and existence forms and matches like kubectl -l', () => {
    const sel = ['app=shop', 'tier!=db', 'canary', '!legacy'].map((p) => parseRequirement(p) as Exclude<ReturnType<typeof parseRequirement>, string>);
    assert.equal(labelsMatch(sel, { app: 'shop', canary: '' }), true);
    assert.equal(labelsMatch(sel, { app: 'shop', canary: '', tier: 'db' }), false);
    assert.equal(labelsMatch(sel, { app: 'shop' }), false);
    assert.equal(labelsMatch(sel, { app: 'shop', canary: 'x', legacy: 'y' }), false);
    assert.equal(labelsMatch([], undefined), true);
    assert.equal(parseRequirement('example.com/team==pay') instanceof Object, true);
    assert.equal(parseRequirement('a b'), '"a b" is not a valid label key');
  });
});

describe('port ranges', () => {
  it('parses ports and ranges, and sets exactly their bits', () => {
    assert.deepEqual(parsePortRange('8080'), [8080, 8080]);
    assert.deepEqual(parsePortRange(' 9000 - 9002 '), [9000, 9002]);
    assert.equal(parsePortRange('0'), undefined);
    assert.equal(parsePortRange('9002-9000'), undefined);
    assert.equal(parsePortRange('70000'), undefined);
    const bits = portBitmap([[1, 1], [9000, 9002], [65535, 65535]]);
    assert.equal(bits.length, PORT_BITMAP_BYTES);
    const set: number[] = [];
    for (let p = 0; p < 65536; p++) if (bits[p >> 3] & (1 << (p & 7))) set.push(p);
    assert.deepEqual(set, [1, 9000, 9001, 9002, 65535]);
  });
});

describe('process selection', () => {
  it('keeps everything when only exclusions miss; leaves out by exe glob and tells the kernel once', () => {
    const { deps, kernel } = world({ 10: { exe: '/usr/sbin/nginx', ticks: 500 }, 11: { exe: '/usr/bin/curl', ticks: 600 } });
    const s = new ProcessSelector(rules({ excludeExePaths: ['/usr/bin/*'] }), deps);
    assert.equal(s.wants(10), true);
    assert.equal(s.wants(11), false);
    assert.equal(s.wants(11), false);
    assert.deepEqual([...kernel], [[11, 600]]);
    assert.deepEqual(s.stats, { processesIncluded: 1, processesExcluded: { 'exclude-exe-path': 1 }, eventsDropped: 2, kernelSkips: 1, kernelSkipFailures: 0 });
  });

  it('include globs: ** crosses directories, * does not', () => {
    const { deps } = world({ 1: { exe: '/opt/app/v2/bin/server' }, 2: { exe: '/opt/app/server' }, 3: { exe: '/usr/bin/python3.11' } });
    const s = new ProcessSelector(rules({ exePaths: ['/opt/**/bin/*', '/usr/bin/python3*'] }), deps);
    assert.deepEqual([1, 2, 3].map((p) => s.verdict(p)), ['in', 'exe-path', 'in']);
  });

  it('namespaces and labels decide pods; a container whose pod is not known yet waits for the index', () => {
    const index = new PodIndex();
    const { deps, kernel } = world({ 20: { exe: '/app', container: C1, ticks: 1 }, 21: { exe: '/app', container: C2, ticks: 2 }, 22: { exe: '/usr/sbin/sshd', ticks: 3 } }, index);
    const s = new ProcessSelector(rules({ k8sNamespaces: ['shop'], excludeK8sPodLabels: [{ key: 'sidelight.io/ignore', op: 'exists' }] }), deps);
    // Nothing known yet: both containers wait, the host process is not in a pod.
    assert.equal(s.verdict(20), 'pending');
    assert.equal(s.wants(20), false);
    assert.equal(s.wants(22), false);
    assert.equal(s.verdict(22), 'not-in-a-pod');
    index.upsertPod(podObject({ name: 'shop-1', namespace: 'shop', uid: 'uid-shop', node: 'n', ip: '10.0.0.2', containers: [{ name: 'web', id: C1.id }] }));
    index.upsertPod(podObject({ name: 'dns', namespace: 'kube-system', uid: 'uid-sys', node: 'n', ip: '10.0.0.3', containers: [{ name: 'dns', id: C2.id }] }));
    assert.equal(s.wants(20), true);
    assert.equal(s.wants(21), false);
    assert.deepEqual([...kernel.keys()].sort(), [21, 22]);
    assert.deepEqual(s.stats.processesExcluded, { 'not-in-a-pod': 1, 'k8s-namespace': 1 });
    const s2 = new ProcessSelector(rules({ excludeK8sPodLabels: [{ key: 'app', op: '=', value: 'web' }] }), deps);
    index.upsertPod(podObject({ name: 'shop-1', namespace: 'shop', uid: 'uid-shop', node: 'n', ip: '10.0.0.2', labels: { app: 'web' }, containers: [{ name: 'web', id: C1.id }] }));
    assert.equal(s2.verdict(20), 'exclude-k8s-pod-labels');
    assert.equal(s2.verdict(21), 'in');
    assert.equal(s2.verdict(22), 'in');
    // A container no pod owns (podman or docker on the node, no pod UID in its cgroup) is judged like a host process.
    const { deps: d3 } = world({ 40: { exe: '/app', container: { id: '4'.repeat(64), runtime: 'podman', podUid: undefined } } }, index);
    assert.equal(new ProcessSelector(rules({ excludeK8sNamespaces: ['kube-system'] }), d3).verdict(40), 'in');
    assert.equal(new ProcessSelector(rules({ k8sNamespaces: ['shop'] }), d3).verdict(40), 'not-in-a-pod');
  });

  it('forgets exited processes and takes them out of the kernel map', () => {
    const procs: Record<number, { exe?: string; ticks?: number }> = { 30: { exe: '/usr/bin/curl', ticks: 7 }, 31: { exe: '/usr/bin/wget', ticks: 8 } };
    const { deps, kernel } = world(procs);
    const s = new ProcessSelector(rules({ excludeExePaths: ['/usr/bin/*'] }), deps);
    s.wants(30);
    s.wants(31);
    delete procs[30]; // exited
    procs[31] = { exe: '/usr/bin/other', ticks: 99 }; // pid reused
    s.sweep(-1);
    assert.equal(s.size, 0);
    assert.equal(kernel.size, 0);
  });

  it('reads the start time from /proc/<pid>/stat, names with spaces and parentheses included', () => {
    const stat = '4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 987654 12345678 300 18446744073709551615';
    assert.equal(startTicksOf(stat), 987654);
    assert.equal(startTicksOf('garbage'), undefined);
  });
});
