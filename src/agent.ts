// The live agent: the kernel capture and the selection in front of the
// pipeline (src/pipeline.ts), the admin server, the agent's own metrics, and
// an orderly stop.
import type http from 'node:http';
import { startAdminServer } from './admin/server';
import { Capture, captureOptions } from './capture/capture';
import { preflight } from './capture/preflight';
import { dropPrivilegesLogged, type PrivilegeReport } from './capture/privileges';
import { startupReport, verboseReadiness, type StartupReport } from './capture/startup-report';
import { TlsLibraries } from './capture/tls/libraries';
import type { Config } from './config/config';
import { ListeningPorts } from './conn/listeners';
import { planMetadata } from './enrich/k8s/enable';
import { ProcessWorkloads } from './enrich/k8s/process-workloads';
import { KubernetesWatch } from './enrich/k8s/watcher';
import { ProcessNames } from './enrich/process';
import { parserStats, registerSelfMetrics, type SelfStats } from './export/self-metrics';
import type { Logger } from './log';
import { buildPipeline, PROCESS_MAX_IDLE_MS, startStages, stopStages, sweepStages, type Pipeline, type Stage } from './pipeline';
import { formatPortRanges } from './capture/ports';
import { ProcessSelector, selectionActive } from './select/selector';

const SWEEP_MS = 5_000;
/** Pending spans and metrics get this long to leave at shutdown; the rest is counted as dropped. */
const SHUTDOWN_FLUSH_MS = 5_000;

/** Everything the agent runs, and what its admin server and logs read. */
interface Agent {
  config: Config;
  capture: Capture;
  pipeline: Pipeline;
  selector: ProcessSelector | undefined;
  watch: KubernetesWatch | undefined;
  tls: TlsLibraries | undefined;
  /** Capture, selection, then the pipeline's stages: the order data flows. */
  stages: Stage[];
  /** Set once the kernel programs are attached. */
  startup: StartupReport | undefined;
  privileges: PrivilegeReport | undefined;
  ready: boolean;
}

export async function runAgent(config: Config, log: Logger, signal: AbortSignal): Promise<void> {
  for (const note of preflight()) log.info(note);
  const agent = buildAgent(config, log);
  registerSelfMetrics(agent.pipeline.exporters.registry, () => selfStats(agent));
  const admin = config.adminPort !== 0 ? await serveAdmin(agent) : undefined;
  try {
    await startStages(agent.stages, SHUTDOWN_FLUSH_MS);
  } catch (err) {
    admin?.close();
    throw err;
  }
  const sweep = setInterval(() => sweepStages(agent.stages), SWEEP_MS);
  sweep.unref();

  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
    if (config.durationSec !== undefined) setTimeout(resolve, config.durationSec * 1000).unref();
  });

  agent.ready = false;
  clearInterval(sweep);
  const took = await stopStages(agent.stages, SHUTDOWN_FLUSH_MS);
  const tStopped = Date.now();
  admin?.closeAllConnections();
  await new Promise<void>((resolve) => (admin ? admin.close(() => resolve()) : resolve()));
  log.debug({ detachMs: took.capture, flushMs: took.exporters, stagesMs: took, adminMs: Date.now() - tStopped }, 'shutdown steps');
  logFinal(agent, log);
}

function buildAgent(config: Config, log: Logger): Agent {
  const plan = planMetadata(config);
  const capture = new Capture();
  const processes = new ProcessNames();
  const watch = plan.on ? new KubernetesWatch({ nodeName: plan.nodeName, kubeconfig: plan.kubeconfig }, log) : undefined;
  const workloads = watch ? new ProcessWorkloads(watch.index) : undefined;
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
  const pipeline = buildPipeline({
    config,
    log,
    processes,
    clockOffsetNs: () => capture.clockOffsetNs(),
    listeners: new ListeningPorts(),
    selection: selector,
    workloads,
    metadata: watch,
    // Bodies of HTTP/2 connections without gRPC matter to no parser: the kernel stops copying them.
    bodiesWanted: (connId, wanted) => void capture.h2Bodies(connId, wanted),
  });
  const tls = config.tls ? new TlsLibraries(capture, log) : undefined;
  const agent: Agent = { config, capture, pipeline, selector, watch, tls, stages: [], startup: undefined, privileges: undefined, ready: false };
  let sweeps = 0;
  agent.stages = [
    { name: 'capture', start: () => startCapture(agent, log), stop: () => stopCapture(agent) },
    {
      name: 'selection',
      sweep: () => {
        // Every minute: each left-out process costs a /proc read here.
        if (++sweeps % (PROCESS_MAX_IDLE_MS / SWEEP_MS) === 0) selector?.sweep(PROCESS_MAX_IDLE_MS);
      },
    },
    ...pipeline.stages,
  ];
  return agent;
}

/** Loads and attaches the kernel programs, then the TLS uprobes, then gives up the privileges that took. */
function startCapture(agent: Agent, log: Logger): void {
  const { capture, config, tls } = agent;
  capture.start(captureOptions(config), agent.pipeline.input);
  const programs = capture.programs();
  const report = startupReport(programs, capture.programBuild());
  for (const p of [...report.skipped, ...report.failed]) log.warn({ program: p.name, hook: p.hook }, `optional program not attached: ${p.reason}`);
  // Uprobes go on each TLS library file once found; failures are logged per file and never stop the agent.
  tls?.start();
  // Everything that needed the full set is done: programs loaded and attached, tracefs mounted.
  agent.privileges = dropPrivilegesLogged({ tls: !!tls }, log);
  agent.ready = programs.every((p) => !p.required || p.attached);
  agent.startup = report;
  log.info(
    { kernel: report.kernel, btf: report.btf, build: report.build, attached: report.attached.length, skipped: report.skipped.map((p) => p.name), pids: config.pids, ports: formatPortRanges(config.ports) },
    'capturing',
  );
}

async function stopCapture(agent: Agent): Promise<void> {
  agent.tls?.stop();
  await agent.capture.stop();
}

function serveAdmin(agent: Agent): Promise<http.Server> {
  const { config, capture, pipeline, watch } = agent;
  return startAdminServer(config.adminHost, config.adminPort, {
    ready: () => {
      if (!agent.ready || !capture.isRunning) return 'kernel programs not attached';
      if (watch && !watch.synced) return "this node's pods not listed from the Kubernetes API yet";
      return true;
    },
    readyDetail: () => (agent.startup ? verboseReadiness(agent.startup) : 'kernel programs not loaded yet\n'),
    stats: () => stats(agent),
    metrics: async () => ({ contentType: pipeline.exporters.registry.contentType, body: await pipeline.exporters.registry.metrics() }),
  });
}

/** /stats: every stage's counters. */
function stats(agent: Agent) {
  const { capture, pipeline, selector, watch, tls } = agent;
  const spans = pipeline.exporters.spans;
  return {
    startup: agent.startup,
    memory: process.memoryUsage(),
    capture: capture.stats(),
    privileges: agent.privileges,
    tls: tls ? { ...tls.stats(), libraries: [...tls.libraries.values()] } : undefined,
    tracker: pipeline.connections.stats,
    connections: pipeline.connections.size,
    links: pipeline.connections.linker.stats,
    spans: spans?.stats,
    routes: { overflowed: pipeline.enricher.routes.overflowed, ignored: pipeline.enricher.routes.ignored },
    selection: selector ? { ...selector.stats, processes: selector.size } : undefined,
    kubernetes: watch ? { synced: watch.synced, pods: watch.index.size, ...watch.stats } : undefined,
  };
}

/** The sidelight_* self-metrics. */
function selfStats(agent: Agent): SelfStats {
  const { capture, pipeline, selector, watch, tls } = agent;
  const c = capture.stats();
  const spans = pipeline.exporters.spans;
  return {
    eventsReceived: c.events,
    // Close events lost are already among ringbufDrops (ringbufCloseDrops is their share).
    kernelDrops: c.kernel.ringbufDrops,
    ...parserStats(pipeline.connections),
    connectionsTracked: pipeline.connections.size,
    spansExported: spans?.stats.exported ?? 0,
    spansDropped: { queue_full: spans?.stats.droppedQueueFull ?? 0 },
    exportErrors: { traces: spans?.stats.exportErrors ?? 0, metrics: pipeline.exporters.metricExportFailures },
    routesOverflowed: pipeline.enricher.routes.overflowed,
    routesIgnored: pipeline.enricher.routes.ignored,
    eventsDeselected: selector?.stats.eventsDropped ?? 0,
    processesExcluded: selector?.stats.processesExcluded ?? {},
    kubernetesWatchErrors: watch?.stats.errors ?? 0,
    tlsLibraries: tls ? { attached: tls.stats().attached, failed: tls.stats().failed } : {},
  };
}

function logFinal(agent: Agent, log: Logger): void {
  const final = stats(agent);
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
