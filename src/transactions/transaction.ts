// The internal model of one HTTP exchange, as every exporter receives it.
import type { Endpoint } from '../capture/events';

export type Role = 'server' | 'client';

export interface HttpTransaction {
  kind: 'http';
  role: Role;
  protocol: 'HTTP/1.1' | 'HTTP/1.0';
  pid: number;
  process: string;
  method: string;
  /** Request target as sent, query included (exporters redact it). */
  target: string;
  host: string | undefined;
  userAgent: string | undefined;
  status: number;
  /** Wall-clock Unix time of the request's first byte, in nanoseconds. */
  startTimeUnixNano: bigint;
  /** First request byte to last response byte, from kernel timestamps. */
  durationNs: number;
  /** Body bytes (payload bytes for chunked bodies). */
  requestBytes: number;
  responseBytes: number;
  local: Endpoint;
  peer: Endpoint;
  /** Framing was lost inside this exchange: sizes and end time are a lower bound. */
  truncated: boolean;
  /** Span context: lowercase hex; parentSpanId is '' for a root span. */
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  /** The sampler's decision: only sampled spans are exported as traces. */
  sampled: boolean;
  /** http.route, set by the route stage (undefined: not derived yet, or ignored). */
  route: string | undefined;
}
