// The one typed configuration object. Sources, strongest first: command-line
// flags, environment (SIDELIGHT_*), a YAML file (--config), defaults. Every
// value is validated here; a bad one fails start-up naming key and source.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { OutputFormat } from '../export/console';
import { SAMPLER_NAMES, type SamplerName } from '../transactions/sampling';

export type OtlpProtocol = 'grpc' | 'http/protobuf';

export interface Config {
  output: OutputFormat;
  pids: number[];
  ports: number[];
  /** Stop after this many seconds; undefined runs until a signal. */
  durationSec: number | undefined;
  /** Payload bytes per event (the N of the design). */
  captureBytes: number;
  /** Payload bytes captured per syscall, over several events. */
  syscallCapBytes: number;
  ringBytes: number;
  adminPort: number;
  adminHost: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  maxConnections: number;
  idleTimeoutSec: number;
  redactQuery: boolean;
  /** service.name for every process (OTEL_SERVICE_NAME); undefined: the process name. */
  serviceName: string | undefined;
  /** Extra resource attributes (OTEL_RESOURCE_ATTRIBUTES). */
  resourceAttributes: Record<string, string>;
  /** Export process.command_line (may hold secrets: opt-in). */
  commandLine: boolean;
  /** OTLP base endpoint; undefined with no signal endpoint: no OTLP export. */
  otlpEndpoint: string | undefined;
  otlpTracesEndpoint: string | undefined;
  otlpMetricsEndpoint: string | undefined;
  otlpProtocol: OtlpProtocol;
  otlpHeaders: Record<string, string>;
  otlpTimeoutMs: number;
  sampler: SamplerName;
  samplerArg: number;
  /** Span batching (OTEL_BSP_*). */
  spanQueueSize: number;
  spanBatchSize: number;
  spanDelayMs: number;
  metricIntervalMs: number;
  routes: string[];
  ignoreRoutes: string[];
  maxRoutesPerService: number;
}

export const DEFAULTS: Config = {
  output: 'text',
  pids: [],
  ports: [],
  durationSec: undefined,
  captureBytes: 4096,
  syscallCapBytes: 16384,
  ringBytes: 8 * 1024 * 1024,
  adminPort: 9464,
  adminHost: '0.0.0.0',
  logLevel: 'info',
  maxConnections: 65536,
  idleTimeoutSec: 300,
  redactQuery: true,
  serviceName: undefined,
  resourceAttributes: {},
  commandLine: false,
  otlpEndpoint: undefined,
  otlpTracesEndpoint: undefined,
  otlpMetricsEndpoint: undefined,
  otlpProtocol: 'http/protobuf',
  otlpHeaders: {},
  otlpTimeoutMs: 10_000,
  sampler: 'parentbased_always_on',
  samplerArg: 1,
  spanQueueSize: 2048,
  spanBatchSize: 512,
  spanDelayMs: 5000,
  metricIntervalMs: 60_000,
  routes: [],
  ignoreRoutes: [],
  maxRoutesPerService: 500,
};

/** Limits the kernel programs were built with (bpf/events.h). */
export const MAX_CAPTURE_BYTES = 8192;
export const MAX_CHUNKS_PER_SYSCALL = 16;

export class ConfigError extends Error {}

/** A raw value and where it came from, for error messages. */
type Raw = { value: unknown; source: string };
export type RawConfig = Partial<Record<keyof Config, unknown>>;

const ENV: Record<string, keyof Config> = {
  SIDELIGHT_OUTPUT: 'output',
  SIDELIGHT_PIDS: 'pids',
  SIDELIGHT_PORTS: 'ports',
  SIDELIGHT_DURATION: 'durationSec',
  SIDELIGHT_CAPTURE_BYTES: 'captureBytes',
  SIDELIGHT_SYSCALL_CAP_BYTES: 'syscallCapBytes',
  SIDELIGHT_RING_BYTES: 'ringBytes',
  SIDELIGHT_ADMIN_PORT: 'adminPort',
  SIDELIGHT_ADMIN_HOST: 'adminHost',
  SIDELIGHT_LOG_LEVEL: 'logLevel',
  SIDELIGHT_MAX_CONNECTIONS: 'maxConnections',
  SIDELIGHT_IDLE_TIMEOUT: 'idleTimeoutSec',
  SIDELIGHT_REDACT_QUERY: 'redactQuery',
  SIDELIGHT_COMMAND_LINE: 'commandLine',
  SIDELIGHT_ROUTES: 'routes',
  SIDELIGHT_IGNORE_ROUTES: 'ignoreRoutes',
  SIDELIGHT_MAX_ROUTES: 'maxRoutesPerService',
  // The standard OpenTelemetry variables, read here and only here.
  OTEL_SERVICE_NAME: 'serviceName',
  OTEL_RESOURCE_ATTRIBUTES: 'resourceAttributes',
  OTEL_EXPORTER_OTLP_ENDPOINT: 'otlpEndpoint',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'otlpTracesEndpoint',
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'otlpMetricsEndpoint',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'otlpProtocol',
  OTEL_EXPORTER_OTLP_HEADERS: 'otlpHeaders',
  OTEL_EXPORTER_OTLP_TIMEOUT: 'otlpTimeoutMs',
  OTEL_TRACES_SAMPLER: 'sampler',
  OTEL_TRACES_SAMPLER_ARG: 'samplerArg',
  OTEL_BSP_MAX_QUEUE_SIZE: 'spanQueueSize',
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'spanBatchSize',
  OTEL_BSP_SCHEDULE_DELAY: 'spanDelayMs',
  OTEL_METRIC_EXPORT_INTERVAL: 'metricIntervalMs',
};

function fail(key: string, raw: Raw, reason: string): never {
  // Header values are credentials (tokens, tenant keys): never echoed.
  const shown = SECRET_KEYS.has(key) ? '(value hidden)' : JSON.stringify(raw.value);
  throw new ConfigError(`invalid ${key} ${shown} (from ${raw.source}): ${reason}`);
}

const SECRET_KEYS = new Set(['otlp-headers']);

function integer(key: string, raw: Raw, min: number, max: number): number {
  const v = typeof raw.value === 'string' ? raw.value.trim() : raw.value;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) fail(key, raw, 'expected a whole number');
  if (n < min || n > max) fail(key, raw, `expected ${min}..${max}`);
  return n;
}

function integerList(key: string, raw: Raw, min: number, max: number): number[] {
  const items = Array.isArray(raw.value)
    ? raw.value
    : typeof raw.value === 'string'
      ? raw.value.split(',').filter((s) => s.trim() !== '')
      : [raw.value];
  return items.map((item) => integer(key, { value: item, source: raw.source }, min, max));
}

function oneOf<T extends string>(key: string, raw: Raw, allowed: readonly T[]): T {
  if (typeof raw.value !== 'string' || !allowed.includes(raw.value as T)) fail(key, raw, `expected one of ${allowed.join(', ')}`);
  return raw.value as T;
}

function boolean(key: string, raw: Raw): boolean {
  if (typeof raw.value === 'boolean') return raw.value;
  if (raw.value === 'true' || raw.value === '1') return true;
  if (raw.value === 'false' || raw.value === '0') return false;
  return fail(key, raw, 'expected true or false');
}

function text(key: string, raw: Raw): string {
  if (typeof raw.value !== 'string' || raw.value.trim() === '') fail(key, raw, 'expected a non-empty string');
  return raw.value.trim();
}

function stringList(key: string, raw: Raw): string[] {
  const items = Array.isArray(raw.value) ? raw.value : typeof raw.value === 'string' ? raw.value.split(',') : fail(key, raw, 'expected a list');
  return items.map((v) => {
    if (typeof v !== 'string' || v.trim() === '') fail(key, raw, 'expected non-empty strings');
    return v.trim();
  });
}

/** key=value,key=value (W3C Baggage octets, percent-encoded values), as OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS are. */
function keyValues(key: string, raw: Raw): Record<string, string> {
  if (raw.value !== null && typeof raw.value === 'object' && !Array.isArray(raw.value)) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw.value)) out[k] = String(v);
    return out;
  }
  const out: Record<string, string> = {};
  for (const item of stringList(key, raw)) {
    const eq = item.indexOf('=');
    if (eq <= 0) fail(key, raw, `expected key=value pairs separated by commas (bad item "${SECRET_KEYS.has(key) ? item.slice(0, Math.max(0, eq)) || '…' : item}")`);
    try {
      out[decodeURIComponent(item.slice(0, eq).trim())] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      fail(key, raw, `bad percent-encoding in "${SECRET_KEYS.has(key) ? item.slice(0, eq) : item}"`);
    }
  }
  return out;
}

function endpoint(key: string, raw: Raw): string {
  const v = text(key, raw);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return fail(key, raw, 'expected a URL such as http://collector:4318');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(key, raw, 'expected an http:// or https:// URL');
  return v;
}

function ratio(key: string, raw: Raw): number {
  const n = typeof raw.value === 'number' ? raw.value : typeof raw.value === 'string' && raw.value.trim() !== '' ? Number(raw.value) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) fail(key, raw, 'expected a ratio between 0 and 1');
  return n;
}

/** Reads the SIDELIGHT_* and OTEL_* variables that are set. */
export function fromEnv(env: NodeJS.ProcessEnv): RawConfig {
  const out: RawConfig = {};
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') out[key] = v;
  }
  return out;
}

/** Reads a YAML file whose keys are the Config keys. */
export function fromFile(path: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; check the --config path`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path} must be a mapping of settings`);
  const out: RawConfig = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!(k in DEFAULTS)) throw new ConfigError(`unknown setting ${k} in ${path}; known: ${Object.keys(DEFAULTS).join(', ')}`);
    out[k as keyof Config] = v;
  }
  return out;
}

/** Merges the sources (flags > env > file > defaults) and validates. */
export function resolveConfig(sources: { flags?: RawConfig; env?: RawConfig; file?: RawConfig }): Config {
  const pick = (key: keyof Config): Raw | undefined => {
    if (sources.flags?.[key] !== undefined) return { value: sources.flags[key], source: 'command line' };
    if (sources.env?.[key] !== undefined) return { value: sources.env[key], source: 'environment' };
    if (sources.file?.[key] !== undefined) return { value: sources.file[key], source: 'config file' };
    return undefined;
  };
  const c: Config = { ...DEFAULTS, pids: [], ports: [] };
  let r: Raw | undefined;
  if ((r = pick('output'))) c.output = oneOf('output', r, ['text', 'json', 'none'] as const);
  if ((r = pick('pids'))) c.pids = integerList('pid', r, 1, 4_194_304);
  if ((r = pick('ports'))) c.ports = integerList('port', r, 1, 65535);
  if ((r = pick('durationSec'))) c.durationSec = integer('duration', r, 1, 31_536_000);
  if ((r = pick('captureBytes'))) c.captureBytes = integer('capture-bytes', r, 64, MAX_CAPTURE_BYTES);
  if ((r = pick('syscallCapBytes'))) {
    c.syscallCapBytes = integer('syscall-cap-bytes', r, c.captureBytes, c.captureBytes * MAX_CHUNKS_PER_SYSCALL);
  } else {
    c.syscallCapBytes = Math.max(c.captureBytes, Math.min(DEFAULTS.syscallCapBytes, c.captureBytes * MAX_CHUNKS_PER_SYSCALL));
  }
  if ((r = pick('ringBytes'))) {
    c.ringBytes = integer('ring-bytes', r, 4096, 1 << 30);
    if ((c.ringBytes & (c.ringBytes - 1)) !== 0) fail('ring-bytes', r, 'expected a power of two (e.g. 8388608)');
  }
  if ((r = pick('adminPort'))) c.adminPort = integer('admin-port', r, 0, 65535);
  if ((r = pick('adminHost'))) {
    if (typeof r.value !== 'string' || r.value === '') fail('admin-host', r, 'expected an address to listen on');
    c.adminHost = r.value;
  }
  if ((r = pick('logLevel'))) c.logLevel = oneOf('log-level', r, ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const);
  if ((r = pick('maxConnections'))) c.maxConnections = integer('max-connections', r, 16, 16_777_216);
  if ((r = pick('idleTimeoutSec'))) c.idleTimeoutSec = integer('idle-timeout', r, 1, 86_400);
  if ((r = pick('redactQuery'))) c.redactQuery = boolean('redact-query', r);
  if ((r = pick('serviceName'))) c.serviceName = text('service-name', r);
  if ((r = pick('resourceAttributes'))) c.resourceAttributes = keyValues('resource-attributes', r);
  if ((r = pick('commandLine'))) c.commandLine = boolean('command-line', r);
  if ((r = pick('otlpEndpoint'))) c.otlpEndpoint = endpoint('otlp-endpoint', r);
  if ((r = pick('otlpTracesEndpoint'))) c.otlpTracesEndpoint = endpoint('otlp-traces-endpoint', r);
  if ((r = pick('otlpMetricsEndpoint'))) c.otlpMetricsEndpoint = endpoint('otlp-metrics-endpoint', r);
  if ((r = pick('otlpProtocol'))) c.otlpProtocol = oneOf('otlp-protocol', r, ['grpc', 'http/protobuf'] as const);
  if ((r = pick('otlpHeaders'))) c.otlpHeaders = keyValues('otlp-headers', r);
  if ((r = pick('otlpTimeoutMs'))) c.otlpTimeoutMs = integer('otlp-timeout', r, 100, 600_000);
  if ((r = pick('sampler'))) c.sampler = oneOf('sampler', r, SAMPLER_NAMES);
  if ((r = pick('samplerArg'))) c.samplerArg = ratio('sampler-arg', r);
  if ((r = pick('spanQueueSize'))) c.spanQueueSize = integer('span-queue-size', r, 1, 1_000_000);
  if ((r = pick('spanBatchSize'))) c.spanBatchSize = integer('span-batch-size', r, 1, c.spanQueueSize);
  if ((r = pick('spanDelayMs'))) c.spanDelayMs = integer('span-delay', r, 1, 600_000);
  if ((r = pick('metricIntervalMs'))) c.metricIntervalMs = integer('metric-interval', r, 100, 3_600_000);
  if ((r = pick('routes'))) c.routes = stringList('routes', r);
  if ((r = pick('ignoreRoutes'))) c.ignoreRoutes = stringList('ignore-routes', r);
  if ((r = pick('maxRoutesPerService'))) c.maxRoutesPerService = integer('max-routes', r, 1, 100_000);
  // OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES (OTel SDK spec).
  if (c.serviceName === undefined && c.resourceAttributes['service.name']) c.serviceName = c.resourceAttributes['service.name'];
  return c;
}
