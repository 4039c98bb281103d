// Command line: `sidelight run` and its flags (see README).
import { Command, CommanderError } from 'commander';
import { runAgent } from './agent';
import { ConfigError, fromEnv, fromFile, resolveConfig, type Config, type RawConfig } from './config/config';
import { addSettingFlags } from './config/flags';
import { PreflightError } from './capture/preflight';
import { RecordingError } from './capture/recording';
import { npmLaunchers, watchLaunchers } from './launcher';
import { createLogger, type Logger } from './log';
import { recordCapture } from './record';
import { replayRecording } from './replay';

/** The command's config: its flags, the environment, and its --config file. */
function configOf(cmd: Command) {
  const read = FLAG_READERS.get(cmd);
  if (!read) throw new Error(`command ${cmd.name()} has no setting flags`);
  const file = cmd.opts<{ config?: string }>().config;
  try {
    return resolveConfig({ flags: read(cmd), env: fromEnv(process.env), file: file ? fromFile(file) : undefined });
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

const FLAG_READERS = new WeakMap<Command, (cmd: Command) => RawConfig>();

/** The settings every command shares (each uses the part it needs): one flag per setting of the table. */
function withSettings(cmd: Command): Command {
  cmd.configureOutput(oneLineErrors(`sidelight ${cmd.name()} --help`));
  FLAG_READERS.set(cmd, addSettingFlags(cmd));
  return cmd.option('--config <file>', 'YAML file of settings (flags and variables win)');
}

export function buildCli(): Command {
  const program = new Command('sidelight')
    .description('HTTP observability from the kernel: no sidecar, no code change')
    .exitOverride()
    .configureOutput(oneLineErrors('sidelight --help'));

  withSettings(program.command('run').description('capture HTTP/1.x, HTTP/2 and gRPC transactions of every process on this host'))
    .action(async (_flags: unknown, cmd: Command) => {
      const config = configOf(cmd);
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
  ).action(async (flags: { out: string }, cmd: Command) => {
    const config = configOf(cmd);
    await runUntilStopped(config, (log, signal) => recordCapture(config, flags.out, log, signal));
  });

  withSettings(
    program
      .command('replay')
      .description('run a recording through the whole pipeline offline (uses the output and export settings)')
      .argument('<file>', 'recording made by sidelight record'),
  ).action(async (file: string, _flags: unknown, cmd: Command) => {
    const config = configOf(cmd);
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
