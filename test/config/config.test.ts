import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULTS, fromEnv, fromFile, resolveConfig } from '../../src/config/config';

describe('config', () => {
  it('defaults', () => {
    assert.deepEqual(resolveConfig({}), DEFAULTS);
  });

  it('flags beat environment beat file', () => {
    const c = resolveConfig({
      flags: { output: 'json' },
      env: fromEnv({ SIDELIGHT_OUTPUT: 'text', SIDELIGHT_ADMIN_PORT: '0', SIDELIGHT_PORTS: '80,443' }),
      file: { adminPort: 1234, captureBytes: 2048, output: 'text' },
    });
    assert.equal(c.output, 'json');
    assert.equal(c.adminPort, 0);
    assert.deepEqual(c.ports, [80, 443]);
    assert.equal(c.captureBytes, 2048);
    assert.equal(c.syscallCapBytes, 16384);
  });

  it('repeated flags become lists', () => {
    const c = resolveConfig({ flags: { pids: ['12', '34'], ports: ['8080'] } });
    assert.deepEqual(c.pids, [12, 34]);
    assert.deepEqual(c.ports, [8080]);
  });

  it('rejects bad values with the key, the value and the source', () => {
    assert.throws(() => resolveConfig({ flags: { captureBytes: '10' } }), {
      message: 'invalid capture-bytes "10" (from command line): expected 64..8192',
    });
    assert.throws(() => resolveConfig({ env: fromEnv({ SIDELIGHT_OUTPUT: 'xml' }) }), {
      message: 'invalid output "xml" (from environment): expected one of text, json, none',
    });
    assert.throws(() => resolveConfig({ flags: { ports: ['70000'] } }), { message: 'invalid port "70000" (from command line): expected 1..65535' });
    assert.throws(() => resolveConfig({ flags: { ringBytes: '5000' } }), { message: 'invalid ring-bytes "5000" (from command line): expected a power of two (e.g. 8388608)' });
    assert.throws(() => resolveConfig({ flags: { captureBytes: '1024', syscallCapBytes: '32768' } }), {
      message: 'invalid syscall-cap-bytes "32768" (from command line): expected 1024..16384',
    });
    assert.throws(() => resolveConfig({ flags: { durationSec: '1.5' } }), ConfigError);
  });

  it('reads a YAML file and refuses unknown keys', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-config-'));
    const good = path.join(dir, 'good.yaml');
    writeFileSync(good, 'output: json\nports: [80, 8080]\nredactQuery: false\n');
    const c = resolveConfig({ file: fromFile(good) });
    assert.equal(c.output, 'json');
    assert.deepEqual(c.ports, [80, 8080]);
    assert.equal(c.redactQuery, false);
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'outptu: json\n');
    assert.throws(() => fromFile(bad), /^Error: unknown setting outptu in .*bad\.yaml; known: output, pids/);
    assert.throws(() => fromFile(path.join(dir, 'absent.yaml')), /cannot read config file .*absent\.yaml: ENOENT; check the --config path/);
  });
});
