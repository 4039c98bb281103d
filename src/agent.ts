// The live agent: the kernel capture feeding the pipeline (src/pipeline.ts),
// the admin server, the agent's own metrics, and an orderly stop.
import type http from 'node:http';
import { startAdminServer } from './admin/server';
import { Capture, captureOptions } from './capture/capture';
import { preflight } from './capture/preflight';
import { dropPrivilegesLogged, type PrivilegeReport } from './capture/privileges';
import { startupReport, verboseReadiness, type StartupReport } from './capture/startup-report';
import { TlsLibraries } from './capture/tls/libraries';
import { ListeningPorts } from './conn/listeners';
import type { Config } from './config/config';
import type { EventSink } from './capture/events';
import { planMetadata } from './enrich/k8s/enable';
import { ProcessWorkloads } from './enrich/k8s/process-workloads';
import { KubernetesWatch } from './enrich/k8s/watcher';
import { ProcessNames } from './enrich/process';
import { ProcessSelector, selectionActive } from './select/selector';
import { registerSelfMetrics, type SelfStats } from './export/self-metrics';
import type { Logger } from './log';
import { buildPipeline, parserStats } from './pipeline';
import { formatPortRanges } from './select/ports';

const SWEEP_MS = 5_000;
const PROCESS_MAX_IDLE_MS = 60_000;
/** Pending spans and metrics get this long to leave at shutdown; the rest is counted as dropped. */
const SHUTDOWN_FLUSH_MS = 5_000;

export async function runAgent(config: Config, log: Logger, signal: AbortSignal): Promise<void> {
  for (const note of preflight()) log.info(note);

  const plan = planMetadata(config);
  const capture = new Capture();
  const processes = new ProcessNames();
  const listeners = new ListeningPorts();
  let watch: KubernetesWatch | undefined;
  let workloads: ProcessWorkloads | undefined;
  if (plan.on) {
    watch = new KubernetesWatch({ nodeName: plan.nodeName, kubeconfig: plan.kubeconfig }, log);
    workloads = new ProcessWorkloads(watch.index);
  }
  const { telemetry, linker, tracker } = buildPipeline(config, log, processes, () => capture.clockOffsetNs(), listeners, undefined, undefined, workloads);
  // Bodies of HTTP/2 connections without gRPC matter to no parser: the kernel stops copying them.
  tracker.h2Bodies = (connId, wanted) => void capture.h2Bodies(connId, wanted);
  const selector = selectionActive(config)
    ? new ProcessSelector(config, {
        exePath: (pid) => processes.exePath(pid),
        containerOf: (pid) => workloads?.containerOf(pid),
        workloadOf: (pid) => workloads?.of(pid),
        metadataVersion: () => watch?.index.version ?? 0,
        startTicks: (pid) => processes.startTicks(pid),
        skipInKernel: (pid, ticks) => capture.skipProcess(pid, ticks),
        unskipInKernel: (pid) => capture.unskipProcess(pid),
      })
    : undefined;
  // The selection gate before the tracker: one Map lookup per event.
  const sink: EventSink = selector
    ? {
        onData: (ev) => {
          if (selector.wants(ev.tgid)) tracker.onData(ev);
        },
        // A close from the TCP state change runs in whatever task the kernel was in (another
        // process's softirq): its tgid says nothing. Closes go by connection id; the tracker
        // ignores ids it does not track.
        onClose: (ev) => tracker.onClose(ev),
        // A bind runs in the session's process (its SSL call or its write).
        onTlsBind: (ev) => {
          if (selector.wants(ev.tgid)) tracker.onTlsBind(ev);
        },
      }
    : tracker;
  let ready = false;
  let privileges: PrivilegeReport | undefined;
  let startup: StartupReport | undefined;
  const tls = config.tls ? new TlsLibraries(capture, log) : undefined;
  const stats = () => ({
    startup,
    memory: process.memoryUsage(),
    capture: capture.stats(),
    privileges,
    tls: tls ? { ...tls.stats(), libraries: [...tls.libraries.values()] } : undefined,
    tracker: tracker.stats,
    connections: tracker.size,
    links: linker.stats,
    spans: telemetry.spans?.stats,
    routes: { overflowed: telemetry.routes.overflowed, ignored: telemetry.routes.ignored },
    selection: selector ? { ...selector.stats, processes: selector.size } : undefined,
    kubernetes: watch ? { synced: watch.synced, pods: watch.index.size, ...watch.stats } : undefined,
  });
  const selfStats = (): SelfStats => {
    const c = capture.stats();
    return {
      eventsReceived: c.events,
      // Close events lost are already among ringbufDrops (ringbufCloseDrops is their share).
      kernelDrops: c.kernel.ringbufDrops,
      ...parserStats(tracker),
      connectionsTracked: tracker.size,
      spansExported: telemetry.spans?.stats.exported ?? 0,
      spansDropped: { queue_full: telemetry.spans?.stats.droppedQueueFull ?? 0 },
      exportErrors: { traces: telemetry.spans?.stats.exportErrors ?? 0, metrics: telemetry.metricExportFailures },
      routesOverflowed: telemetry.routes.overflowed,
      routesIgnored: telemetry.routes.ignored,
      eventsDeselected: selector?.stats.eventsDropped ?? 0,
      processesExcluded: selector?.stats.processesExcluded ?? {},
      kubernetesWatchErrors: watch?.stats.errors ?? 0,
      tlsLibraries: tls ? { attached: tls.stats().attached, failed: tls.stats().failed } : {},
    };
  };
  registerSelfMetrics(telemetry.registry, selfStats);

  let admin: http.Server | undefined;
  if (config.adminPort !== 0) {
    admin = await startAdminServer(config.adminHost, config.adminPort, {
      ready: () => {
        if (!ready || !capture.isRunning) return 'kernel programs not attached';
        if (watch && !watch.synced) return "this node's pods not listed from the Kubernetes API yet";
        return true;
      },
      readyDetail: () => (startup ? verboseReadiness(startup) : 'kernel programs not loaded yet\n'),
      stats,
      metrics: async () => ({ contentType: telemetry.registry.contentType, body: await telemetry.registry.metrics() }),
    });
  }
  if (watch) {
    // Capture starts at once; until this node's pods are listed, /readyz says so and processes stay unnamed.
    watch.start().catch((err: Error) => log.error(err.message));
  }
  try {
    capture.start(captureOptions(config), sink);
  } catch (err) {
    admin?.close();
    await watch?.stop();
    throw err;
  }
  const programs = capture.programs();
  const report = startupReport(programs, capture.programBuild());
  for (const p of [...report.skipped, ...report.failed]) log.warn({ program: p.name, hook: p.hook }, `optional program not attached: ${p.reason}`);
  // Uprobes go on each TLS library file once found; failures are logged per file and never stop the agent.
  tls?.start();
  // Everything that needed the full set is done: programs loaded and attached, tracefs mounted.
  privileges = dropPrivilegesLogged({ tls: !!tls }, log);
  ready = programs.every((p) => !p.required || p.attached);
  startup = report;
  log.info(
    { kernel: startup.kernel, btf: startup.btf, build: startup.build, attached: startup.attached.length, skipped: startup.skipped.map((p) => p.name), pids: config.pids, ports: formatPortRanges(config.ports) },
    'capturing',
  );

  let sweeps = 0;
  const sweep = setInterval(() => {
    tracker.sweep();
    processes.sweep(PROCESS_MAX_IDLE_MS);
    workloads?.sweep(PROCESS_MAX_IDLE_MS);
    // Every minute: each left-out process costs a /proc read here.
    if (++sweeps % (PROCESS_MAX_IDLE_MS / SWEEP_MS) === 0) selector?.sweep(PROCESS_MAX_IDLE_MS);
  }, SWEEP_MS);
  sweep.unref();

  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    if (config.durationSec !== undefined) setTimeout(resolve, config.durationSec * 1000).unref();
  });

  ready = false;
  clearInterval(sweep);
  const t0 = Date.now();
  tls?.stop();
  await capture.stop();
  const tDetached = Date.now();
  await watch?.stop();
  await telemetry.shutdown(SHUTDOWN_FLUSH_MS);
  const tFlushed = Date.now();
  admin?.closeAllConnections();
  await new Promise<void>((resolve) => (admin ? admin.close(() => resolve()) : resolve()));
  log.debug({ detachMs: tDetached - t0, flushMs: tFlushed - tDetached, adminMs: Date.now() - tFlushed }, 'shutdown steps');
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
      // Exports still unanswered when the shutdown deadline passed: neither exported nor known dropped.
      spansInFlight: final.spans?.inFlight,
    },
    'stopped',
  );
}
