// The live agent: the kernel capture feeding the pipeline (src/pipeline.ts),
// the admin server, the agent's own metrics, and an orderly stop.
import type http from 'node:http';
import { startAdminServer } from './admin/server';
import { Capture, captureOptions } from './capture/capture';
import { preflight } from './capture/preflight';
import { ListeningPorts } from './conn/listeners';
import type { Config } from './config/config';
import { ProcessNames } from './enrich/process';
import { registerSelfMetrics, type SelfStats } from './export/self-metrics';
import type { Logger } from './log';
import { buildPipeline, parserStats } from './pipeline';

const SWEEP_MS = 5_000;

export async function runAgent(config: Config, log: Logger, signal: AbortSignal): Promise<void> {
  for (const note of preflight()) log.info(note);

  const capture = new Capture();
  const processes = new ProcessNames();
  const listeners = new ListeningPorts();
  const { telemetry, linker, tracker } = buildPipeline(config, log, processes, () => capture.clockOffsetNs(), listeners);
  let ready = false;
  const stats = () => ({
    capture: capture.stats(),
    tracker: tracker.stats,
    connections: tracker.size,
    links: linker.stats,
    spans: telemetry.spans?.stats,
    routes: { overflowed: telemetry.routes.overflowed, ignored: telemetry.routes.ignored },
  });
  const selfStats = (): SelfStats => {
    const c = capture.stats();
    return {
      eventsReceived: c.events,
      kernelDrops: c.kernel.ringbufDrops + c.kernel.ringbufCloseDrops,
      ...parserStats(tracker),
      connectionsTracked: tracker.size,
      spansExported: telemetry.spans?.stats.exported ?? 0,
      spansDropped: { queue_full: telemetry.spans?.stats.droppedQueueFull ?? 0 },
      exportErrors: { traces: telemetry.spans?.stats.exportErrors ?? 0, metrics: telemetry.metricExportFailures },
      routesOverflowed: telemetry.routes.overflowed,
      routesIgnored: telemetry.routes.ignored,
    };
  };
  registerSelfMetrics(telemetry.registry, selfStats);

  let admin: http.Server | undefined;
  if (config.adminPort !== 0) {
    admin = await startAdminServer(config.adminHost, config.adminPort, {
      ready: () => ready && capture.isRunning,
      stats,
      metrics: async () => ({ contentType: telemetry.registry.contentType, body: await telemetry.registry.metrics() }),
    });
  }
  try {
    capture.start(captureOptions(config), tracker);
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
  await telemetry.shutdown(5_000);
  await new Promise<void>((resolve) => (admin ? admin.close(() => resolve()) : resolve()));
  const final = stats();
  log.info(
    {
      events: final.capture.events,
      batches: final.capture.batches,
      kernelDrops: final.capture.kernel.ringbufDrops,
      transactions: final.tracker.http1.transactions + final.tracker.http2.transactions,
      parseErrors: final.tracker.http1.parseErrors + final.tracker.http2.hpackErrors + final.tracker.http2.frames.desyncs,
      spansExported: final.spans?.exported,
      spansDropped: final.spans?.droppedQueueFull,
    },
    'stopped',
  );
}
