// Command line: `sidelight run` and its flags (see README).
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { runAgent } from './agent';
import { ConfigError, fromEnv, fromFile, resolveConfig, type Config, type RawConfig } from './config/config';
import { PreflightError } from './capture/preflight';
import { RecordingError } from './capture/recording';
import { npmLaunchers, watchLaunchers } from './launcher';
import { createLogger, type Logger } from './log';
import { recordCapture } from './record';
import { replayRecording } from './replay';

function collect(value: string, previous: string[] | undefined): string[] {
  if (!/^\d+(,\d+)*$/.test(value)) throw new InvalidArgumentError('expected a number (or a comma-separated list)');
  return [...(previous ?? []), ...value.split(',')];
}

/** Ports and ranges (8080, 8000-8100), repeatable or comma-separated; their bounds are checked with the config. */
function collectPorts(value: string, previous: string[] | undefined): string[] {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) throw new InvalidArgumentError('expected a port or a range such as 8000-8100 (or a comma-separated list)');
  return [...(previous ?? []), ...value.split(',')];
}

interface RunFlags {
  output?: string;
  pid?: string[];
  port?: string[];
  exePath?: string[];
  k8sNamespace?: string[];
  k8sPodLabels?: string;
  excludePort?: string[];
  excludeExePath?: string[];
  excludeK8sNamespace?: string[];
  excludeK8sPodLabels?: string;
  kubernetes?: string;
  kubeconfig?: string;
  nodeName?: string;
  duration?: string;
  captureBytes?: string;
  syscallCapBytes?: string;
  ringBytes?: string;
  adminPort?: string;
  adminHost?: string;
  logLevel?: string;
  config?: string;
  redactQuery?: boolean;
  tls?: boolean;
  serviceName?: string;
  resourceAttributes?: string;
  commandLine?: boolean;
  otlpEndpoint?: string;
  otlpTracesEndpoint?: string;
  otlpMetricsEndpoint?: string;
  otlpProtocol?: string;
  otlpHeaders?: string;
  sampler?: string;
  samplerArg?: string;
  route?: string[];
  ignoreRoute?: string[];
  maxRoutes?: string;
  metricInterval?: string;
  spanDelay?: string;
}

function strings(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function flagsToRaw(f: RunFlags): RawConfig {
  return {
    output: f.output,
    pids: f.pid,
    ports: f.port,
    exePaths: f.exePath,
    k8sNamespaces: f.k8sNamespace,
    k8sPodLabels: f.k8sPodLabels,
    excludePorts: f.excludePort,
    excludeExePaths: f.excludeExePath,
    excludeK8sNamespaces: f.excludeK8sNamespace,
    excludeK8sPodLabels: f.excludeK8sPodLabels,
    kubernetes: f.kubernetes,
    kubeconfig: f.kubeconfig,
    nodeName: f.nodeName,
    durationSec: f.duration,
    captureBytes: f.captureBytes,
    syscallCapBytes: f.syscallCapBytes,
    ringBytes: f.ringBytes,
    adminPort: f.adminPort,
    adminHost: f.adminHost,
    logLevel: f.logLevel,
    redactQuery: f.redactQuery === false ? false : undefined,
    tls: f.tls === false ? false : undefined,
    serviceName: f.serviceName,
    resourceAttributes: f.resourceAttributes,
    commandLine: f.commandLine,
    otlpEndpoint: f.otlpEndpoint,
    otlpTracesEndpoint: f.otlpTracesEndpoint,
    otlpMetricsEndpoint: f.otlpMetricsEndpoint,
    otlpProtocol: f.otlpProtocol,
    otlpHeaders: f.otlpHeaders,
    sampler: f.sampler,
    samplerArg: f.samplerArg,
    routes: f.route,
    ignoreRoutes: f.ignoreRoute,
    maxRoutesPerService: f.maxRoutes,
    metricIntervalMs: f.metricInterval,
    spanDelayMs: f.spanDelay,
  };
}

function configOf(flags: RunFlags) {
  try {
    return resolveConfig({ flags: flagsToRaw(flags), env: fromEnv(process.env), file: flags.config ? fromFile(flags.config) : undefined });
  } catch (err) {
    if (err instanceof ConfigError) die(err.message);
    throw err;
  }
}

/** Runs `work` until it ends, SIGINT/SIGTERM, or stdout's reader leaves; one-line errors. */
async function runUntilStopped(config: Config, work: (log: Logger, signal: AbortSignal) => Promise<void>): Promise<void> {
  const log = createLogger(config.logLevel);
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(130); // a second signal: leave now
    log.info({ signal: sig }, 'stopping');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Under npm (npx, npm start) a signal to npm never reaches the agent: stop
  // when npm or its shell exits instead (see launcher.ts).
  const launchers = npmLaunchers(process.env, process.pid);
  if (launchers.length > 0) log.debug({ launchers: launchers.map((l) => ({ pid: l.pid, command: l.argv.join(' ') })) }, 'watching the npm launchers');
  const unwatch = watchLaunchers(launchers, (gone) => {
    if (stop.signal.aborted) return;
    log.info({ pid: gone.pid, command: gone.argv.join(' ') }, 'stopping: the npm launcher exited');
    stop.abort();
  });
  // `sidelight run | head`: the reader left, so stop cleanly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (!stop.signal.aborted) {
      log.info('stdout closed by its reader; stopping');
      stop.abort();
    }
  });
  try {
    await work(log, stop.signal);
  } catch (err) {
    if (err instanceof PreflightError || err instanceof Error) die(err.message);
    throw err;
  } finally {
    unwatch();
  }
}

function die(message: string): never {
  process.stderr.write(`sidelight: ${message}\n`);
  process.exit(2);
}

/** Commander's own errors become one line that says where usage is. */
function oneLineErrors(help: string): { writeErr: (s: string) => void } {
  return { writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `sidelight: ${s.slice(7).trimEnd()} (see: ${help})\n` : s) };
}

/** The settings every command shares (each uses the part it needs). */
function withSettings(cmd: Command): Command {
  return cmd
    .configureOutput(oneLineErrors(`sidelight ${cmd.name()} --help`))
    .addOption(new Option('--output <format>', 'transaction output on stdout (none: export only)').choices(['text', 'json', 'none']))
    .option('--pid <n...>', 'only these process ids (repeatable)', collect)
    .option('--port <n...>', 'only connections whose local or peer port is in these ports or ranges, e.g. 8080 or 8000-8100 (repeatable)', collectPorts)
    .option('--exe-path <glob>', 'only processes whose executable path matches, e.g. /usr/sbin/nginx or /opt/**/bin/* (repeatable)', strings)
    .option('--k8s-namespace <name>', 'only pods in this Kubernetes namespace (repeatable)', strings)
    .option('--k8s-pod-labels <selector>', 'only pods whose labels match, e.g. app=shop,tier!=db')
    .option('--exclude-port <n...>', 'leave out connections whose local or peer port is in these ports or ranges (repeatable)', collectPorts)
    .option('--exclude-exe-path <glob>', 'leave out processes whose executable path matches (repeatable)', strings)
    .option('--exclude-k8s-namespace <name>', 'leave out pods in this namespace (repeatable)', strings)
    .option('--exclude-k8s-pod-labels <selector>', 'leave out pods whose labels match')
    .addOption(new Option('--kubernetes <mode>', 'pod metadata: auto (on inside a cluster or with --kubeconfig), on, off').choices(['auto', 'on', 'off']))
    .option('--kubeconfig <file>', 'kubeconfig to reach the API server instead of the in-cluster service account')
    .option('--node-name <name>', "this node's Kubernetes name (NODE_NAME; default: the in-cluster downward API value)")
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--capture-bytes <n>', 'payload bytes per event (64..8192, default 4096)')
    .option('--syscall-cap-bytes <n>', 'payload bytes captured per syscall (default 16384)')
    .option('--ring-bytes <n>', 'kernel ring buffer size, a power of two (default 8388608)')
    .option('--admin-port <n>', 'port of /healthz, /readyz, /stats (default 9464, 0 disables)')
    .option('--admin-host <addr>', 'address the admin server listens on (default 127.0.0.1; 0.0.0.0 in a Kubernetes pod)')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']))
    .option('--config <file>', 'YAML file of settings (flags and SIDELIGHT_* variables win)')
    .option('--no-redact-query', 'show query values instead of REDACTED')
    .option('--no-tls', 'do not put uprobes on TLS libraries (HTTPS is then not seen)')
    .option('--service-name <name>', 'service.name for every process (OTEL_SERVICE_NAME; default: the process name)')
    .option('--resource-attributes <k=v,...>', 'extra resource attributes (OTEL_RESOURCE_ATTRIBUTES)')
    .option('--command-line', 'export process.command_line (off: it may hold secrets)')
    .option('--otlp-endpoint <url>', 'OTLP endpoint for traces and metrics (OTEL_EXPORTER_OTLP_ENDPOINT), e.g. http://localhost:4318')
    .option('--otlp-traces-endpoint <url>', 'OTLP endpoint for traces only, used as is (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)')
    .option('--otlp-metrics-endpoint <url>', 'OTLP endpoint for metrics only, used as is (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)')
    .addOption(new Option('--otlp-protocol <protocol>', 'OTLP transport (OTEL_EXPORTER_OTLP_PROTOCOL, default http/protobuf)').choices(['grpc', 'http/protobuf']))
    .option('--otlp-headers <k=v,...>', 'headers sent with every export (OTEL_EXPORTER_OTLP_HEADERS)')
    .addOption(
      new Option('--sampler <name>', 'trace sampler (OTEL_TRACES_SAMPLER, default parentbased_always_on)').choices([
        'always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio',
      ]),
    )
    .option('--sampler-arg <ratio>', 'sampling ratio 0..1 for the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG)')
    .option('--route <pattern>', 'route pattern such as /users/{id} (repeatable; first match wins)', strings)
    .option('--ignore-route <pattern>', 'path pattern not to report, such as /healthz (repeatable)', strings)
    .option('--max-routes <n>', 'distinct routes per service before the overflow value (default 500)')
    .option('--metric-interval <ms>', 'OTLP metric push interval (OTEL_METRIC_EXPORT_INTERVAL, default 60000)')
    .option('--span-delay <ms>', 'longest a span waits for its batch (OTEL_BSP_SCHEDULE_DELAY, default 5000)');
}

export function buildCli(): Command {
  const program = new Command('sidelight')
    .description('HTTP observability from the kernel: no sidecar, no code change')
    .exitOverride()
    .configureOutput(oneLineErrors('sidelight --help'));

  withSettings(program.command('run').description('capture HTTP/1.x, HTTP/2 and gRPC transactions of every process on this host'))
    .action(async (flags: RunFlags) => {
      const config = configOf(flags);
      await runUntilStopped(config, (log, signal) => runAgent(config, log, signal));
      // Everything is flushed or counted by now; an export still waiting on a hung collector
      // would hold its socket (and the process) until its own timeout.
      process.exit(0);
    });

  withSettings(
    program
      .command('record')
      .description('write the raw kernel batches to a file, for replay (uses the capture settings)')
      .requiredOption('--out <file>', 'recording file to write'),
  ).action(async (flags: RunFlags & { out: string }) => {
    const config = configOf(flags);
    await runUntilStopped(config, (log, signal) => recordCapture(config, flags.out, log, signal));
  });

  withSettings(
    program
      .command('replay')
      .description('run a recording through the whole pipeline offline (uses the output and export settings)')
      .argument('<file>', 'recording made by sidelight record'),
  ).action(async (file: string, flags: RunFlags) => {
    const config = configOf(flags);
    const log = createLogger(config.logLevel);
    try {
      const r = await replayRecording(file, config, log);
      log.info({ file, batches: r.batches, events: r.events, ...r.stats }, 'replayed');
    } catch (err) {
      if (err instanceof RecordingError) die(err.message);
      throw err;
    }
  });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    throw err;
  }
}
