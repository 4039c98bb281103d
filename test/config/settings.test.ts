// The settings table: every setting reaches the typed config from its flag,
// from each of its variables and from the YAML file, and a bad value is
// refused from each, naming the setting and the source.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { ConfigError, DEFAULTS, fromEnv, fromFile, resolveConfig, type Config } from '../../src/config/config';
import { addSettingFlags, flagOf } from '../../src/config/flags';
import { SETTING_KEYS, settingOf, type SettingKey } from '../../src/config/settings';

/** Per setting: a value other than the default as typed on the command line and in a variable, what it resolves to, and a value it refuses. */
const CASES: { [K in SettingKey]: { typed: string; want: Config[K]; bad: string } } = {
  output: { typed: 'json', want: 'json', bad: 'xml' },
  pids: { typed: '12,34', want: [12, 34], bad: '0' },
  ports: { typed: '8080,9000-9100', want: [[8080, 8080], [9000, 9100]], bad: '70000' },
  exePaths: { typed: '/usr/sbin/nginx', want: ['/usr/sbin/nginx'], bad: 'nginx' },
  k8sNamespaces: { typed: 'shop', want: ['shop'], bad: 'Shop' },
  k8sPodLabels: { typed: 'app=shop', want: [{ key: 'app', op: '=', value: 'shop' }], bad: '!app=x' },
  excludePorts: { typed: '22', want: [[22, 22]], bad: '0' },
  excludeExePaths: { typed: '/usr/bin/curl', want: ['/usr/bin/curl'], bad: 'curl' },
  excludeK8sNamespaces: { typed: 'kube-system', want: ['kube-system'], bad: 'Kube' },
  excludeK8sPodLabels: { typed: 'tier!=db', want: [{ key: 'tier', op: '!=', value: 'db' }], bad: 'a b' },
  durationSec: { typed: '30', want: 30, bad: '1.5' },
  captureBytes: { typed: '2048', want: 2048, bad: '10' },
  syscallCapBytes: { typed: '8192', want: 8192, bad: '100' },
  ringBytes: { typed: '1048576', want: 1048576, bad: '5000' },
  adminPort: { typed: '9999', want: 9999, bad: '70000' },
  adminHost: { typed: '::1', want: '::1', bad: '' },
  logLevel: { typed: 'debug', want: 'debug', bad: 'loud' },
  maxConnections: { typed: '1024', want: 1024, bad: '1' },
  idleTimeoutSec: { typed: '60', want: 60, bad: '0' },
  redactQuery: { typed: 'false', want: false, bad: 'maybe' },
  tls: { typed: 'false', want: false, bad: 'no' },
  resourceAttributes: { typed: 'deployment.environment=prod', want: { 'deployment.environment': 'prod' }, bad: 'novalue' },
  serviceName: { typed: 'shop', want: 'shop', bad: ' ' },
  commandLine: { typed: 'true', want: true, bad: 'yes' },
  kubernetes: { typed: 'on', want: 'on', bad: 'yes' },
  kubeconfig: { typed: '/etc/kube.conf', want: '/etc/kube.conf', bad: ' ' },
  nodeName: { typed: 'node-1', want: 'node-1', bad: ' ' },
  otlpEndpoint: { typed: 'http://collector:4318', want: 'http://collector:4318', bad: 'collector:4318' },
  otlpTracesEndpoint: { typed: 'http://c:4318/v1/traces', want: 'http://c:4318/v1/traces', bad: 'ftp://c' },
  otlpMetricsEndpoint: { typed: 'https://c/v1/metrics', want: 'https://c/v1/metrics', bad: 'c' },
  otlpProtocol: { typed: 'grpc', want: 'grpc', bad: 'http/json' },
  otlpHeaders: { typed: 'x-token=abc', want: { 'x-token': 'abc' }, bad: 'token' },
  otlpTimeoutMs: { typed: '2000', want: 2000, bad: '50' },
  sampler: { typed: 'traceidratio', want: 'traceidratio', bad: 'sometimes' },
  samplerArg: { typed: '0.25', want: 0.25, bad: '2' },
  spanQueueSize: { typed: '4096', want: 4096, bad: '0' },
  spanBatchSize: { typed: '128', want: 128, bad: '4096' },
  spanDelayMs: { typed: '1000', want: 1000, bad: '0' },
  metricIntervalMs: { typed: '10000', want: 10000, bad: '10' },
  routes: { typed: '/users/{id}', want: ['/users/{id}'], bad: 'users' },
  ignoreRoutes: { typed: '/healthz', want: ['/healthz'], bad: '/a*b' },
  maxRoutesPerService: { typed: '50', want: 50, bad: '0' },
};

/** The command-line words that set a setting to `typed`. */
function argv(key: SettingKey, typed: string): string[] {
  const s = settingOf(key);
  const flag = flagOf(s).split(' ')[0]!;
  if (s.flag.kind === 'off') return typed === 'false' ? [flag] : [];
  if (s.flag.kind === 'on') return typed === 'true' ? [flag] : [];
  if (s.flag.kind === 'list') return typed.split(',').flatMap((v) => [flag, v]);
  return [flag, typed];
}

function parseFlags(words: string[]): Config {
  const cmd = new Command('t').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  const read = addSettingFlags(cmd);
  cmd.parse(['node', 't', ...words]);
  return resolveConfig({ flags: read(cmd) }, false);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-settings-'));
function yamlFile(name: string, value: string): string {
  const p = path.join(dir, `${name}.yaml`);
  writeFileSync(p, `${name}: ${JSON.stringify(value)}\n`);
  return p;
}

describe('the settings table', () => {
  it('has a test case for every setting, and no other', () => {
    assert.deepEqual(Object.keys(CASES).sort(), [...SETTING_KEYS].sort());
  });

  it('every default is what its descriptor says, and resolving nothing gives the defaults', () => {
    for (const key of SETTING_KEYS) assert.deepEqual(DEFAULTS[key], settingOf(key).default, key);
    assert.deepEqual(resolveConfig({}, false), DEFAULTS);
  });

  for (const key of SETTING_KEYS) {
    const s = settingOf(key);
    const c = CASES[key];
    describe(s.name, () => {
      it(`from the flag ${flagOf(s)}`, () => {
        assert.notDeepEqual(c.want, s.default, 'the case differs from the default');
        assert.deepEqual(parseFlags(argv(key, c.typed))[key], c.want);
      });

      it(`from each variable (${s.env.join(', ')})`, () => {
        for (const v of s.env) assert.deepEqual(resolveConfig({ env: fromEnv({ [v]: c.typed }) }, false)[key], c.want, v);
      });

      it(`from the YAML key ${s.name}`, () => {
        assert.deepEqual(resolveConfig({ file: fromFile(yamlFile(s.name, c.typed)) }, false)[key], c.want);
      });

      it('a bad value is refused from each source, naming the setting and the source', () => {
        const shown = s.secret ? '(value hidden)' : JSON.stringify(c.bad);
        const message = (source: string) => new RegExp(`^invalid ${s.name} ${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(from ${source}\\): `);
        assert.throws(() => resolveConfig({ flags: { [key]: c.bad } }, false), (err: unknown) => err instanceof ConfigError && message('command line').test(err.message));
        if (c.bad !== '') {
          for (const v of s.env) assert.throws(() => resolveConfig({ env: fromEnv({ [v]: c.bad }) }, false), (err: unknown) => err instanceof ConfigError && message(`environment ${v}`).test(err.message));
        }
        const p = yamlFile(s.name, c.bad);
        assert.throws(() => resolveConfig({ file: fromFile(p) }, false), (err: unknown) => err instanceof ConfigError && message(`config file ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).test(err.message));
      });
    });
  }

  it('an unknown flag is refused by name', () => {
    assert.throws(() => parseFlags(['--captur-bytes', '10']), { message: "error: unknown option '--captur-bytes'\n(Did you mean --capture-bytes?)" });
  });

  it('a flag not typed leaves the variable and the file in force (no flag default wins over them)', () => {
    const cmd = new Command('t').exitOverride();
    const read = addSettingFlags(cmd);
    cmd.parse(['node', 't']);
    assert.deepEqual(read(cmd), {});
    const c = resolveConfig({ flags: read(cmd), env: fromEnv({ SIDELIGHT_TLS: 'false' }), file: { redactQuery: false } }, false);
    assert.equal(c.tls, false);
    assert.equal(c.redactQuery, false);
  });
});
