// A transaction as an OpenTelemetry span, named and attributed by the stable
// HTTP and RPC semantic conventions. Times are the kernel's, never export time.
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { HttpTransaction } from '../transactions/transaction';
import { DISTRO_NAME, DISTRO_VERSION } from '../enrich/resource';
import { targetParts } from '../transactions/request-target';
import { redactQuery } from './redact';

const SCOPE = { name: DISTRO_NAME, version: DISTRO_VERSION };
const NO_LINKS: ReadableSpan['links'] = [];
const NO_EVENTS: ReadableSpan['events'] = [];

/** Methods the conventions know; others are reported as _OTHER (http.request.method). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

export function semconvMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : '_OTHER';
}

function hrTime(unixNs: bigint): HrTime {
  return [Number(unixNs / 1_000_000_000n), Number(unixNs % 1_000_000_000n)];
}

/** Host header → server.address / server.port ("h", "h:p", "[v6]:p"). */
export function parseHost(host: string): { address: string; port: number | undefined } {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end > 0) {
      const port = host[end + 1] === ':' ? Number(host.slice(end + 2)) : NaN;
      return { address: host.slice(1, end), port: Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined };
    }
  }
  const colon = host.lastIndexOf(':');
  if (colon > 0 && host.indexOf(':') === colon) {
    const port = Number(host.slice(colon + 1));
    // A bad port is dropped, not folded into the name.
    return { address: host.slice(0, colon), port: Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined };
  }
  return { address: host, port: undefined };
}

/**
 * server.address / server.port: the name the client addressed (Host
 * header), else the server's socket (local for SERVER spans, peer for CLIENT).
 */
export function serverEndpoint(tx: HttpTransaction): { address: string; port: number } {
  const socket = tx.role === 'server' ? tx.local : tx.peer;
  const host = tx.host !== undefined ? parseHost(tx.host) : undefined;
  return { address: host?.address ?? socket.address, port: host?.port ?? socket.port };
}

export function spanName(method: string, route: string | undefined): string {
  const m = KNOWN_METHODS.has(method) ? method : 'HTTP';
  return route === undefined ? m : `${m} ${route}`;
}

/** gRPC codes that mean the server failed (RPC semantic conventions); a client counts every non-OK code. */
const GRPC_SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

/** Span name of a gRPC call: "{rpc.service}/{rpc.method}", or "grpc" when the path was unknown. */
export function rpcSpanName(tx: HttpTransaction): string {
  const rpc = tx.rpc;
  return rpc && rpc.service !== undefined && rpc.method !== undefined ? `${rpc.service}/${rpc.method}` : 'grpc';
}

/**
 * Receives a span's attributes one by one, typed: the OTLP encoder writes them
 * straight to protobuf, spanAttributes() collects them into an object.
 */
export interface AttributeSink {
  string(key: string, value: string): void;
  int(key: string, value: number): void;
  bool(key: string, value: boolean): void;
  strings(key: string, value: readonly string[]): void;
}

/** The one definition of a span's attributes, in order. */
export function writeSpanAttributes(tx: HttpTransaction, redact: boolean, a: AttributeSink): void {
  const server = tx.role === 'server';
  const rpc = tx.rpc;
  if (rpc) {
    a.string('rpc.system', rpc.system);
    if (rpc.service !== undefined) a.string('rpc.service', rpc.service);
    if (rpc.method !== undefined) a.string('rpc.method', rpc.method);
    if (rpc.statusCode !== undefined) a.int('rpc.grpc.status_code', rpc.statusCode);
    a.int('sidelight.rpc.request_messages', rpc.requestMessages);
    a.int('sidelight.rpc.response_messages', rpc.responseMessages);
    if (!rpc.messagesExact) a.bool('sidelight.rpc.messages_lower_bound', true);
  } else {
    const method = semconvMethod(tx.method);
    a.string('http.request.method', method);
    if (method === '_OTHER' && tx.method !== '') a.string('http.request.method_original', tx.method);
    if (tx.target !== '') {
      const { path, query } = targetParts(tx.target);
      a.string('url.path', path);
      if (query !== undefined) a.string('url.query', redact ? redactQuery(query) : query);
    }
    a.string('url.scheme', tx.tls ? 'https' : 'http');
    if (tx.route !== undefined) a.string('http.route', tx.route);
    if (tx.status !== 0) a.int('http.response.status_code', tx.status);
  }
  const endpoint = serverEndpoint(tx);
  a.string('server.address', endpoint.address);
  a.int('server.port', endpoint.port);
  if (server) a.string('client.address', tx.peer.address);
  a.string('network.peer.address', tx.peer.address);
  a.int('network.peer.port', tx.peer.port);
  a.string('network.protocol.version', tx.protocol === 'HTTP/2' ? '2' : tx.protocol === 'HTTP/1.0' ? '1.0' : '1.1');
  a.int('http.request.body.size', tx.requestBytes);
  a.int('http.response.body.size', tx.responseBytes);
  if (tx.userAgent !== undefined) a.string('user_agent.original', tx.userAgent);
  if (tx.resetCode !== undefined) {
    a.int('sidelight.http2.reset_code', tx.resetCode);
    if (isError(tx)) a.string('error.type', h2ErrorName(tx.resetCode));
  }
  const pw = tx.peerWorkload;
  if (pw) {
    // The other side, named by its pod: server.* on a client span, client.* on a server span.
    a.string(server ? 'client.service.name' : 'server.service.name', pw.service);
    a.string(server ? 'client.service.namespace' : 'server.service.namespace', pw.namespace);
    a.string(server ? 'sidelight.client.k8s.pod.name' : 'sidelight.server.k8s.pod.name', pw.podName);
  }
  if (tx.unknownFields.length > 0) a.strings('sidelight.unknown_fields', tx.unknownFields);
  if (tx.truncated) a.bool('sidelight.truncated', true);
}

export function spanAttributes(tx: HttpTransaction, redact: boolean): Attributes {
  const out: Attributes = {};
  const set = (key: string, value: string | number | boolean): void => {
    out[key] = value;
  };
  writeSpanAttributes(tx, redact, { string: set, int: set, bool: set, strings: (key, value) => (out[key] = [...value]) });
  return out;
}

const H2_ERRORS = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

/** RFC 9113 §7 error code name (the number for codes it does not define). */
export function h2ErrorName(code: number): string {
  return H2_ERRORS[code] ?? String(code);
}

/**
 * HTTP: error for 5xx on SERVER spans, for 4xx and 5xx on CLIENT spans.
 * gRPC: the RPC conventions' server codes, any non-OK code on clients.
 * A stream reset before its response is a client error (the call failed) and
 * not the server's. Unset otherwise.
 */
export function isError(tx: HttpTransaction): boolean {
  const client = tx.role === 'client';
  const code = tx.rpc?.statusCode;
  if (code !== undefined) return client ? code !== 0 : GRPC_SERVER_ERRORS.has(code);
  if (tx.status === 0) return client && tx.resetCode !== undefined;
  return tx.status >= 500 || (client && tx.status >= 400);
}

/** The span's name: "{method} {route}" for HTTP, "{service}/{method}" for gRPC. */
export function spanNameOf(tx: HttpTransaction): string {
  return tx.rpc ? rpcSpanName(tx) : spanName(tx.method, tx.route);
}

/** A transaction on its way to OTLP, with its process's Resource (see otlp-trace-encoder.ts). */
export interface SpanRecord {
  tx: HttpTransaction;
  resource: Resource;
}

/**
 * The same span in the SDK's ReadableSpan shape: what the official OTLP
 * serializer takes, and so the reference the encoder is tested against.
 */
export function toSpan(tx: HttpTransaction, resource: Resource, redact: boolean): ReadableSpan {
  const start = tx.startTimeUnixNano;
  const end = start + BigInt(tx.durationNs);
  const ctx: SpanContext = { traceId: tx.traceId, spanId: tx.spanId, traceFlags: TraceFlags.SAMPLED };
  if (tx.traceState !== '') ctx.traceState = new TraceState(tx.traceState);
  const parent: SpanContext | undefined =
    tx.parentSpanId === '' ? undefined : { traceId: tx.traceId, spanId: tx.parentSpanId, traceFlags: TraceFlags.SAMPLED };
  return {
    name: spanNameOf(tx),
    kind: tx.role === 'server' ? SpanKind.SERVER : SpanKind.CLIENT,
    spanContext: () => ctx,
    parentSpanContext: parent,
    startTime: hrTime(start),
    endTime: hrTime(end),
    duration: [Math.floor(tx.durationNs / 1e9), tx.durationNs % 1e9],
    status: isError(tx) ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.UNSET },
    attributes: spanAttributes(tx, redact),
    links: NO_LINKS,
    events: NO_EVENTS,
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
