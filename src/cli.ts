// Command line: `sidelight run` and its flags (see README).
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { runAgent } from './agent';
import { ConfigError, fromEnv, fromFile, resolveConfig, type RawConfig } from './config/config';
import { PreflightError } from './capture/preflight';
import { createLogger } from './log';

function collect(value: string, previous: string[] | undefined): string[] {
  if (!/^\d+(,\d+)*$/.test(value)) throw new InvalidArgumentError('expected a number (or a comma-separated list)');
  return [...(previous ?? []), ...value.split(',')];
}

interface RunFlags {
  output?: string;
  pid?: string[];
  port?: string[];
  duration?: string;
  captureBytes?: string;
  syscallCapBytes?: string;
  ringBytes?: string;
  adminPort?: string;
  adminHost?: string;
  logLevel?: string;
  config?: string;
  redactQuery?: boolean;
}

function flagsToRaw(f: RunFlags): RawConfig {
  return {
    output: f.output,
    pids: f.pid,
    ports: f.port,
    durationSec: f.duration,
    captureBytes: f.captureBytes,
    syscallCapBytes: f.syscallCapBytes,
    ringBytes: f.ringBytes,
    adminPort: f.adminPort,
    adminHost: f.adminHost,
    logLevel: f.logLevel,
    redactQuery: f.redactQuery === false ? false : undefined,
  };
}

function die(message: string): never {
  process.stderr.write(`sidelight: ${message}\n`);
  process.exit(2);
}

export function buildCli(): Command {
  const program = new Command('sidelight')
    .description('HTTP observability from the kernel: no sidecar, no code change')
    .exitOverride()
    .configureOutput({
      // Commander's own errors become one line that says where usage is.
      writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `sidelight: ${s.slice(7).trimEnd()} (see: sidelight run --help)\n` : s),
    });

  program
    .command('run')
    .description('capture HTTP/1.x transactions of every process on this host')
    .addOption(new Option('--output <format>', 'transaction output on stdout').choices(['text', 'json']))
    .option('--pid <n...>', 'only these process ids (repeatable)', collect)
    .option('--port <n...>', 'only connections whose local or peer port matches (repeatable)', collect)
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--capture-bytes <n>', 'payload bytes per event (64..8192, default 4096)')
    .option('--syscall-cap-bytes <n>', 'payload bytes captured per syscall (default 16384)')
    .option('--ring-bytes <n>', 'kernel ring buffer size, a power of two (default 8388608)')
    .option('--admin-port <n>', 'port of /healthz, /readyz, /stats (default 9464, 0 disables)')
    .option('--admin-host <addr>', 'address the admin server listens on (default 0.0.0.0)')
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']))
    .option('--config <file>', 'YAML file of settings (flags and SIDELIGHT_* variables win)')
    .option('--no-redact-query', 'show query values instead of REDACTED')
    .action(async (flags: RunFlags) => {
      let config;
      try {
        config = resolveConfig({ flags: flagsToRaw(flags), env: fromEnv(process.env), file: flags.config ? fromFile(flags.config) : undefined });
      } catch (err) {
        if (err instanceof ConfigError) die(err.message);
        throw err;
      }
      const log = createLogger(config.logLevel);
      const stop = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (stop.signal.aborted) process.exit(130); // a second signal: leave now
        log.info({ signal: sig }, 'stopping');
        stop.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      // `sidelight run | head`: the reader left, so stop cleanly.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
        if (!stop.signal.aborted) {
          log.info('stdout closed by its reader; stopping');
          stop.abort();
        }
      });
      try {
        await runAgent(config, log, stop.signal);
      } catch (err) {
        if (err instanceof PreflightError || err instanceof Error) die(err.message);
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
