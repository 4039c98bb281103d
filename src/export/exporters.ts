// The exporters: console lines, RED metrics (Prometheus, and OTLP when an
// endpoint is set) and sampled spans (OTLP), each fed every enriched transaction.
import os from 'node:os';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { Registry } from 'prom-client';
import type { Config } from '../config/config';
import { DISTRO_NAME, DISTRO_VERSION, type ProcessIdentity } from '../enrich/resource';
import type { Logger } from '../log';
import type { HttpTransaction } from '../transactions/transaction';
import { ConsoleExporter } from './console';
import { signalUrl } from './endpoints';
import { HttpMetrics } from './metrics';
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

export interface ExportersOptions {
  config: Config;
  log: Logger;
  /** Where transaction lines go (stdout by default). */
  out?: NodeJS.WritableStream;
}

export class Exporters {
  /** The Prometheus registry /metrics serves: the RED metrics and the agent's own. */
  readonly registry = new Registry();
  readonly spans: SpanQueue<SpanRecord> | undefined;
  private readonly console: ConsoleExporter;
  private readonly metrics: HttpMetrics;
  private metricExportErrors = 0;

  constructor(opts: ExportersOptions) {
    const { config, log } = opts;
    this.console = new ConsoleExporter({ format: config.output, redactQuery: config.redactQuery }, opts.out ?? process.stdout);
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

  export(tx: HttpTransaction, proc: ProcessIdentity): void {
    this.console.export(tx);
    this.metrics.record(tx, proc.service);
    if (this.spans && tx.sampled) this.spans.offer({ tx, resource: proc.resource });
  }

  /** Pending spans and metrics get timeoutMs to leave; the rest is counted as dropped. */
  async shutdown(timeoutMs: number): Promise<void> {
    await Promise.all([this.spans?.shutdown(timeoutMs), this.metrics.shutdown(timeoutMs)]);
  }
}
