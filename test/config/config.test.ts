import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULTS, SETTINGS, fromEnv, fromFile, resolveConfig, runningInKubernetes } from '../../src/config/config';
import { SETTING_KEYS, defaultShown, settingOf } from '../../src/config/settings';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-config-'));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('config', () => {
  it('defaults', () => {
    assert.deepEqual(resolveConfig({}, false), DEFAULTS);
  });

  it('the admin server listens on loopback by default, on every address in a Kubernetes pod, where configured otherwise', () => {
    assert.equal(DEFAULTS.adminHost, '127.0.0.1');
    assert.equal(resolveConfig({}, false).adminHost, '127.0.0.1');
    assert.equal(resolveConfig({}, true).adminHost, '0.0.0.0');
    assert.equal(resolveConfig({ env: fromEnv({ SIDELIGHT_ADMIN_HOST: '10.1.2.3' }) }, true).adminHost, '10.1.2.3');
    assert.equal(resolveConfig({ flags: { adminHost: '::1' } }, false).adminHost, '::1');
    assert.equal(runningInKubernetes({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }), true);
    assert.equal(runningInKubernetes({}), false);
  });

  it('flags beat environment beat file', () => {
    const c = resolveConfig({
      flags: { output: 'json' },
      env: fromEnv({ SIDELIGHT_OUTPUT: 'text', SIDELIGHT_ADMIN_PORT: '0', SIDELIGHT_PORTS: '80,443' }),
      file: { adminPort: 1234, captureBytes: 2048, output: 'text' },
    });
    assert.equal(c.output, 'json');
    assert.equal(c.adminPort, 0);
    assert.deepEqual(c.ports, [[80, 80], [443, 443]]);
    assert.equal(c.captureBytes, 2048);
    assert.equal(c.syscallCapBytes, 16384);
  });

  it('repeated flags become lists; ports take ranges', () => {
    const c = resolveConfig({ flags: { pids: ['12', '34'], ports: ['8080', '9000-9100'], excludePorts: ['9050'] } });
    assert.deepEqual(c.pids, [12, 34]);
    assert.deepEqual(c.ports, [[8080, 8080], [9000, 9100]]);
    assert.deepEqual(c.excludePorts, [[9050, 9050]]);
  });

  it('rejects bad values with the setting, the value and the source', () => {
    assert.throws(() => resolveConfig({ flags: { captureBytes: '10' } }), {
      message: 'invalid capture-bytes "10" (from command line): expected 64..8192',
    });
    assert.throws(() => resolveConfig({ env: fromEnv({ SIDELIGHT_OUTPUT: 'xml' }) }), {
      message: 'invalid output "xml" (from environment SIDELIGHT_OUTPUT): expected one of text, json, none',
    });
    assert.throws(() => resolveConfig({ flags: { ports: ['70000'] } }), {
      message: 'invalid ports "70000" (from command line): expected a port 1..65535 or a range such as 8000-8100',
    });
    assert.throws(() => resolveConfig({ flags: { ringBytes: '5000' } }), { message: 'invalid ring-bytes "5000" (from command line): expected a power of two (e.g. 8388608)' });
    assert.throws(() => resolveConfig({ flags: { captureBytes: '1024', syscallCapBytes: '32768' } }), {
      message: 'invalid syscall-cap-bytes "32768" (from command line): expected 1024..16384',
    });
    assert.throws(() => resolveConfig({ flags: { durationSec: '1.5' } }), ConfigError);
    assert.throws(() => resolveConfig({ env: fromEnv({ NODE_NAME: ' ' }) }), {
      message: 'invalid node-name " " (from environment NODE_NAME): expected a non-empty string',
    });
    assert.throws(() => resolveConfig({ env: fromEnv({ SIDELIGHT_KUBERNETES: 'yes' }) }), {
      message: 'invalid kubernetes "yes" (from environment SIDELIGHT_KUBERNETES): expected one of auto, on, off',
    });
    assert.throws(() => resolveConfig({ env: fromEnv({ SIDELIGHT_K8S_NAMESPACES: 'Shop' }) }), {
      message: 'invalid k8s-namespaces "Shop" (from environment SIDELIGHT_K8S_NAMESPACES): expected a Kubernetes namespace name (lower-case letters, digits, -)',
    });
    assert.throws(() => resolveConfig({ env: fromEnv({ SIDELIGHT_EXCLUDE_K8S_POD_LABELS: '!app=x' }) }), {
      message: 'invalid exclude-k8s-pod-labels "!app=x" (from environment SIDELIGHT_EXCLUDE_K8S_POD_LABELS): "!app=x" mixes ! with a value; expected key=value, key!=value, key or !key, comma-separated',
    });
    assert.throws(() => resolveConfig({ flags: { pids: Array.from({ length: 1025 }, (_, i) => String(i + 1)) } }), {
      message: /^invalid pids .* \(from command line\): expected at most 1024 pids$/,
    });
  });

  it('every setting has a variable; the first of a setting’s variables wins', () => {
    for (const [field, s] of Object.entries(SETTINGS)) {
      assert.ok(s.env.length >= 1, field);
      assert.equal(s.env[0], `SIDELIGHT_${s.name.toUpperCase().replace(/-/g, '_')}`, field);
    }
    assert.deepEqual(fromEnv({ NODE_NAME: 'n1' }), { nodeName: 'n1' });
    assert.deepEqual(fromEnv({ NODE_NAME: 'n1', SIDELIGHT_NODE_NAME: 'n2' }), { nodeName: 'n2' });
    assert.deepEqual(fromEnv({ OTEL_SERVICE_NAME: 'a', SIDELIGHT_SERVICE_NAME: 'b' }), { serviceName: 'b' });
  });

  it('reads the selection settings from variables', () => {
    const c = resolveConfig({
      env: fromEnv({
        SIDELIGHT_EXE_PATHS: '/usr/sbin/nginx,/opt/**/bin/*',
        SIDELIGHT_K8S_NAMESPACES: 'shop,payments',
        SIDELIGHT_K8S_POD_LABELS: 'app=shop,tier!=db,canary,!legacy',
        SIDELIGHT_EXCLUDE_EXE_PATHS: '/usr/bin/curl',
        SIDELIGHT_EXCLUDE_K8S_NAMESPACES: 'kube-system',
        SIDELIGHT_EXCLUDE_K8S_POD_LABELS: 'sidelight.io/ignore=true',
        SIDELIGHT_EXCLUDE_PORTS: '22,6000-6063',
        SIDELIGHT_KUBERNETES: 'on',
        SIDELIGHT_KUBECONFIG: '/etc/kube.conf',
      }),
    });
    assert.deepEqual(c.exePaths, ['/usr/sbin/nginx', '/opt/**/bin/*']);
    assert.deepEqual(c.k8sNamespaces, ['shop', 'payments']);
    assert.deepEqual(c.k8sPodLabels, [
      { key: 'app', op: '=', value: 'shop' },
      { key: 'tier', op: '!=', value: 'db' },
      { key: 'canary', op: 'exists' },
      { key: 'legacy', op: '!exists' },
    ]);
    assert.deepEqual(c.excludeExePaths, ['/usr/bin/curl']);
    assert.deepEqual(c.excludeK8sNamespaces, ['kube-system']);
    assert.deepEqual(c.excludeK8sPodLabels, [{ key: 'sidelight.io/ignore', op: '=', value: 'true' }]);
    assert.deepEqual(c.excludePorts, [[22, 22], [6000, 6063]]);
    assert.equal(c.kubernetes, 'on');
    assert.equal(c.kubeconfig, '/etc/kube.conf');
  });

  it('reads a YAML file of setting names, lists and maps included', () => {
    const good = file(
      'good.yaml',
      [
        'output: json',
        'ports: [80, "8000-8100"]',
        'redact-query: false',
        'k8s-pod-labels: {app: shop, tier: web}',
        'exclude-k8s-namespaces: [kube-system]',
        'resource-attributes: {deployment.environment: prod}',
        'routes:',
        '  - /users/{id}',
        '',
      ].join('\n'),
    );
    const c = resolveConfig({ file: fromFile(good) });
    assert.equal(c.output, 'json');
    assert.deepEqual(c.ports, [[80, 80], [8000, 8100]]);
    assert.equal(c.redactQuery, false);
    assert.deepEqual(c.k8sPodLabels, [
      { key: 'app', op: '=', value: 'shop' },
      { key: 'tier', op: '=', value: 'web' },
    ]);
    assert.deepEqual(c.excludeK8sNamespaces, ['kube-system']);
    assert.deepEqual(c.resourceAttributes, { 'deployment.environment': 'prod' });
    assert.deepEqual(c.routes, ['/users/{id}']);
  });

  it('names the file and the setting when a file value is bad', () => {
    const p = file('bad-value.yaml', 'capture-bytes: 9\n');
    assert.throws(() => resolveConfig({ file: fromFile(p) }), { message: `invalid capture-bytes 9 (from config file ${p}): expected 64..8192` });
  });

  it('refuses unknown settings, suggesting the likely one', () => {
    assert.throws(() => fromFile(file('typo.yaml', 'outptu: json\n')), { message: /^unknown setting outptu in .*typo\.yaml \(did you mean output\?\); known: output, pids, ports, / });
    assert.throws(() => fromFile(file('camel.yaml', 'captureBytes: 4096\n')), { message: /^unknown setting captureBytes in .*camel\.yaml \(did you mean capture-bytes\?\); known: / });
    assert.throws(() => fromFile(file('far.yaml', 'zzz: 1\n')), { message: /^unknown setting zzz in .*far\.yaml; known: / });
    assert.throws(() => fromFile(file('list.yaml', '- a\n')), { message: /must be a mapping of settings \(name: value\)$/ });
    assert.throws(() => fromFile(path.join(dir, 'absent.yaml')), { message: /cannot read config file .*absent\.yaml: ENOENT; check the --config path/ });
    assert.throws(() => fromFile(file('broken.yaml', 'a: [\n')), { message: /^config file .*broken\.yaml is not valid YAML: / });
  });

  it("the README documents every setting: its row, its variables and its default, as the table says", () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    assert.ok(readme.includes('## Configuration'), 'README has a Configuration section');
    const section = readme.slice(readme.indexOf('## Configuration'));
    for (const key of SETTING_KEYS) {
      const s = settingOf(key);
      const row = new RegExp(`^\\| \`${s.name}\` \\| ([^|]*) \\| ([^|]*) \\| [^|]+ \\|$`, 'm').exec(section);
      assert.ok(row, `README row for ${s.name}`);
      assert.equal(row[1], s.env.map((v) => `\`${v}\``).join(', '), `README variables of ${s.name}`);
      assert.equal(row[2], defaultShown(s), `README default of ${s.name}`);
    }
  });
});
