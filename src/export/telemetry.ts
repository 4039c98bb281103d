// Fans each transaction out to the exporters, after the enrich stage gives
// it a route and a service: console lines, RED metrics (Prometheus and
// OTLP), and sampled spans (OTLP).
import os from 'node:os';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { Registry } from 'prom-client';
import type { Config } from '../config/config';
import type { PodIndex } from '../enrich/k8s/pod-index';
import type { ProcessWorkloads } from '../enrich/k8s/process-workloads';
import { DISTRO_NAME, DISTRO_VERSION, ProcessResources, type ProcessInfo } from '../enrich/resource';
import { RouteMapper } from '../enrich/routes';
import type { Logger } from '../log';
import type { HttpTransaction } from '../transactions/transaction';
import { ConsoleExporter } from './console';
import { HttpMetrics } from './metrics';
import { signalUrl } from './endpoints';
import { SpanQueue } from './span-queue';
import type { SpanRecord } from './spans';

/**
 * The official exporters (and grpc-js, protobufjs) weigh ~28 MiB of RSS:
 * loaded only when something is exported over OTLP.
 */
function otlp(): typeof import('./otlp') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./otlp') as typeof import('./otlp');
}

export class Telemetry {
  readonly registry = new Registry();
  readonly routes: RouteMapper;
  readonly resources: ProcessResources;
  private readonly console: ConsoleExporter;
  private readonly metrics: HttpMetrics;
  readonly spans: SpanQueue<SpanRecord> | undefined;
  private metricExportErrors = 0;
  /** Kubernetes metadata, when on: names the pod at the other end of a connection. */
  private readonly pods: PodIndex | undefined;

  constructor(
    config: Config,
    processes: ProcessInfo,
    log: Logger,
    out: NodeJS.WritableStream = process.stdout,
    workloads?: ProcessWorkloads,
  ) {
    this.pods = workloads?.index;
    this.routes = new RouteMapper({ patterns: config.routes, ignore: config.ignoreRoutes, maxRoutesPerService: config.maxRoutesPerService });
    this.resources = new ProcessResources(processes, {
      serviceName: config.serviceName,
      extra: config.resourceAttributes,
      commandLine: config.commandLine,
      workloads,
    });
    this.console = new ConsoleExporter({ format: config.output, redactQuery: config.redactQuery }, out);
    this.metrics = new HttpMetrics(this.registry);
    const tracesUrl = signalUrl(config, 'traces');
    const metricsUrl = signalUrl(config, 'metrics');
    if (tracesUrl !== undefined) {
      this.spans = new SpanQueue(
        otlp().traceExporter(config, tracesUrl),
        { maxQueueSize: config.spanQueueSize, maxBatchSize: config.spanBatchSize, delayMs: config.spanDelayMs },
        (message) => log.warn({ endpoint: tracesUrl }, message),
      );
      log.info({ endpoint: tracesUrl, protocol: config.otlpProtocol, sampler: config.sampler }, 'exporting traces over OTLP');
    }
    if (metricsUrl !== undefined) {
      const exporter = otlp().metricExporter(config, metricsUrl);
      // Count failed pushes: the SDK reader only logs them through diag.
      const exportOnce = exporter.export.bind(exporter);
      exporter.export = (metrics, done) =>
        exportOnce(metrics, (result) => {
          if (result.code !== 0) {
            this.metricExportErrors++;
            log.warn({ endpoint: metricsUrl, error: result.error?.message }, 'OTLP metric export failed; the next interval retries with cumulative values');
          }
          done(result);
        });
      const agent = resourceFromAttributes({
        ...config.resourceAttributes,
        'service.name': DISTRO_NAME,
        'service.version': DISTRO_VERSION,
        'host.name': os.hostname(),
        'telemetry.distro.name': DISTRO_NAME,
        'telemetry.distro.version': DISTRO_VERSION,
      });
      this.metrics.enableOtlp(exporter, agent, config.metricIntervalMs);
      log.info({ endpoint: metricsUrl, protocol: config.otlpProtocol, intervalMs: config.metricIntervalMs }, 'exporting metrics over OTLP');
    }
  }

  get metricExportFailures(): number {
    return this.metricExportErrors;
  }

  export(tx: HttpTransaction): void {
    const proc = this.resources.of(tx.pid, tx.process);
    const service = proc.service;
    // An unknown path (HTTP/2 attached mid-connection) has no route to derive.
    if (tx.target !== '' || !tx.unknownFields.includes('path')) {
      const route = this.routes.route(service, tx.target);
      if (route === undefined) return; // ignore pattern (health checks): not reported
      tx.route = route;
    }
    if (this.pods) {
      const peer = this.pods.podByIp(tx.peer.address);
      if (peer) tx.peerWorkload = peer;
    }
    this.console.export(tx);
    this.metrics.record(tx, service);
    if (this.spans && tx.sampled) this.spans.offer({ tx, resource: proc.resource });
  }

  async shutdown(timeoutMs: number): Promise<void> {
    await Promise.all([this.spans?.shutdown(timeoutMs), this.metrics.shutdown(timeoutMs)]);
  }
}
