// Wires the pipeline of DESIGN.md: capture -> conn tracker -> HTTP/1 parser
// -> transactions -> console exporter, plus the admin server.
import type http from 'node:http';
import { startAdminServer } from './admin/server';
import { Capture } from './capture/capture';
import { preflight } from './capture/preflight';
import { ListeningPorts } from './conn/listeners';
import { ConnectionTracker } from './conn/tracker';
import type { Config } from './config/config';
import { ProcessNames } from './enrich/process';
import { ConsoleExporter } from './export/console';
import type { Logger } from './log';
import { WallClock } from './transactions/clock';

const SWEEP_MS = 5_000;

export async function runAgent(config: Config, log: Logger, signal: AbortSignal): Promise<void> {
  for (const note of preflight()) log.info(note);

  const capture = new Capture();
  const exporter = new ConsoleExporter({ format: config.output, redactQuery: config.redactQuery });
  const processes = new ProcessNames();
  const tracker = new ConnectionTracker(
    (tx) => exporter.export(tx),
    new WallClock(() => capture.clockOffsetNs()),
    new ListeningPorts(),
    processes,
    { maxConnections: config.maxConnections, idleTimeoutMs: config.idleTimeoutSec * 1000 },
  );
  let ready = false;
  const stats = () => ({ capture: capture.stats(), tracker: tracker.stats, connections: tracker.size });

  let admin: http.Server | undefined;
  if (config.adminPort !== 0) {
    admin = await startAdminServer(config.adminHost, config.adminPort, { ready: () => ready && capture.isRunning, stats });
  }
  try {
    capture.start(
      {
        captureBytes: config.captureBytes,
        syscallCapBytes: config.syscallCapBytes,
        ringBytes: config.ringBytes,
        maxConnections: config.maxConnections,
        pids: config.pids,
        ports: config.ports,
      },
      tracker,
    );
  } catch (err) {
    admin?.close();
    throw err;
  }
  const programs = capture.programs();
  for (const p of programs.filter((p) => !p.attached)) log.warn({ program: p.name, hook: p.hook }, `optional program not attached: ${p.error}`);
  ready = programs.every((p) => !p.required || p.attached);
  log.info(
    { attached: programs.filter((p) => p.attached).length, programs: programs.length, pids: config.pids, ports: config.ports },
    'capturing',
  );

  const sweep = setInterval(() => {
    tracker.sweep();
    processes.sweep(60_000);
  }, SWEEP_MS);
  sweep.unref();

  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    if (config.durationSec !== undefined) setTimeout(resolve, config.durationSec * 1000).unref();
  });

  ready = false;
  clearInterval(sweep);
  await capture.stop();
  await new Promise<void>((resolve) => (admin ? admin.close(() => resolve()) : resolve()));
  const final = stats();
  log.info(
    {
      events: final.capture.events,
      batches: final.capture.batches,
      kernelDrops: final.capture.kernel.ringbufDrops,
      transactions: final.tracker.http1.transactions,
      parseErrors: final.tracker.http1.parseErrors,
    },
    'stopped',
  );
}
