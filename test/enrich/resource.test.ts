import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { ProcessResources, type ProcessInfo } from '../../src/enrich/resource';

const procs: ProcessInfo = {
  nameOf: (pid, fallback) => (pid === 1 ? 'nginx' : fallback()),
  commandLine: (pid) => (pid === 1 ? 'nginx -g daemon off;' : undefined),
};

describe('process resources', () => {
  it('describes the process: service.name defaults to the executable, command line only when enabled', () => {
    const r = new ProcessResources(procs, { serviceName: undefined, extra: { 'deployment.environment.name': 'prod', 'service.name': 'x' }, commandLine: false });
    const attrs = r.resourceOf(1, 'nginx').attributes;
    assert.deepEqual(
      { ...attrs, 'telemetry.sdk.version': 'V' },
      {
        'deployment.environment.name': 'prod',
        'service.name': 'nginx',
        'service.instance.id': `${os.hostname()}:1`,
        'process.pid': 1,
        'process.executable.name': 'nginx',
        'host.name': os.hostname(),
        'telemetry.sdk.name': 'opentelemetry',
        'telemetry.sdk.language': 'nodejs',
        'telemetry.sdk.version': 'V',
        'telemetry.distro.name': 'sidelight',
        'telemetry.distro.version': '0.1.0',
      },
    );
    assert.equal(r.serviceOf(1, 'nginx'), 'nginx');
    // One object per process: OTLP batches group spans by it.
    assert.equal(r.resourceOf(1, 'nginx'), r.resourceOf(1, 'nginx'));
  });

  it('configured service name for every process; process.command_line opt-in', () => {
    const r = new ProcessResources(procs, { serviceName: 'shop', extra: {}, commandLine: true });
    assert.equal(r.serviceOf(1, 'nginx'), 'shop');
    assert.equal(r.resourceOf(1, 'nginx').attributes['process.command_line'], 'nginx -g daemon off;');
    assert.equal('process.command_line' in r.resourceOf(2, 'gone').attributes, false);
  });

  it('a reused pid with another executable gets a new resource', () => {
    const r = new ProcessResources(procs, { serviceName: undefined, extra: {}, commandLine: false });
    const a = r.resourceOf(7, 'python3');
    const b = r.resourceOf(7, 'java');
    assert.notEqual(a, b);
    assert.equal(b.attributes['service.name'], 'java');
  });
});
