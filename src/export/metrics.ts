// RED metrics of every transaction, by the HTTP semantic conventions:
// request duration and body sizes, for servers and clients. Recorded into
// prom-client (scraped at /metrics, Prometheus names as OpenTelemetry's
// Prometheus exporter derives them) and, when an endpoint is set, into an
// OpenTelemetry MeterProvider pushed over OTLP.
import type { Attributes, Histogram as OtelHistogram } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { Histogram, type Registry } from 'prom-client';
import type { HttpTransaction } from '../transactions/transaction';
import { parseHost, semconvMethod } from './spans';

/** Semantic-convention bucket boundaries of http.*.request.duration, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Body sizes in bytes (the conventions set no boundaries): powers of 4 from 64 B to 64 MiB. */
export const SIZE_BUCKETS = [0, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

const SERVER_LABELS = ['http_request_method', 'http_response_status_code', 'http_route', 'service_name'] as const;
const CLIENT_LABELS = [...SERVER_LABELS, 'server_address', 'server_port'] as const;

interface Side {
  duration: Histogram<string>;
  requestSize: Histogram<string>;
  responseSize: Histogram<string>;
}

interface OtelSide {
  duration: OtelHistogram;
  requestSize: OtelHistogram;
  responseSize: OtelHistogram;
}

function promSide(registry: Registry, side: 'server' | 'client'): Side {
  const labelNames = side === 'server' ? [...SERVER_LABELS] : [...CLIENT_LABELS];
  const make = (name: string, help: string, buckets: number[]) =>
    new Histogram({ name, help, labelNames, buckets, registers: [registry] });
  return {
    duration: make(`http_${side}_request_duration_seconds`, `Duration of HTTP ${side} requests.`, DURATION_BUCKETS),
    requestSize: make(`http_${side}_request_body_size_bytes`, `Size of HTTP ${side} request bodies.`, SIZE_BUCKETS),
    responseSize: make(`http_${side}_response_body_size_bytes`, `Size of HTTP ${side} response bodies.`, SIZE_BUCKETS),
  };
}

export class HttpMetrics {
  private readonly prom: Record<'server' | 'client', Side>;
  private otel: Record<'server' | 'client', OtelSide> | undefined;
  private provider: MeterProvider | undefined;

  constructor(registry: Registry) {
    this.prom = { server: promSide(registry, 'server'), client: promSide(registry, 'client') };
  }

  /** Also push over OTLP, every intervalMs, with the agent's own resource. */
  enableOtlp(exporter: PushMetricExporter, resource: Resource, intervalMs: number): void {
    this.provider = new MeterProvider({
      resource,
      readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: intervalMs, exportTimeoutMillis: Math.min(intervalMs, 30_000) })],
    });
    const meter = this.provider.getMeter('sidelight');
    const side = (s: 'server' | 'client'): OtelSide => ({
      duration: meter.createHistogram(`http.${s}.request.duration`, {
        unit: 's', description: `Duration of HTTP ${s} requests.`, advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      }),
      requestSize: meter.createHistogram(`http.${s}.request.body.size`, {
        unit: 'By', description: `Size of HTTP ${s} request bodies.`, advice: { explicitBucketBoundaries: SIZE_BUCKETS },
      }),
      responseSize: meter.createHistogram(`http.${s}.response.body.size`, {
        unit: 'By', description: `Size of HTTP ${s} response bodies.`, advice: { explicitBucketBoundaries: SIZE_BUCKETS },
      }),
    });
    this.otel = { server: side('server'), client: side('client') };
  }

  record(tx: HttpTransaction, service: string): void {
    const method = semconvMethod(tx.method);
    const seconds = tx.durationNs / 1e9;
    const p = this.prom[tx.role];
    const labels: Record<string, string | number> = {
      http_request_method: method,
      http_response_status_code: tx.status,
      http_route: tx.route ?? '',
      service_name: service,
    };
    let address = '';
    let port = 0;
    if (tx.role === 'client') {
      const host = tx.host !== undefined ? parseHost(tx.host) : undefined;
      address = host?.address ?? tx.peer.address;
      port = host?.port ?? tx.peer.port;
      labels.server_address = address;
      labels.server_port = port;
    }
    p.duration.observe(labels, seconds);
    p.requestSize.observe(labels, tx.requestBytes);
    p.responseSize.observe(labels, tx.responseBytes);
    if (this.otel) {
      const attrs: Attributes = { 'http.request.method': method, 'http.response.status_code': tx.status, 'service.name': service };
      if (tx.route !== undefined) attrs['http.route'] = tx.route;
      if (tx.role === 'client') {
        attrs['server.address'] = address;
        attrs['server.port'] = port;
      }
      const o = this.otel[tx.role];
      o.duration.record(seconds, attrs);
      o.requestSize.record(tx.requestBytes, attrs);
      o.responseSize.record(tx.responseBytes, attrs);
    }
  }

  /** Pushes what is recorded, then stops the OTLP reader. */
  async shutdown(): Promise<void> {
    await this.provider?.shutdown();
  }
}
