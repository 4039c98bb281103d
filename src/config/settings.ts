// The settings table: one descriptor per setting, the only list of them.
// The typed Config, DEFAULTS, the YAML keys, the environment variables, the
// command-line flags (flags.ts), their help text and the README check are all
// derived from it, and every value goes through its descriptor's parser.
import { SAMPLER_NAMES } from '../transactions/sampling';
import { KERNEL } from '../capture/contract';
import type { LabelSelector } from '../select/labels';
import type { PortRange } from '../capture/ports';
import {
  address, boolean, endpoint, integer, integerList, k8sNames, keyValues, labelSelector, oneOf, pathGlobs, portRanges,
  powerOfTwo, ratio, routePatterns, text, type Raw,
} from './values';

export const OUTPUT_FORMATS = ['text', 'json', 'none'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const KUBERNETES_MODES = ['auto', 'on', 'off'] as const;
export const OTLP_PROTOCOLS = ['grpc', 'http/protobuf'] as const;

/** How a setting appears on the command line. */
export type Flag =
  /** `--<name> <arg>` */
  | { kind: 'value'; arg: string }
  /** A repeatable singular flag (`--port 80 --port 443`), `check` vetting each argument. */
  | { kind: 'list'; flag: string; arg: string; check?: 'numbers' | 'ports' }
  /** `--no-<name>` turns a setting that is on by default off. */
  | { kind: 'off' }
  /** `--<name>` turns it on. */
  | { kind: 'on' };

/** Settings earlier in the table that the rules of later ones read. */
export interface Earlier {
  captureBytes: number;
  spanQueueSize: number;
  resourceAttributes: Record<string, string>;
}

/** Where the agent runs, for defaults that depend on it. */
export interface Where {
  inKubernetes: boolean;
}

export interface Setting<T> {
  /** The YAML key, and the flag unless `flag` names another. */
  readonly name: string;
  /** Variables that set it, strongest first (the first is always SIDELIGHT_<NAME>). */
  readonly env: readonly string[];
  readonly default: T;
  /** The default as help and the README say it, where it is not one plain value. */
  readonly defaultText?: string;
  readonly help: string;
  readonly flag: Flag;
  readonly choices?: readonly string[];
  /** Never echoed in errors. */
  readonly secret?: boolean;
  readonly parse: (raw: Raw, earlier: Earlier) => T;
  /** Its value when no source sets it, where that depends on other settings or on where the agent runs. */
  readonly unset?: (earlier: Earlier, where: Where) => T;
}

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

const value = (arg: string): Flag => ({ kind: 'value', arg });
const list = (flag: string, arg: string, check?: 'numbers' | 'ports'): Flag => ({ kind: 'list', flag, arg, check });

/** Bytes captured per syscall when not set: 16 KiB, within what one syscall's events can carry. */
const SYSCALL_CAP_DEFAULT = 16384;

export const SETTINGS = {
  output: setting<(typeof OUTPUT_FORMATS)[number]>({
    name: 'output', env: ['SIDELIGHT_OUTPUT'], default: 'text', flag: value('<format>'), choices: OUTPUT_FORMATS,
    help: 'transaction lines on stdout (none: export only)',
    parse: (r) => oneOf(r, OUTPUT_FORMATS),
  }),
  pids: setting<number[]>({
    name: 'pids', env: ['SIDELIGHT_PIDS'], default: [], defaultText: 'all', flag: list('pid', '<n...>', 'numbers'),
    help: `only these process ids (at most ${KERNEL.maxPids})`,
    parse: (r) => integerList(r, 1, 4_194_304, KERNEL.maxPids, 'pids'),
  }),
  ports: setting<PortRange[]>({
    name: 'ports', env: ['SIDELIGHT_PORTS'], default: [], defaultText: 'all', flag: list('port', '<n...>', 'ports'),
    help: 'only connections whose local or peer port is in these ports or ranges, e.g. 8080 or 8000-8100',
    parse: portRanges,
  }),
  exePaths: setting<string[]>({
    name: 'exe-paths', env: ['SIDELIGHT_EXE_PATHS'], default: [], defaultText: 'all', flag: list('exe-path', '<glob>'),
    help: 'only processes whose executable path matches, e.g. /usr/sbin/nginx or /opt/**/bin/*',
    parse: pathGlobs,
  }),
  k8sNamespaces: setting<string[]>({
    name: 'k8s-namespaces', env: ['SIDELIGHT_K8S_NAMESPACES'], default: [], defaultText: 'all', flag: list('k8s-namespace', '<name>'),
    help: 'only pods in these Kubernetes namespaces',
    parse: k8sNames,
  }),
  k8sPodLabels: setting<LabelSelector>({
    name: 'k8s-pod-labels', env: ['SIDELIGHT_K8S_POD_LABELS'], default: [], defaultText: 'all', flag: value('<selector>'),
    help: 'only pods whose labels match, e.g. app=shop,tier!=db',
    parse: labelSelector,
  }),
  excludePorts: setting<PortRange[]>({
    name: 'exclude-ports', env: ['SIDELIGHT_EXCLUDE_PORTS'], default: [], defaultText: 'none', flag: list('exclude-port', '<n...>', 'ports'),
    help: 'leave out connections whose local or peer port is in these ports or ranges',
    parse: portRanges,
  }),
  excludeExePaths: setting<string[]>({
    name: 'exclude-exe-paths', env: ['SIDELIGHT_EXCLUDE_EXE_PATHS'], default: [], defaultText: 'none', flag: list('exclude-exe-path', '<glob>'),
    help: 'leave out processes whose executable path matches',
    parse: pathGlobs,
  }),
  excludeK8sNamespaces: setting<string[]>({
    name: 'exclude-k8s-namespaces', env: ['SIDELIGHT_EXCLUDE_K8S_NAMESPACES'], default: [], defaultText: 'none', flag: list('exclude-k8s-namespace', '<name>'),
    help: 'leave out pods in these namespaces',
    parse: k8sNames,
  }),
  excludeK8sPodLabels: setting<LabelSelector>({
    name: 'exclude-k8s-pod-labels', env: ['SIDELIGHT_EXCLUDE_K8S_POD_LABELS'], default: [], defaultText: 'none', flag: value('<selector>'),
    help: 'leave out pods whose labels match',
    parse: labelSelector,
  }),
  durationSec: setting<number | undefined>({
    name: 'duration', env: ['SIDELIGHT_DURATION'], default: undefined, defaultText: 'until SIGINT/SIGTERM', flag: value('<seconds>'),
    help: 'stop after this many seconds',
    parse: (r) => integer(r, 1, 31_536_000),
  }),
  captureBytes: setting<number>({
    name: 'capture-bytes', env: ['SIDELIGHT_CAPTURE_BYTES'], default: 4096, flag: value('<n>'),
    help: `payload bytes per kernel event (64..${KERNEL.maxChunk})`,
    parse: (r) => integer(r, 64, KERNEL.maxChunk),
  }),
  syscallCapBytes: setting<number>({
    name: 'syscall-cap-bytes', env: ['SIDELIGHT_SYSCALL_CAP_BYTES'], default: SYSCALL_CAP_DEFAULT, flag: value('<n>'),
    help: 'payload bytes captured per syscall, over several events',
    parse: (r, e) => integer(r, e.captureBytes, e.captureBytes * KERNEL.maxChunksPerSyscall),
    unset: (e) => Math.max(e.captureBytes, Math.min(SYSCALL_CAP_DEFAULT, e.captureBytes * KERNEL.maxChunksPerSyscall)),
  }),
  ringBytes: setting<number>({
    name: 'ring-bytes', env: ['SIDELIGHT_RING_BYTES'], default: 8 * 1024 * 1024, flag: value('<n>'),
    help: 'kernel ring buffer size, a power of two',
    parse: (r) => powerOfTwo(r, 4096, 1 << 30),
  }),
  adminPort: setting<number>({
    name: 'admin-port', env: ['SIDELIGHT_ADMIN_PORT'], default: 9464, flag: value('<n>'),
    help: 'port of /healthz, /readyz, /metrics, /stats (0 disables)',
    parse: (r) => integer(r, 0, 65535),
  }),
  adminHost: setting<string>({
    name: 'admin-host', env: ['SIDELIGHT_ADMIN_HOST'], default: '127.0.0.1', flag: value('<addr>'),
    help: 'address the admin server listens on (0.0.0.0 by default in a Kubernetes pod)',
    parse: address,
    unset: (_, where) => (where.inKubernetes ? '0.0.0.0' : '127.0.0.1'),
  }),
  logLevel: setting<(typeof LOG_LEVELS)[number]>({
    name: 'log-level', env: ['SIDELIGHT_LOG_LEVEL'], default: 'info', flag: value('<level>'), choices: LOG_LEVELS,
    help: 'log level on stderr',
    parse: (r) => oneOf(r, LOG_LEVELS),
  }),
  maxConnections: setting<number>({
    name: 'max-connections', env: ['SIDELIGHT_MAX_CONNECTIONS'], default: 65536, flag: value('<n>'),
    help: 'connections tracked at once (kernel and user space)',
    parse: (r) => integer(r, 16, 16_777_216),
  }),
  idleTimeoutSec: setting<number>({
    name: 'idle-timeout', env: ['SIDELIGHT_IDLE_TIMEOUT'], default: 300, flag: value('<seconds>'),
    help: 'seconds before an idle connection is forgotten',
    parse: (r) => integer(r, 1, 86_400),
  }),
  redactQuery: setting<boolean>({
    name: 'redact-query', env: ['SIDELIGHT_REDACT_QUERY'], default: true, flag: { kind: 'off' },
    help: 'query values shown as REDACTED (--no-redact-query shows them)',
    parse: boolean,
  }),
  tls: setting<boolean>({
    name: 'tls', env: ['SIDELIGHT_TLS'], default: true, flag: { kind: 'off' },
    help: 'read HTTPS and gRPC over TLS at OpenSSL through uprobes (--no-tls: HTTPS is then not seen)',
    parse: boolean,
  }),
  resourceAttributes: setting<Record<string, string>>({
    name: 'resource-attributes', env: ['SIDELIGHT_RESOURCE_ATTRIBUTES', 'OTEL_RESOURCE_ATTRIBUTES'], default: {}, defaultText: 'none', flag: value('<k=v,...>'),
    help: 'extra resource attributes',
    parse: keyValues,
  }),
  serviceName: setting<string | undefined>({
    name: 'service-name', env: ['SIDELIGHT_SERVICE_NAME', 'OTEL_SERVICE_NAME'], default: undefined,
    defaultText: "Kubernetes name, else the executable's name", flag: value('<name>'),
    help: 'service.name for every process',
    parse: text,
    // OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES (OTel SDK spec).
    unset: (e) => e.resourceAttributes['service.name'] || undefined,
  }),
  commandLine: setting<boolean>({
    name: 'command-line', env: ['SIDELIGHT_COMMAND_LINE'], default: false, flag: { kind: 'on' },
    help: 'export process.command_line (off: it may hold secrets)',
    parse: boolean,
  }),
  kubernetes: setting<(typeof KUBERNETES_MODES)[number]>({
    name: 'kubernetes', env: ['SIDELIGHT_KUBERNETES'], default: 'auto', flag: value('<mode>'), choices: KUBERNETES_MODES,
    help: 'pod metadata: auto (on inside a cluster or with --kubeconfig), on, off',
    parse: (r) => oneOf(r, KUBERNETES_MODES),
  }),
  kubeconfig: setting<string | undefined>({
    name: 'kubeconfig', env: ['SIDELIGHT_KUBECONFIG'], default: undefined, defaultText: 'in-cluster service account', flag: value('<file>'),
    help: 'kubeconfig to reach the API server instead of the in-cluster service account',
    parse: text,
  }),
  nodeName: setting<string | undefined>({
    name: 'node-name', env: ['SIDELIGHT_NODE_NAME', 'NODE_NAME'], default: undefined, defaultText: 'none (required when on)', flag: value('<name>'),
    help: "this node's Kubernetes name",
    parse: text,
  }),
  otlpEndpoint: setting<string | undefined>({
    name: 'otlp-endpoint', env: ['SIDELIGHT_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'], default: undefined, defaultText: 'none: no OTLP export', flag: value('<url>'),
    help: 'OTLP endpoint for traces and metrics, e.g. http://localhost:4318',
    parse: endpoint,
  }),
  otlpTracesEndpoint: setting<string | undefined>({
    name: 'otlp-traces-endpoint', env: ['SIDELIGHT_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'], default: undefined, defaultText: 'none', flag: value('<url>'),
    help: 'OTLP endpoint for traces only, used as is',
    parse: endpoint,
  }),
  otlpMetricsEndpoint: setting<string | undefined>({
    name: 'otlp-metrics-endpoint', env: ['SIDELIGHT_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'], default: undefined, defaultText: 'none', flag: value('<url>'),
    help: 'OTLP endpoint for metrics only, used as is',
    parse: endpoint,
  }),
  otlpProtocol: setting<(typeof OTLP_PROTOCOLS)[number]>({
    name: 'otlp-protocol', env: ['SIDELIGHT_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'], default: 'http/protobuf', flag: value('<protocol>'), choices: OTLP_PROTOCOLS,
    help: 'OTLP transport',
    parse: (r) => oneOf(r, OTLP_PROTOCOLS),
  }),
  otlpHeaders: setting<Record<string, string>>({
    name: 'otlp-headers', env: ['SIDELIGHT_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_HEADERS'], default: {}, defaultText: 'none', flag: value('<k=v,...>'), secret: true,
    help: 'headers sent with every export (never printed in errors)',
    parse: keyValues,
  }),
  otlpTimeoutMs: setting<number>({
    name: 'otlp-timeout', env: ['SIDELIGHT_OTLP_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT'], default: 10_000, flag: value('<ms>'),
    help: 'ms per export call',
    parse: (r) => integer(r, 100, 600_000),
  }),
  sampler: setting<(typeof SAMPLER_NAMES)[number]>({
    name: 'sampler', env: ['SIDELIGHT_SAMPLER', 'OTEL_TRACES_SAMPLER'], default: 'parentbased_always_on', flag: value('<name>'), choices: SAMPLER_NAMES,
    help: 'trace sampler',
    parse: (r) => oneOf(r, SAMPLER_NAMES),
  }),
  samplerArg: setting<number>({
    name: 'sampler-arg', env: ['SIDELIGHT_SAMPLER_ARG', 'OTEL_TRACES_SAMPLER_ARG'], default: 1, flag: value('<ratio>'),
    help: 'sampling ratio 0..1 for the traceidratio samplers',
    parse: ratio,
  }),
  spanQueueSize: setting<number>({
    name: 'span-queue-size', env: ['SIDELIGHT_SPAN_QUEUE_SIZE', 'OTEL_BSP_MAX_QUEUE_SIZE'], default: 2048, flag: value('<n>'),
    help: 'spans waiting for export before new ones are dropped (counted)',
    parse: (r) => integer(r, 1, 1_000_000),
  }),
  spanBatchSize: setting<number>({
    name: 'span-batch-size', env: ['SIDELIGHT_SPAN_BATCH_SIZE', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'], default: 512, flag: value('<n>'),
    help: 'spans per export call',
    parse: (r, e) => integer(r, 1, e.spanQueueSize),
  }),
  spanDelayMs: setting<number>({
    name: 'span-delay', env: ['SIDELIGHT_SPAN_DELAY', 'OTEL_BSP_SCHEDULE_DELAY'], default: 5000, flag: value('<ms>'),
    help: 'longest a span waits for its batch, ms',
    parse: (r) => integer(r, 1, 600_000),
  }),
  metricIntervalMs: setting<number>({
    name: 'metric-interval', env: ['SIDELIGHT_METRIC_INTERVAL', 'OTEL_METRIC_EXPORT_INTERVAL'], default: 60_000, flag: value('<ms>'),
    help: 'OTLP metric push interval, ms',
    parse: (r) => integer(r, 100, 3_600_000),
  }),
  routes: setting<string[]>({
    name: 'routes', env: ['SIDELIGHT_ROUTES'], default: [], defaultText: 'heuristic only', flag: list('route', '<pattern>'),
    help: 'route pattern such as /users/{id} (first match wins)',
    parse: routePatterns,
  }),
  ignoreRoutes: setting<string[]>({
    name: 'ignore-routes', env: ['SIDELIGHT_IGNORE_ROUTES'], default: [], defaultText: 'none', flag: list('ignore-route', '<pattern>'),
    help: 'path pattern not to report, such as /healthz',
    parse: routePatterns,
  }),
  maxRoutesPerService: setting<number>({
    name: 'max-routes', env: ['SIDELIGHT_MAX_ROUTES'], default: 500, flag: value('<n>'),
    help: 'distinct routes per service before the overflow value',
    parse: (r) => integer(r, 1, 100_000),
  }),
};

/** The typed configuration, one field per setting of the table. */
export type Config = { -readonly [K in keyof typeof SETTINGS]: (typeof SETTINGS)[K] extends Setting<infer T> ? T : never };

export type SettingKey = keyof Config;

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** Read-only view of any descriptor, for code that walks the table. */
export function settingOf(key: SettingKey): Setting<Config[SettingKey]> {
  return SETTINGS[key] as Setting<Config[SettingKey]>;
}

/** The default as help and the README show it. */
export function defaultShown(s: Setting<unknown>): string {
  return s.defaultText ?? `\`${String(s.default)}\``;
}
