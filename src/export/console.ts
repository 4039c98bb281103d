// Transactions on stdout: one aligned text line, or one JSON object, each.
import type { HttpTransaction } from '../transactions/transaction';
import { targetParts } from '../transactions/request-target';
import { redactQuery } from './redact';

/** 'none': no transaction lines (export through OTLP and Prometheus only). */
export type OutputFormat = 'text' | 'json' | 'none';

export interface ConsoleOptions {
  format: OutputFormat;
  redactQuery: boolean;
}

export interface JsonTransaction {
  kind: 'http';
  role: 'server' | 'client';
  protocol: string;
  /** Read at the TLS library (HTTPS, gRPC over TLS). */
  tls?: true;
  pid: number;
  process: string;
  method: string;
  path: string;
  query?: string;
  host?: string;
  status: number;
  startTimeUnixNano: string;
  durationNs: number;
  requestBytes: number;
  responseBytes: number;
  localAddress: string;
  localPort: number;
  peerAddress: string;
  peerPort: number;
  truncated?: true;
  /** http.route (absent only when no route stage ran). */
  route?: string;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  rpcSystem?: 'grpc';
  rpcService?: string;
  rpcMethod?: string;
  grpcStatusCode?: number;
  requestMessages?: number;
  responseMessages?: number;
  /** Present (true) when the message counts are lower bounds: DATA was lost with its framing. */
  messagesLowerBound?: boolean;
  /** HTTP/2 RST_STREAM error code. */
  resetCode?: number;
  /** Fields that could not be decoded (attached mid-connection); their values above are placeholders. */
  unknownFields?: string[];
}

/** Path and query as shown; an unknown target (attached mid-connection) stays empty, not "/". */
function shownTarget(target: string): { path: string; query: string | undefined } {
  return target === '' ? { path: '', query: undefined } : targetParts(target);
}

export function toJson(tx: HttpTransaction, redact: boolean): JsonTransaction {
  const { path, query } = shownTarget(tx.target);
  const out: JsonTransaction = {
    kind: 'http',
    role: tx.role,
    protocol: tx.protocol,
    pid: tx.pid,
    process: tx.process,
    method: tx.method,
    path,
    status: tx.status,
    startTimeUnixNano: tx.startTimeUnixNano.toString(),
    durationNs: tx.durationNs,
    requestBytes: tx.requestBytes,
    responseBytes: tx.responseBytes,
    localAddress: tx.local.address,
    localPort: tx.local.port,
    peerAddress: tx.peer.address,
    peerPort: tx.peer.port,
    traceId: '',
    spanId: '',
    parentSpanId: '',
  };
  if (tx.tls) out.tls = true;
  if (query !== undefined) out.query = redact ? redactQuery(query) : query;
  if (tx.host !== undefined) out.host = tx.host;
  if (tx.truncated) out.truncated = true;
  if (tx.route !== undefined) out.route = tx.route;
  out.traceId = tx.traceId;
  out.spanId = tx.spanId;
  out.parentSpanId = tx.parentSpanId;
  const rpc = tx.rpc;
  if (rpc) {
    out.rpcSystem = rpc.system;
    if (rpc.service !== undefined) out.rpcService = rpc.service;
    if (rpc.method !== undefined) out.rpcMethod = rpc.method;
    if (rpc.statusCode !== undefined) out.grpcStatusCode = rpc.statusCode;
    out.requestMessages = rpc.requestMessages;
    out.responseMessages = rpc.responseMessages;
    if (!rpc.messagesExact) out.messagesLowerBound = true;
  }
  if (tx.resetCode !== undefined) out.resetCode = tx.resetCode;
  if (tx.unknownFields.length > 0) out.unknownFields = [...tx.unknownFields];
  return out;
}

function formatDuration(ns: number): string {
  if (ns < 1e6) return `${(ns / 1e3).toFixed(0)}µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(2)}ms`;
  return `${(ns / 1e9).toFixed(2)}s`;
}

function formatTime(unixNs: bigint): string {
  const ms = Number(unixNs / 1_000_000n);
  return new Date(ms).toISOString().slice(11, 23);
}

/** One aligned line: time, process[pid], role, method, path, status, duration, bytes, peer. */
export function toTextLine(tx: HttpTransaction, redact: boolean): string {
  const { path, query } = shownTarget(tx.target);
  const shown = query === undefined ? path : `${path}?${redact ? redactQuery(query) : query}`;
  const peer = tx.peer.address.includes(':') ? `[${tx.peer.address}]:${tx.peer.port}` : `${tx.peer.address}:${tx.peer.port}`;
  return [
    formatTime(tx.startTimeUnixNano),
    `${tx.process}[${tx.pid}]`.padEnd(22),
    tx.role.padEnd(6),
    (tx.method === '' ? '?' : tx.method).padEnd(7),
    (shown.length > 48 ? `${shown.slice(0, 47)}…` : shown).padEnd(48),
    String(tx.status).padStart(3),
    formatDuration(tx.durationNs).padStart(9),
    `in=${tx.requestBytes}`.padEnd(12),
    `out=${tx.responseBytes}`.padEnd(13),
    tx.truncated ? `${peer} (truncated)` : peer,
  ].join(' ');
}

export class ConsoleExporter {
  constructor(private readonly opts: ConsoleOptions, private readonly out: NodeJS.WritableStream = process.stdout) {}

  export(tx: HttpTransaction): void {
    if (this.opts.format === 'none' || !this.out.writable) return; // the reader went away (EPIPE): the agent is stopping
    const line = this.opts.format === 'json' ? JSON.stringify(toJson(tx, this.opts.redactQuery)) : toTextLine(tx, this.opts.redactQuery);
    this.out.write(`${line}\n`);
  }
}
