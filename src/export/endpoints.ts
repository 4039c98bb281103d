// Where each OTLP signal goes. Kept apart from the exporters (otlp.ts) so
// deciding whether to export loads none of their modules.
import type { Config } from '../config/config';

export type Signal = 'traces' | 'metrics';

/**
 * Where a signal goes, by the OTLP exporter spec: a signal-specific
 * endpoint is used as is; the base endpoint gets /v1/<signal> appended for
 * HTTP and is used as is for gRPC. undefined: that signal is not exported.
 */
export function signalUrl(config: Config, signal: Signal): string | undefined {
  const specific = signal === 'traces' ? config.otlpTracesEndpoint : config.otlpMetricsEndpoint;
  if (specific !== undefined) return specific;
  if (config.otlpEndpoint === undefined) return undefined;
  if (config.otlpProtocol === 'grpc') return config.otlpEndpoint;
  return `${config.otlpEndpoint.replace(/\/+$/, '')}/v1/${signal}`;
}
