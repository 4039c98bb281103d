import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULTS, fromEnv, resolveConfig, type Config } from '../../src/config/config';
import { signalUrl } from '../../src/export/otlp';

const env = (vars: Record<string, string>) => resolveConfig({ env: fromEnv(vars) });

/** Asserts a ConfigError with exactly this message, on one line. */
function assertConfigError(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `ConfigError expected, got ${String(err)}`);
    assert.equal(err.message, message);
    assert.equal(err.message.includes('\n'), false);
    return true;
  });
}

describe('OTEL_* environment variables', () => {
  it('fromEnv maps every OTEL_* variable to its key, leaves the values raw', () => {
    assert.deepEqual(
      fromEnv({
        OTEL_SERVICE_NAME: 'checkout',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/v1/traces',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://metrics:4318/v1/metrics',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc',
        OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
        OTEL_TRACES_SAMPLER: 'traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_BSP_MAX_QUEUE_SIZE: '4096',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '256',
        OTEL_BSP_SCHEDULE_DELAY: '1000',
        OTEL_METRIC_EXPORT_INTERVAL: '15000',
        OTEL_UNRELATED: 'ignored',
        PATH: '/usr/bin',
      }),
      {
        serviceName: 'checkout',
        resourceAttributes: 'deployment.environment=prod',
        otlpEndpoint: 'http://collector:4318',
        otlpTracesEndpoint: 'http://traces:4318/v1/traces',
        otlpMetricsEndpoint: 'http://metrics:4318/v1/metrics',
        otlpProtocol: 'grpc',
        otlpHeaders: 'api-key=abc',
        otlpTimeoutMs: '2500',
        sampler: 'traceidratio',
        samplerArg: '0.25',
        spanQueueSize: '4096',
        spanBatchSize: '256',
        spanDelayMs: '1000',
        metricIntervalMs: '15000',
      },
    );
  });

  it('empty variables count as unset', () => {
    assert.deepEqual(fromEnv({ OTEL_SERVICE_NAME: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' }), {});
    assert.deepEqual(env({ OTEL_SERVICE_NAME: '', OTEL_EXPORTER_OTLP_PROTOCOL: '' }), DEFAULTS);
  });

  it('resolves to typed values', () => {
    const expected: Config = {
      ...DEFAULTS,
      serviceName: 'checkout',
      resourceAttributes: { 'deployment.environment': 'prod', 'team': 'payments' },
      otlpEndpoint: 'http://collector:4318',
      otlpTracesEndpoint: 'https://traces.example.com/v1/traces',
      otlpMetricsEndpoint: 'http://metrics:4318/v1/metrics',
      otlpProtocol: 'grpc',
      otlpHeaders: { 'api-key': 'abc', 'x-tenant': 'acme' },
      otlpTimeoutMs: 2500,
      sampler: 'parentbased_traceidratio',
      samplerArg: 0.25,
      spanQueueSize: 4096,
      spanBatchSize: 256,
      spanDelayMs: 1000,
      metricIntervalMs: 15000,
    };
    assert.deepEqual(
      env({
        OTEL_SERVICE_NAME: 'checkout',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=payments',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/v1/traces',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://metrics:4318/v1/metrics',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc,x-tenant=acme',
        OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_BSP_MAX_QUEUE_SIZE: '4096',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '256',
        OTEL_BSP_SCHEDULE_DELAY: '1000',
        OTEL_METRIC_EXPORT_INTERVAL: '15000',
      }),
      expected,
    );
  });

  it('both protocols are accepted', () => {
    assert.equal(env({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).otlpProtocol, 'grpc');
    assert.equal(env({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }).otlpProtocol, 'http/protobuf');
    assert.equal(env({}).otlpProtocol, 'http/protobuf');
  });

  it('every sampler name is accepted, ratio bounds included', () => {
    for (const s of ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']) {
      assert.equal(env({ OTEL_TRACES_SAMPLER: s }).sampler, s);
    }
    assert.equal(env({ OTEL_TRACES_SAMPLER_ARG: '0' }).samplerArg, 0);
    assert.equal(env({ OTEL_TRACES_SAMPLER_ARG: '1' }).samplerArg, 1);
    assert.equal(env({ OTEL_TRACES_SAMPLER_ARG: ' 0.5 ' }).samplerArg, 0.5);
  });

  it('OTEL_RESOURCE_ATTRIBUTES: percent-encoded keys and values, spaces around items trimmed', () => {
    assert.deepEqual(
      env({ OTEL_RESOURCE_ATTRIBUTES: ' team = payments , note=hello%20world%2C%20again ,k%3Dx=v%3D1,emoji=%E2%9C%93, plus=a+b' }).resourceAttributes,
      { team: 'payments', note: 'hello world, again', 'k=x': 'v=1', emoji: '\u2713', plus: 'a+b' },
    );
  });

  it('OTEL_EXPORTER_OTLP_HEADERS: the value is everything after the first =, percent-decoded', () => {
    assert.deepEqual(env({ OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic%20dXNlcjpwYXNz==, x-scope = a=b' }).otlpHeaders, {
      Authorization: 'Basic dXNlcjpwYXNz==',
      'x-scope': 'a=b',
    });
  });

  it('OTEL_SERVICE_NAME beats service.name in OTEL_RESOURCE_ATTRIBUTES', () => {
    const c = env({ OTEL_SERVICE_NAME: 'from-service-name', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes,team=a' });
    assert.equal(c.serviceName, 'from-service-name');
    assert.deepEqual(c.resourceAttributes, { 'service.name': 'from-attributes', team: 'a' });
  });

  it('service.name in OTEL_RESOURCE_ATTRIBUTES is used when OTEL_SERVICE_NAME is absent', () => {
    assert.equal(env({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=from%20attributes' }).serviceName, 'from attributes');
    assert.equal(env({ OTEL_SERVICE_NAME: '', OTEL_RESOURCE_ATTRIBUTES: 'service.name=x' }).serviceName, 'x');
    assert.equal(env({ OTEL_RESOURCE_ATTRIBUTES: 'team=a' }).serviceName, undefined);
    assert.equal(env({ OTEL_RESOURCE_ATTRIBUTES: 'service.name=' }).serviceName, undefined);
  });

  it('a service name from the command line beats both', () => {
    const c = resolveConfig({
      flags: { serviceName: 'from-flag' },
      env: fromEnv({ OTEL_SERVICE_NAME: 'from-env', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes' }),
    });
    assert.equal(c.serviceName, 'from-flag');
  });
});

describe('precedence of OTEL_* settings', () => {
  it('flags beat environment beat file, key by key', () => {
    const c = resolveConfig({
      flags: { otlpEndpoint: 'http://flag:4318', otlpHeaders: 'a=flag' },
      env: fromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_HEADERS: 'a=env',
        OTEL_BSP_SCHEDULE_DELAY: '200',
      }),
      file: {
        otlpEndpoint: 'http://file:4318',
        otlpProtocol: 'http/protobuf',
        otlpHeaders: { a: 'file' },
        spanDelayMs: 300,
        metricIntervalMs: 30000,
        resourceAttributes: { region: 'eu', tier: 1 },
      },
    });
    assert.equal(c.otlpEndpoint, 'http://flag:4318');
    assert.deepEqual(c.otlpHeaders, { a: 'flag' });
    assert.equal(c.otlpProtocol, 'grpc');
    assert.equal(c.spanDelayMs, 200);
    assert.equal(c.metricIntervalMs, 30000);
    assert.deepEqual(c.resourceAttributes, { region: 'eu', tier: '1' });
  });

  it('the source named in an error is the one that won', () => {
    assertConfigError(
      () => resolveConfig({ flags: { otlpProtocol: 'http/json' }, env: fromEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }) }),
      'invalid otlp-protocol "http/json" (from command line): expected one of grpc, http/protobuf',
    );
    assertConfigError(
      () => resolveConfig({ file: { sampler: 'foo' } }),
      'invalid sampler "foo" (from config file): expected one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio',
    );
    // A valid flag hides an invalid environment value: it is never read.
    assert.equal(resolveConfig({ flags: { otlpProtocol: 'grpc' }, env: fromEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }) }).otlpProtocol, 'grpc');
  });
});

describe('invalid OTEL_* values', () => {
  it('endpoint that is not a URL', () => {
    assertConfigError(
      () => env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://' }),
      'invalid otlp-endpoint "http://" (from environment OTEL_EXPORTER_OTLP_ENDPOINT): expected a URL such as http://collector:4318',
    );
    // Without a scheme, "collector:" is taken for one: refused as not http(s).
    assertConfigError(
      () => env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }),
      'invalid otlp-endpoint "collector:4318" (from environment OTEL_EXPORTER_OTLP_ENDPOINT): expected an http:// or https:// URL',
    );
    assertConfigError(
      () => env({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }),
      'invalid otlp-traces-endpoint "not a url" (from environment OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): expected a URL such as http://collector:4318',
    );
  });

  it('endpoint with another scheme', () => {
    assertConfigError(
      () => env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' }),
      'invalid otlp-endpoint "ftp://x" (from environment OTEL_EXPORTER_OTLP_ENDPOINT): expected an http:// or https:// URL',
    );
    assertConfigError(
      () => env({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'ftp://x' }),
      'invalid otlp-metrics-endpoint "ftp://x" (from environment OTEL_EXPORTER_OTLP_METRICS_ENDPOINT): expected an http:// or https:// URL',
    );
  });

  it('unsupported protocol', () => {
    assertConfigError(
      () => env({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }),
      'invalid otlp-protocol "http/json" (from environment OTEL_EXPORTER_OTLP_PROTOCOL): expected one of grpc, http/protobuf',
    );
  });

  it('unknown sampler', () => {
    assertConfigError(
      () => env({ OTEL_TRACES_SAMPLER: 'foo' }),
      'invalid sampler "foo" (from environment OTEL_TRACES_SAMPLER): expected one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio',
    );
  });

  it('sampler ratio out of range or not a number', () => {
    assertConfigError(() => env({ OTEL_TRACES_SAMPLER_ARG: '1.5' }), 'invalid sampler-arg "1.5" (from environment OTEL_TRACES_SAMPLER_ARG): expected a ratio between 0 and 1');
    assertConfigError(() => env({ OTEL_TRACES_SAMPLER_ARG: '-0.1' }), 'invalid sampler-arg "-0.1" (from environment OTEL_TRACES_SAMPLER_ARG): expected a ratio between 0 and 1');
    assertConfigError(() => env({ OTEL_TRACES_SAMPLER_ARG: 'half' }), 'invalid sampler-arg "half" (from environment OTEL_TRACES_SAMPLER_ARG): expected a ratio between 0 and 1');
  });

  it('header item without =', () => {
    assertConfigError(
      () => env({ OTEL_EXPORTER_OTLP_HEADERS: 'a=1,Authorization' }),
      'invalid otlp-headers (value hidden) (from environment OTEL_EXPORTER_OTLP_HEADERS): expected key=value pairs separated by commas (bad item "…")',
    );
    assertConfigError(
      () => env({ OTEL_EXPORTER_OTLP_HEADERS: '=v' }),
      'invalid otlp-headers (value hidden) (from environment OTEL_EXPORTER_OTLP_HEADERS): expected key=value pairs separated by commas (bad item "…")',
    );
    assertConfigError(
      () => env({ OTEL_RESOURCE_ATTRIBUTES: 'team' }),
      'invalid resource-attributes "team" (from environment OTEL_RESOURCE_ATTRIBUTES): expected key=value pairs separated by commas (bad item "team")',
    );
  });

  it('bad percent-encoding', () => {
    assertConfigError(
      () => env({ OTEL_RESOURCE_ATTRIBUTES: 'a=100%' }),
      'invalid resource-attributes "a=100%" (from environment OTEL_RESOURCE_ATTRIBUTES): bad percent-encoding in "a=100%"',
    );
  });

  it('numbers: timeout, batch, queue, delay, interval', () => {
    assertConfigError(() => env({ OTEL_EXPORTER_OTLP_TIMEOUT: '10s' }), 'invalid otlp-timeout "10s" (from environment OTEL_EXPORTER_OTLP_TIMEOUT): expected a whole number');
    assertConfigError(() => env({ OTEL_EXPORTER_OTLP_TIMEOUT: '50' }), 'invalid otlp-timeout "50" (from environment OTEL_EXPORTER_OTLP_TIMEOUT): expected 100..600000');
    assertConfigError(() => env({ OTEL_BSP_MAX_QUEUE_SIZE: '0' }), 'invalid span-queue-size "0" (from environment OTEL_BSP_MAX_QUEUE_SIZE): expected 1..1000000');
    assertConfigError(
      () => env({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '200' }),
      'invalid span-batch-size "200" (from environment OTEL_BSP_MAX_EXPORT_BATCH_SIZE): expected 1..100',
    );
    assertConfigError(() => env({ OTEL_BSP_SCHEDULE_DELAY: '1.5' }), 'invalid span-delay "1.5" (from environment OTEL_BSP_SCHEDULE_DELAY): expected a whole number');
    assertConfigError(() => env({ OTEL_METRIC_EXPORT_INTERVAL: '99' }), 'invalid metric-interval "99" (from environment OTEL_METRIC_EXPORT_INTERVAL): expected 100..3600000');
  });

  it('blank service name', () => {
    assertConfigError(() => env({ OTEL_SERVICE_NAME: '   ' }), 'invalid service-name "   " (from environment OTEL_SERVICE_NAME): expected a non-empty string');
  });
});

describe('signalUrl', () => {
  const cfg = (o: Partial<Config>): Config => ({ ...DEFAULTS, ...o });

  it('http/protobuf base endpoint gets /v1/<signal> appended', () => {
    const c = cfg({ otlpEndpoint: 'http://collector:4318', otlpProtocol: 'http/protobuf' });
    assert.equal(signalUrl(c, 'traces'), 'http://collector:4318/v1/traces');
    assert.equal(signalUrl(c, 'metrics'), 'http://collector:4318/v1/metrics');
  });

  it('trailing slashes and base paths', () => {
    assert.equal(signalUrl(cfg({ otlpEndpoint: 'http://collector:4318/' }), 'traces'), 'http://collector:4318/v1/traces');
    assert.equal(signalUrl(cfg({ otlpEndpoint: 'http://collector:4318//' }), 'metrics'), 'http://collector:4318/v1/metrics');
    assert.equal(signalUrl(cfg({ otlpEndpoint: 'https://gw.example.com/otlp/' }), 'traces'), 'https://gw.example.com/otlp/v1/traces');
    assert.equal(signalUrl(cfg({ otlpEndpoint: 'https://gw.example.com/otlp' }), 'metrics'), 'https://gw.example.com/otlp/v1/metrics');
  });

  it('grpc uses the base endpoint as is', () => {
    const c = cfg({ otlpEndpoint: 'http://collector:4317', otlpProtocol: 'grpc' });
    assert.equal(signalUrl(c, 'traces'), 'http://collector:4317');
    assert.equal(signalUrl(c, 'metrics'), 'http://collector:4317');
    assert.equal(signalUrl(cfg({ otlpEndpoint: 'http://collector:4317/', otlpProtocol: 'grpc' }), 'traces'), 'http://collector:4317/');
  });

  it('signal-specific endpoints are used as is, for either protocol, over the base', () => {
    const c = cfg({
      otlpEndpoint: 'http://collector:4318',
      otlpTracesEndpoint: 'http://traces:9999/custom/path',
      otlpProtocol: 'http/protobuf',
    });
    assert.equal(signalUrl(c, 'traces'), 'http://traces:9999/custom/path');
    assert.equal(signalUrl(c, 'metrics'), 'http://collector:4318/v1/metrics');
    const m = cfg({ otlpMetricsEndpoint: 'http://metrics:4317', otlpProtocol: 'grpc' });
    assert.equal(signalUrl(m, 'metrics'), 'http://metrics:4317');
    assert.equal(signalUrl(m, 'traces'), undefined);
    const t = cfg({ otlpTracesEndpoint: 'http://traces:4318/', otlpProtocol: 'http/protobuf' });
    assert.equal(signalUrl(t, 'traces'), 'http://traces:4318/');
    assert.equal(signalUrl(t, 'metrics'), undefined);
  });

  it('nothing set: no export', () => {
    assert.equal(signalUrl(DEFAULTS, 'traces'), undefined);
    assert.equal(signalUrl(DEFAULTS, 'metrics'), undefined);
  });

  it('from the environment end to end', () => {
    const c = env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:4318/v1/metrics' });
    assert.equal(signalUrl(c, 'traces'), 'http://collector:4318/v1/traces');
    assert.equal(signalUrl(c, 'metrics'), 'http://m:4318/v1/metrics');
  });
});
