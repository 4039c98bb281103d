// RED metrics of every transaction, by the HTTP semantic conventions:
// request duration and body sizes, for servers and clients. Recorded once,
// into prom-client (scraped at /metrics, Prometheus names as OpenTelemetry's
// Prometheus exporter derives them); when an endpoint is set, the same
// aggregates are pushed over OTLP under their OpenTelemetry names.
import type { Resource } from '@opentelemetry/resources';
import type { MeterProvider, PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { Registry } from 'prom-client';
import { LabeledHistogram } from './histogram';
import type { BridgedHistogram } from './otlp-metrics';
import type { HttpTransaction, RpcCall } from '../transactions/transaction';
import { semconvMethod, serverEndpoint } from './spans';

/** Semantic-convention bucket boundaries of http.*.request.duration, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Body sizes in bytes (the conventions set no boundaries): powers of 4 from 64 B to 64 MiB. */
export const SIZE_BUCKETS = [0, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/** Messages per call (rpc.*.requests_per_rpc / responses_per_rpc). */
export const MESSAGE_BUCKETS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384];

// Label order (the exposition's) is the order record() builds them in:
// method, status code, route, service (and server address and port for
// clients); RPC: system, service, method, status code, service name.

interface RpcSide {
  duration: LabeledHistogram;
  requests: LabeledHistogram;
  responses: LabeledHistogram;
}

function promRpcSide(registry: Registry, side: 'server' | 'client'): RpcSide {
  const make = (name: string, help: string, buckets: number[]) => new LabeledHistogram({ name, help, buckets, registers: [registry] });
  return {
    duration: make(`rpc_${side}_call_duration_seconds`, `Duration of RPC ${side} calls.`, DURATION_BUCKETS),
    requests: make(`rpc_${side}_requests_per_rpc`, `Request messages per RPC ${side} call.`, MESSAGE_BUCKETS),
    responses: make(`rpc_${side}_responses_per_rpc`, `Response messages per RPC ${side} call.`, MESSAGE_BUCKETS),
  };
}

interface Side {
  duration: LabeledHistogram;
  requestSize: LabeledHistogram;
  responseSize: LabeledHistogram;
}

function promSide(registry: Registry, side: 'server' | 'client'): Side {
  const make = (name: string, help: string, buckets: number[]) => new LabeledHistogram({ name, help, buckets, registers: [registry] });
  return {
    duration: make(`http_${side}_request_duration_seconds`, `Duration of HTTP ${side} requests.`, DURATION_BUCKETS),
    requestSize: make(`http_${side}_request_body_size_bytes`, `Size of HTTP ${side} request bodies.`, SIZE_BUCKETS),
    responseSize: make(`http_${side}_response_body_size_bytes`, `Size of HTTP ${side} response bodies.`, SIZE_BUCKETS),
  };
}

type Labels = Record<string, string | number>;

/**
 * One transaction into three histograms of one label set (client sides also
 * name the server). The key is the label values in order: computed once for
 * the three; the label object is kept only by a series seen for the first time.
 */
function observe(hs: readonly LabeledHistogram[], tx: HttpTransaction, labels: Labels, values: readonly number[]): void {
  if (tx.role === 'client') {
    const endpoint = serverEndpoint(tx);
    labels.server_address = endpoint.address;
    labels.server_port = endpoint.port;
  }
  let key = '';
  for (const k in labels) key += `${labels[k]}\0`;
  const get = () => labels;
  for (let i = 0; i < hs.length; i++) hs[i]!.observe(key, get, values[i]!);
}

export class HttpMetrics {
  private readonly prom: Record<'server' | 'client', Side>;
  private readonly rpc: Record<'server' | 'client', RpcSide>;
  private provider: MeterProvider | undefined;

  constructor(registry: Registry) {
    this.prom = { server: promSide(registry, 'server'), client: promSide(registry, 'client') };
    this.rpc = { server: promRpcSide(registry, 'server'), client: promRpcSide(registry, 'client') };
  }

  /** Also push over OTLP, every intervalMs, with the agent's own resource. */
  enableOtlp(exporter: PushMetricExporter, resource: Resource, intervalMs: number): void {
    const bridged: BridgedHistogram[] = [];
    for (const s of ['server', 'client'] as const) {
      const p = this.prom[s];
      bridged.push(
        { prom: p.duration, name: `http.${s}.request.duration`, unit: 's', description: `Duration of HTTP ${s} requests.`, boundaries: DURATION_BUCKETS },
        { prom: p.requestSize, name: `http.${s}.request.body.size`, unit: 'By', description: `Size of HTTP ${s} request bodies.`, boundaries: SIZE_BUCKETS },
        { prom: p.responseSize, name: `http.${s}.response.body.size`, unit: 'By', description: `Size of HTTP ${s} response bodies.`, boundaries: SIZE_BUCKETS },
      );
      const r = this.rpc[s];
      bridged.push(
        { prom: r.duration, name: `rpc.${s}.call.duration`, unit: 's', description: `Duration of RPC ${s} calls.`, boundaries: DURATION_BUCKETS },
        { prom: r.requests, name: `rpc.${s}.requests_per_rpc`, unit: '{count}', description: `Request messages per RPC ${s} call.`, boundaries: MESSAGE_BUCKETS },
        { prom: r.responses, name: `rpc.${s}.responses_per_rpc`, unit: '{count}', description: `Response messages per RPC ${s} call.`, boundaries: MESSAGE_BUCKETS },
      );
    }
    // The metrics SDK is loaded only when metrics go out over OTLP (RSS).
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
    const { PromHistogramProducer } = require('./otlp-metrics') as typeof import('./otlp-metrics');
    /* eslint-enable @typescript-eslint/no-require-imports */
    this.provider = new MeterProvider({
      resource,
      readers: [
        new PeriodicExportingMetricReader({
          exporter,
          exportIntervalMillis: intervalMs,
          exportTimeoutMillis: Math.min(intervalMs, 30_000),
          metricProducers: [new PromHistogramProducer(bridged, resource)],
        }),
      ],
    });
  }

  record(tx: HttpTransaction, service: string): void {
    if (tx.rpc) {
      this.recordRpc(tx, tx.rpc, service);
      return;
    }
    // The busiest path (every HTTP transaction): the key is built directly
    // and the label object only for a series seen for the first time.
    const p = this.prom[tx.role];
    const method = semconvMethod(tx.method);
    const route = tx.route ?? '';
    const status = tx.status;
    let key = `${method}\0${status}\0${route}\0${service}\0`;
    const endpoint = tx.role === 'client' ? serverEndpoint(tx) : undefined;
    if (endpoint) key += `${endpoint.address}\0${endpoint.port}\0`;
    const labels = (): Labels => {
      const l: Labels = { http_request_method: method, http_response_status_code: status, http_route: route, service_name: service };
      if (endpoint) {
        l.server_address = endpoint.address;
        l.server_port = endpoint.port;
      }
      return l;
    };
    p.duration.observe(key, labels, tx.durationNs / 1e9);
    p.requestSize.observe(key, labels, tx.requestBytes);
    p.responseSize.observe(key, labels, tx.responseBytes);
  }

  /** gRPC calls go to the RPC instruments only, so HTTP request counts stay HTTP's. */
  private recordRpc(tx: HttpTransaction, rpc: RpcCall, service: string): void {
    const r = this.rpc[tx.role];
    const labels: Labels = {
      rpc_system: rpc.system,
      rpc_service: rpc.service ?? '',
      rpc_method: rpc.method ?? '',
      rpc_grpc_status_code: rpc.statusCode ?? '',
      service_name: service,
    };
    // A lower bound is not a count: it stays out of the per-RPC message histograms.
    if (rpc.messagesExact) observe([r.duration, r.requests, r.responses], tx, labels, [tx.durationNs / 1e9, rpc.requestMessages, rpc.responseMessages]);
    else observe([r.duration], tx, labels, [tx.durationNs / 1e9]);
  }

  /** Pushes what is recorded, then stops the OTLP reader; never longer than timeoutMs (a hung collector cannot hold the exit). */
  async shutdown(timeoutMs: number): Promise<void> {
    if (!this.provider) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.provider.shutdown({ timeoutMillis: timeoutMs }).catch(() => undefined), deadline]).finally(() => clearTimeout(timer));
  }
}
