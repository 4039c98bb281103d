// The one typed configuration object. Sources, strongest first: command-line
// flags, environment (SIDELIGHT_* and the standard OTEL_*), a YAML file
// (--config), defaults. Every setting has one name, used as the YAML key and
// the flag; every value is validated here, and a bad one fails start-up
// naming the setting, the source (flag, variable or file) and the problem.
import { readFileSync } from 'node:fs';
import picomatch from 'picomatch';
import { parse as parseYaml } from 'yaml';
import type { OutputFormat } from '../export/console';
import { parseRequirement, type LabelRequirement, type LabelSelector } from '../select/labels';
import { parsePortRange, type PortRange } from '../select/ports';
import { SAMPLER_NAMES, type SamplerName } from '../transactions/sampling';

export type OtlpProtocol = 'grpc' | 'http/protobuf';
export type KubernetesMode = 'auto' | 'on' | 'off';

export interface Config {
  output: OutputFormat;
  /** Process selection: empty lists select everything (see src/select). */
  pids: number[];
  ports: PortRange[];
  exePaths: string[];
  k8sNamespaces: string[];
  k8sPodLabels: LabelSelector;
  excludePorts: PortRange[];
  excludeExePaths: string[];
  excludeK8sNamespaces: string[];
  excludeK8sPodLabels: LabelSelector;
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
  /** Read HTTPS and gRPC over TLS at OpenSSL through uprobes. */
  tls: boolean;
  /** service.name for every process (OTEL_SERVICE_NAME); undefined: Kubernetes names, else the process name. */
  serviceName: string | undefined;
  /** Extra resource attributes (OTEL_RESOURCE_ATTRIBUTES). */
  resourceAttributes: Record<string, string>;
  /** Export process.command_line (may hold secrets: opt-in). */
  commandLine: boolean;
  /** Pod metadata: auto turns it on inside a cluster (service account present) or with a kubeconfig. */
  kubernetes: KubernetesMode;
  /** A kubeconfig file instead of the in-cluster service account. */
  kubeconfig: string | undefined;
  /** This node's name (the DaemonSet sets NODE_NAME from spec.nodeName). */
  nodeName: string | undefined;
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
  exePaths: [],
  k8sNamespaces: [],
  k8sPodLabels: [],
  excludePorts: [],
  excludeExePaths: [],
  excludeK8sNamespaces: [],
  excludeK8sPodLabels: [],
  durationSec: undefined,
  captureBytes: 4096,
  syscallCapBytes: 16384,
  ringBytes: 8 * 1024 * 1024,
  adminPort: 9464,
  adminHost: '127.0.0.1',
  logLevel: 'info',
  maxConnections: 65536,
  idleTimeoutSec: 300,
  redactQuery: true,
  tls: true,
  serviceName: undefined,
  resourceAttributes: {},
  commandLine: false,
  kubernetes: 'auto',
  kubeconfig: undefined,
  nodeName: undefined,
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

/** Limits the kernel programs were built with (bpf/events.h, bpf/maps.bpf.h). */
export const MAX_CAPTURE_BYTES = 8192;
export const MAX_CHUNKS_PER_SYSCALL = 16;
export const MAX_PIDS = 1024;

/**
 * Every setting: its name (the YAML key; the flag, singular for repeatable
 * lists such as --port) and the environment variables
 * that set it, strongest first. Defaults are DEFAULTS; meanings are in the README.
 */
export const SETTINGS: { readonly [K in keyof Config]: { readonly name: string; readonly env: readonly string[] } } = {
  output: { name: 'output', env: ['SIDELIGHT_OUTPUT'] },
  pids: { name: 'pids', env: ['SIDELIGHT_PIDS'] },
  ports: { name: 'ports', env: ['SIDELIGHT_PORTS'] },
  exePaths: { name: 'exe-paths', env: ['SIDELIGHT_EXE_PATHS'] },
  k8sNamespaces: { name: 'k8s-namespaces', env: ['SIDELIGHT_K8S_NAMESPACES'] },
  k8sPodLabels: { name: 'k8s-pod-labels', env: ['SIDELIGHT_K8S_POD_LABELS'] },
  excludePorts: { name: 'exclude-ports', env: ['SIDELIGHT_EXCLUDE_PORTS'] },
  excludeExePaths: { name: 'exclude-exe-paths', env: ['SIDELIGHT_EXCLUDE_EXE_PATHS'] },
  excludeK8sNamespaces: { name: 'exclude-k8s-namespaces', env: ['SIDELIGHT_EXCLUDE_K8S_NAMESPACES'] },
  excludeK8sPodLabels: { name: 'exclude-k8s-pod-labels', env: ['SIDELIGHT_EXCLUDE_K8S_POD_LABELS'] },
  durationSec: { name: 'duration', env: ['SIDELIGHT_DURATION'] },
  captureBytes: { name: 'capture-bytes', env: ['SIDELIGHT_CAPTURE_BYTES'] },
  syscallCapBytes: { name: 'syscall-cap-bytes', env: ['SIDELIGHT_SYSCALL_CAP_BYTES'] },
  ringBytes: { name: 'ring-bytes', env: ['SIDELIGHT_RING_BYTES'] },
  adminPort: { name: 'admin-port', env: ['SIDELIGHT_ADMIN_PORT'] },
  adminHost: { name: 'admin-host', env: ['SIDELIGHT_ADMIN_HOST'] },
  logLevel: { name: 'log-level', env: ['SIDELIGHT_LOG_LEVEL'] },
  maxConnections: { name: 'max-connections', env: ['SIDELIGHT_MAX_CONNECTIONS'] },
  idleTimeoutSec: { name: 'idle-timeout', env: ['SIDELIGHT_IDLE_TIMEOUT'] },
  redactQuery: { name: 'redact-query', env: ['SIDELIGHT_REDACT_QUERY'] },
  tls: { name: 'tls', env: ['SIDELIGHT_TLS'] },
  serviceName: { name: 'service-name', env: ['SIDELIGHT_SERVICE_NAME', 'OTEL_SERVICE_NAME'] },
  resourceAttributes: { name: 'resource-attributes', env: ['SIDELIGHT_RESOURCE_ATTRIBUTES', 'OTEL_RESOURCE_ATTRIBUTES'] },
  commandLine: { name: 'command-line', env: ['SIDELIGHT_COMMAND_LINE'] },
  kubernetes: { name: 'kubernetes', env: ['SIDELIGHT_KUBERNETES'] },
  kubeconfig: { name: 'kubeconfig', env: ['SIDELIGHT_KUBECONFIG'] },
  nodeName: { name: 'node-name', env: ['SIDELIGHT_NODE_NAME', 'NODE_NAME'] },
  otlpEndpoint: { name: 'otlp-endpoint', env: ['SIDELIGHT_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'] },
  otlpTracesEndpoint: { name: 'otlp-traces-endpoint', env: ['SIDELIGHT_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] },
  otlpMetricsEndpoint: { name: 'otlp-metrics-endpoint', env: ['SIDELIGHT_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] },
  otlpProtocol: { name: 'otlp-protocol', env: ['SIDELIGHT_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'] },
  otlpHeaders: { name: 'otlp-headers', env: ['SIDELIGHT_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_HEADERS'] },
  otlpTimeoutMs: { name: 'otlp-timeout', env: ['SIDELIGHT_OTLP_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT'] },
  sampler: { name: 'sampler', env: ['SIDELIGHT_SAMPLER', 'OTEL_TRACES_SAMPLER'] },
  samplerArg: { name: 'sampler-arg', env: ['SIDELIGHT_SAMPLER_ARG', 'OTEL_TRACES_SAMPLER_ARG'] },
  spanQueueSize: { name: 'span-queue-size', env: ['SIDELIGHT_SPAN_QUEUE_SIZE', 'OTEL_BSP_MAX_QUEUE_SIZE'] },
  spanBatchSize: { name: 'span-batch-size', env: ['SIDELIGHT_SPAN_BATCH_SIZE', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'] },
  spanDelayMs: { name: 'span-delay', env: ['SIDELIGHT_SPAN_DELAY', 'OTEL_BSP_SCHEDULE_DELAY'] },
  metricIntervalMs: { name: 'metric-interval', env: ['SIDELIGHT_METRIC_INTERVAL', 'OTEL_METRIC_EXPORT_INTERVAL'] },
  routes: { name: 'routes', env: ['SIDELIGHT_ROUTES'] },
  ignoreRoutes: { name: 'ignore-routes', env: ['SIDELIGHT_IGNORE_ROUTES'] },
  maxRoutesPerService: { name: 'max-routes', env: ['SIDELIGHT_MAX_ROUTES'] },
};

const FIELDS = Object.keys(SETTINGS) as (keyof Config)[];
const BY_NAME = new Map(FIELDS.map((f) => [SETTINGS[f].name, f]));

export class ConfigError extends Error {}

/** A raw value, the setting's name and where it came from, for error messages. */
type Raw = { value: unknown; name: string; source: string };
export type RawConfig = Partial<Record<keyof Config, unknown>>;

/** Where each value of a RawConfig came from (a variable's name, a file's path), when known. */
const ORIGINS = new WeakMap<RawConfig, { source: string; of: Partial<Record<keyof Config, string>> }>();

function fail(raw: Raw, reason: string): never {
  // Header values are credentials (tokens, tenant keys): never echoed.
  const shown = SECRET_SETTINGS.has(raw.name) ? '(value hidden)' : JSON.stringify(raw.value);
  throw new ConfigError(`invalid ${raw.name} ${shown} (from ${raw.source}): ${reason}`);
}

const SECRET_SETTINGS = new Set(['otlp-headers']);

function integer(raw: Raw, min: number, max: number): number {
  const v = typeof raw.value === 'string' ? raw.value.trim() : raw.value;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) fail(raw, 'expected a whole number');
  if (n < min || n > max) fail(raw, `expected ${min}..${max}`);
  return n;
}

/** A YAML list, or a comma-separated string (flags and variables). */
function items(raw: Raw): unknown[] {
  if (Array.isArray(raw.value)) return raw.value;
  if (typeof raw.value === 'string') return raw.value.split(',').filter((s) => s.trim() !== '');
  if (typeof raw.value === 'number') return [raw.value];
  return fail(raw, 'expected a list (YAML list or comma-separated)');
}

function integerList(raw: Raw, min: number, max: number): number[] {
  return items(raw).map((item) => integer({ ...raw, value: item }, min, max));
}

function portRanges(raw: Raw): PortRange[] {
  return items(raw).map((item) => parsePortRange(String(item)) ?? fail({ ...raw, value: item }, 'expected a port 1..65535 or a range such as 8000-8100'));
}

function oneOf<T extends string>(raw: Raw, allowed: readonly T[]): T {
  if (typeof raw.value !== 'string' || !allowed.includes(raw.value as T)) fail(raw, `expected one of ${allowed.join(', ')}`);
  return raw.value as T;
}

function boolean(raw: Raw): boolean {
  if (typeof raw.value === 'boolean') return raw.value;
  if (raw.value === 'true' || raw.value === '1') return true;
  if (raw.value === 'false' || raw.value === '0') return false;
  return fail(raw, 'expected true or false');
}

function text(raw: Raw): string {
  if (typeof raw.value !== 'string' || raw.value.trim() === '') fail(raw, 'expected a non-empty string');
  return raw.value.trim();
}

function stringList(raw: Raw): string[] {
  return items(raw).map((v) => {
    if (typeof v !== 'string' || v.trim() === '') fail(raw, 'expected non-empty strings');
    return v.trim();
  });
}

/** Absolute path globs (`*` within a directory, `**` across). */
function pathGlobs(raw: Raw): string[] {
  return stringList(raw).map((g) => {
    if (!g.startsWith('/') && !g.startsWith('**')) fail({ ...raw, value: g }, 'expected an absolute path glob such as /usr/sbin/nginx or /opt/**/bin/*');
    try {
      picomatch.makeRe(g);
    } catch (err) {
      fail({ ...raw, value: g }, `not a glob: ${(err as Error).message}`);
    }
    return g;
  });
}

/** Kubernetes object names (RFC 1123 labels), e.g. namespaces. */
function k8sNames(raw: Raw): string[] {
  return stringList(raw).map((n) => (/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n) ? n : fail({ ...raw, value: n }, 'expected a Kubernetes namespace name (lower-case letters, digits, -)')));
}

/** `app=shop,tier!=db,canary,!legacy`, a YAML list of those, or a YAML map of equalities. */
function labelSelector(raw: Raw): LabelSelector {
  const parts: string[] =
    raw.value !== null && typeof raw.value === 'object' && !Array.isArray(raw.value)
      ? Object.entries(raw.value as Record<string, unknown>).map(([k, v]) => `${k}=${String(v)}`)
      : stringList(raw);
  return parts.map((p): LabelRequirement => {
    const r = parseRequirement(p);
    return typeof r === 'string' ? fail(raw, `${r}; expected key=value, key!=value, key or !key, comma-separated`) : r;
  });
}

/** key=value,key=value (W3C Baggage octets, percent-encoded values), as OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS are. */
function keyValues(raw: Raw): Record<string, string> {
  if (raw.value !== null && typeof raw.value === 'object' && !Array.isArray(raw.value)) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw.value)) out[k] = String(v);
    return out;
  }
  const secret = SECRET_SETTINGS.has(raw.name);
  const out: Record<string, string> = {};
  for (const item of stringList(raw)) {
    const eq = item.indexOf('=');
    if (eq <= 0) fail(raw, `expected key=value pairs separated by commas (bad item "${secret ? item.slice(0, Math.max(0, eq)) || '…' : item}")`);
    try {
      out[decodeURIComponent(item.slice(0, eq).trim())] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      fail(raw, `bad percent-encoding in "${secret ? item.slice(0, eq) : item}"`);
    }
  }
  return out;
}

function endpoint(raw: Raw): string {
  const v = text(raw);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return fail(raw, 'expected a URL such as http://collector:4318');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(raw, 'expected an http:// or https:// URL');
  return v;
}

function ratio(raw: Raw): number {
  const n = typeof raw.value === 'number' ? raw.value : typeof raw.value === 'string' && raw.value.trim() !== '' ? Number(raw.value) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) fail(raw, 'expected a ratio between 0 and 1');
  return n;
}

/** Reads the variables that are set (per setting, the first of its names that is set wins). */
export function fromEnv(env: NodeJS.ProcessEnv): RawConfig {
  const out: RawConfig = {};
  const of: Partial<Record<keyof Config, string>> = {};
  for (const field of FIELDS) {
    for (const name of SETTINGS[field].env) {
      const v = env[name];
      if (v !== undefined && v !== '') {
        out[field] = v;
        of[field] = name;
        break;
      }
    }
  }
  ORIGINS.set(out, { source: 'environment', of });
  return out;
}

/** Reads a YAML file: a mapping from setting names to values. */
export function fromFile(path: string): RawConfig {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; check the --config path`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(content);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const out: RawConfig = {};
  ORIGINS.set(out, { source: `config file ${path}`, of: {} });
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path} must be a mapping of settings (name: value)`);
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const field = BY_NAME.get(k);
    if (!field) throw new ConfigError(`unknown setting ${k} in ${path}${suggest(k)}; known: ${[...BY_NAME.keys()].join(', ')}`);
    out[field] = v;
  }
  return out;
}

/** ", did you mean x?" for a name one edit or a case/underscore change away. */
function suggest(name: string): string {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const close = [...BY_NAME.keys()].find((n) => norm(n) === norm(name) || editDistance(n, name) <= 2);
  return close ? ` (did you mean ${close}?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function sourceOf(raw: RawConfig, field: keyof Config, fallback: string): string {
  const o = ORIGINS.get(raw);
  if (!o) return fallback;
  const name = o.of[field];
  return name ? `${o.source} ${name}` : o.source;
}

/** In a pod (the API server's address is in every container's environment), the admin server must answer the kubelet's probes and Prometheus on the pod address; elsewhere it stays on loopback unless configured. */
export function runningInKubernetes(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env.KUBERNETES_SERVICE_HOST;
}

/** Merges the sources (flags > env > file > defaults) and validates. */
export function resolveConfig(sources: { flags?: RawConfig; env?: RawConfig; file?: RawConfig }, inKubernetes = runningInKubernetes()): Config {
  const pick = (field: keyof Config): Raw | undefined => {
    const name = SETTINGS[field].name;
    if (sources.flags?.[field] !== undefined) return { value: sources.flags[field], name, source: 'command line' };
    if (sources.env?.[field] !== undefined) return { value: sources.env[field], name, source: sourceOf(sources.env, field, 'environment') };
    if (sources.file?.[field] !== undefined) return { value: sources.file[field], name, source: sourceOf(sources.file, field, 'config file') };
    return undefined;
  };
  const c: Config = { ...DEFAULTS };
  let r: Raw | undefined;
  if ((r = pick('output'))) c.output = oneOf(r, ['text', 'json', 'none'] as const);
  if ((r = pick('pids'))) {
    c.pids = integerList(r, 1, 4_194_304);
    if (c.pids.length > MAX_PIDS) fail(r, `expected at most ${MAX_PIDS} pids`);
  }
  if ((r = pick('ports'))) c.ports = portRanges(r);
  if ((r = pick('exePaths'))) c.exePaths = pathGlobs(r);
  if ((r = pick('k8sNamespaces'))) c.k8sNamespaces = k8sNames(r);
  if ((r = pick('k8sPodLabels'))) c.k8sPodLabels = labelSelector(r);
  if ((r = pick('excludePorts'))) c.excludePorts = portRanges(r);
  if ((r = pick('excludeExePaths'))) c.excludeExePaths = pathGlobs(r);
  if ((r = pick('excludeK8sNamespaces'))) c.excludeK8sNamespaces = k8sNames(r);
  if ((r = pick('excludeK8sPodLabels'))) c.excludeK8sPodLabels = labelSelector(r);
  if ((r = pick('durationSec'))) c.durationSec = integer(r, 1, 31_536_000);
  if ((r = pick('captureBytes'))) c.captureBytes = integer(r, 64, MAX_CAPTURE_BYTES);
  if ((r = pick('syscallCapBytes'))) {
    c.syscallCapBytes = integer(r, c.captureBytes, c.captureBytes * MAX_CHUNKS_PER_SYSCALL);
  } else {
    c.syscallCapBytes = Math.max(c.captureBytes, Math.min(DEFAULTS.syscallCapBytes, c.captureBytes * MAX_CHUNKS_PER_SYSCALL));
  }
  if ((r = pick('ringBytes'))) {
    c.ringBytes = integer(r, 4096, 1 << 30);
    if ((c.ringBytes & (c.ringBytes - 1)) !== 0) fail(r, 'expected a power of two (e.g. 8388608)');
  }
  if ((r = pick('adminPort'))) c.adminPort = integer(r, 0, 65535);
  if ((r = pick('adminHost'))) {
    if (typeof r.value !== 'string' || r.value === '') fail(r, 'expected an address to listen on');
    c.adminHost = r.value;
  } else if (inKubernetes) {
    c.adminHost = '0.0.0.0';
  }
  if ((r = pick('logLevel'))) c.logLevel = oneOf(r, ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const);
  if ((r = pick('maxConnections'))) c.maxConnections = integer(r, 16, 16_777_216);
  if ((r = pick('idleTimeoutSec'))) c.idleTimeoutSec = integer(r, 1, 86_400);
  if ((r = pick('redactQuery'))) c.redactQuery = boolean(r);
  if ((r = pick('tls'))) c.tls = boolean(r);
  if ((r = pick('serviceName'))) c.serviceName = text(r);
  if ((r = pick('resourceAttributes'))) c.resourceAttributes = keyValues(r);
  if ((r = pick('commandLine'))) c.commandLine = boolean(r);
  if ((r = pick('kubernetes'))) c.kubernetes = oneOf(r, ['auto', 'on', 'off'] as const);
  if ((r = pick('kubeconfig'))) c.kubeconfig = text(r);
  if ((r = pick('nodeName'))) c.nodeName = text(r);
  if ((r = pick('otlpEndpoint'))) c.otlpEndpoint = endpoint(r);
  if ((r = pick('otlpTracesEndpoint'))) c.otlpTracesEndpoint = endpoint(r);
  if ((r = pick('otlpMetricsEndpoint'))) c.otlpMetricsEndpoint = endpoint(r);
  if ((r = pick('otlpProtocol'))) c.otlpProtocol = oneOf(r, ['grpc', 'http/protobuf'] as const);
  if ((r = pick('otlpHeaders'))) c.otlpHeaders = keyValues(r);
  if ((r = pick('otlpTimeoutMs'))) c.otlpTimeoutMs = integer(r, 100, 600_000);
  if ((r = pick('sampler'))) c.sampler = oneOf(r, SAMPLER_NAMES);
  if ((r = pick('samplerArg'))) c.samplerArg = ratio(r);
  if ((r = pick('spanQueueSize'))) c.spanQueueSize = integer(r, 1, 1_000_000);
  if ((r = pick('spanBatchSize'))) c.spanBatchSize = integer(r, 1, c.spanQueueSize);
  if ((r = pick('spanDelayMs'))) c.spanDelayMs = integer(r, 1, 600_000);
  if ((r = pick('metricIntervalMs'))) c.metricIntervalMs = integer(r, 100, 3_600_000);
  if ((r = pick('routes'))) c.routes = stringList(r);
  if ((r = pick('ignoreRoutes'))) c.ignoreRoutes = stringList(r);
  if ((r = pick('maxRoutesPerService'))) c.maxRoutesPerService = integer(r, 1, 100_000);
  // OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES (OTel SDK spec).
  if (c.serviceName === undefined && c.resourceAttributes['service.name']) c.serviceName = c.resourceAttributes['service.name'];
  return c;
}
