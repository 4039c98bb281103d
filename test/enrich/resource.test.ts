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
    const attrs = r.of(1, 'nginx').resource.attributes;
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
    assert.equal(r.of(1, 'nginx').service, 'nginx');
    // One object per process: OTLP batches group spans by it.
    assert.equal(r.of(1, 'nginx').resource, r.of(1, 'nginx').resource);
  });

  it('configured service name for every process; process.command_line opt-in', () => {
    const r = new ProcessResources(procs, { serviceName: 'shop', extra: {}, commandLine: true });
    assert.equal(r.of(1, 'nginx').service, 'shop');
    assert.equal(r.of(1, 'nginx').resource.attributes['process.command_line'], 'nginx -g daemon off;');
    assert.equal('process.command_line' in r.of(2, 'gone').resource.attributes, false);
  });

  it('a reused pid with another executable gets a new resource', () => {
    const r = new ProcessResources(procs, { serviceName: undefined, extra: {}, commandLine: false });
    const a = r.of(7, 'python3').resource;
    const b = r.of(7, 'java').resource;
    assert.notEqual(a, b);
    assert.equal(b.attributes['service.name'], 'java');
  });
});
