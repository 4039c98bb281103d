// OTLP exporters for traces and metrics, over gRPC or HTTP/protobuf: the
// official OpenTelemetry transports, configured from the resolved Config
// only (they never read OTEL_* themselves here: endpoints, headers and
// timeouts are passed in).
import { Metadata } from '@grpc/grpc-js';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config/config';

export { signalUrl, type Signal } from './endpoints';

function grpcMetadata(headers: Record<string, string>): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(headers)) m.set(k.toLowerCase(), v);
  return m;
}

export function traceExporter(config: Config, url: string): SpanExporter {
  if (config.otlpProtocol === 'grpc') {
    return new GrpcTraceExporter({ url, metadata: grpcMetadata(config.otlpHeaders), timeoutMillis: config.otlpTimeoutMs });
  }
  return new ProtoTraceExporter({ url, headers: { ...config.otlpHeaders }, timeoutMillis: config.otlpTimeoutMs });
}

export function metricExporter(config: Config, url: string): PushMetricExporter {
  if (config.otlpProtocol === 'grpc') {
    return new GrpcMetricExporter({ url, metadata: grpcMetadata(config.otlpHeaders), timeoutMillis: config.otlpTimeoutMs });
  }
  return new ProtoMetricExporter({ url, headers: { ...config.otlpHeaders }, timeoutMillis: config.otlpTimeoutMs });
}
