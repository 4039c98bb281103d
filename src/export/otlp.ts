// OTLP exporters for traces and metrics, over gRPC or HTTP/protobuf: the
// official OpenTelemetry transports, configured from the resolved Config
// only (they never read OTEL_* themselves here: endpoints, headers and
// timeouts are passed in). Traces go through the official export delegates
// (retries, timeouts, headers, compression) with sidelight's own protobuf
// encoder in place of the SDK serializer (otlp-trace-encoder.ts).
import { Metadata } from '@grpc/grpc-js';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { convertLegacyOtlpGrpcOptions, createOtlpGrpcExportDelegate } from '@opentelemetry/otlp-grpc-exporter-base';
import { ProtobufTraceSerializer, type IExporterMetricsHelper, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { Config } from '../config/config';
import { OtlpTraceEncoder } from './otlp-trace-encoder';
import type { BatchExporter } from './span-queue';
import type { SpanRecord } from './spans';

export { signalUrl, type Signal } from './endpoints';

function grpcMetadata(headers: Record<string, string>): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(headers)) m.set(k.toLowerCase(), v);
  return m;
}

type TraceResponse = ReturnType<typeof ProtobufTraceSerializer.deserializeResponse>;

function traceSerializer(config: Config): ISerializer<SpanRecord[], TraceResponse> {
  const encoder = new OtlpTraceEncoder(config.redactQuery);
  return {
    serializeRequest: (spans) => encoder.encode(spans),
    deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
  };
}

const SPAN_COUNT: IExporterMetricsHelper<SpanRecord[]> = { name: 'span', countItems: (spans) => spans.length };

export function traceExporter(config: Config, url: string): BatchExporter<SpanRecord> {
  if (config.otlpProtocol === 'grpc') {
    const options = convertLegacyOtlpGrpcOptions({ url, metadata: grpcMetadata(config.otlpHeaders), timeoutMillis: config.otlpTimeoutMs }, 'TRACES');
    return new OTLPExporterBase(
      createOtlpGrpcExportDelegate(options, traceSerializer(config), 'otlp_grpc_span_exporter', SPAN_COUNT, undefined,
        'TraceExportService', '/opentelemetry.proto.collector.trace.v1.TraceService/Export'),
    );
  }
  const options = convertLegacyHttpOptions({ url, headers: { ...config.otlpHeaders }, timeoutMillis: config.otlpTimeoutMs }, 'TRACES', 'v1/traces', {
    'Content-Type': 'application/x-protobuf',
  });
  return new OTLPExporterBase(createOtlpHttpExportDelegate(options, traceSerializer(config), 'otlp_http_span_exporter', SPAN_COUNT, undefined));
}

export function metricExporter(config: Config, url: string): PushMetricExporter {
  if (config.otlpProtocol === 'grpc') {
    return new GrpcMetricExporter({ url, metadata: grpcMetadata(config.otlpHeaders), timeoutMillis: config.otlpTimeoutMs });
  }
  return new ProtoMetricExporter({ url, headers: { ...config.otlpHeaders }, timeoutMillis: config.otlpTimeoutMs });
}
