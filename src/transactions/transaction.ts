// The internal model of one HTTP exchange, as every exporter receives it.
import type { Endpoint } from '../capture/events';
import type { Role, RpcCall } from '../protocols/protocol';
import type { UnknownField } from '../protocols/request-head';

export type { Role, RpcCall } from '../protocols/protocol';
export type { UnknownField } from '../protocols/request-head';

export interface HttpTransaction {
  kind: 'http';
  role: Role;
  protocol: 'HTTP/1.1' | 'HTTP/1.0' | 'HTTP/2';
  /** Read at the TLS library (HTTPS, gRPC over TLS), not from cleartext socket bytes. */
  tls: boolean;
  pid: number;
  process: string;
  /** '' when unknown (unknownFields says so). */
  method: string;
  /** Request target as sent, query included (exporters redact it); HTTP/2's :path. '' when unknown. */
  target: string;
  /** Host header, or HTTP/2's :authority. */
  host: string | undefined;
  userAgent: string | undefined;
  /** 0 when no response status was seen (a reset stream) or it was unknown. */
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
  /** gRPC details; undefined for plain HTTP. */
  rpc: RpcCall | undefined;
  /** Empty unless some header could not be decoded (HTTP/2 attached mid-connection). */
  unknownFields: readonly UnknownField[];
  /** HTTP/2 RST_STREAM error code when the stream was reset. */
  resetCode: number | undefined;
  /** The Kubernetes pod at the other end (its IP is a known pod's), set by the enrich stage. */
  peerWorkload?: PeerWorkload;
}

export interface PeerWorkload {
  readonly service: string;
  readonly namespace: string;
  readonly podName: string;
}
