// The protocol interface: what the connection stage needs of a protocol and
// what a protocol reports to the stages after it. A protocol is one folder
// under src/protocols/ (its parser, its `protocol.ts` implementing Protocol)
// plus its kernel half under bpf/protocols/, registered in registry.ts.
import type { Limit } from './limits';
import type { RequestHead, UnknownField } from './request-head';

/** Direction of a stream: 0 egress (sent by the local end), 1 ingress; the connection stage maps the kernel's SL_DIR_* onto it. */
export type Side = 0 | 1;
export const EGRESS: Side = 0;
export const INGRESS: Side = 1;

export type Role = 'server' | 'client';

/** What the connection stage knows of a connection when it opens a session on it. */
export interface StreamStart {
  /** Known from connect()/accept(), the listening ports, or a sniffed first message; undefined: the session must tell. */
  readonly role: Role | undefined;
  /** The connection was seen from its first byte (connect/accept observed). */
  readonly fromStart: boolean;
  /** Bytes already placed per direction before this session (parsed by another protocol, or stepped over), when it opens. */
  readonly placed: readonly [number, number];
}

/** A protocol's parser for one connection, fed its bytes in stream order by direction. */
export interface ProtocolSession {
  /** Captured bytes; syscallStart: the first of them began a syscall. The buffer is reused after the call. */
  push(dir: Side, data: Uint8Array, ts: bigint, syscallStart: boolean): void;
  /** n bytes moved but not captured (or lost): stepped over by count. */
  skip(dir: Side, n: number, ts: bigint): void;
  /** The connection closed: what is answered is reported; the rest is counted as unanswered. */
  close(ts: bigint): void;
  /** The connection was dropped (idle, over the bound) or handed to another protocol: nothing more is reported. */
  abandon(): void;
}

/** A gRPC call carried by an HTTP/2 stream. */
export interface RpcCall {
  system: 'grpc';
  /** undefined when the :path could not be known (see unknownFields). */
  service: string | undefined;
  method: string | undefined;
  /** grpc-status from the trailers; undefined if the stream ended without one. */
  statusCode: number | undefined;
  /** Length-prefixed messages in each direction; lower bounds when messagesExact is false. */
  requestMessages: number;
  responseMessages: number;
  /** false: DATA of the call was lost with its framing, so some messages were never seen and the counts are lower bounds. */
  messagesExact: boolean;
}

/** One finished request/response exchange as its protocol saw it (the connection and span context are added after). */
export interface Exchange<Ctx> {
  /** What the session's requestStarted returned for this request. */
  ctx: Ctx;
  startNs: bigint;
  endNs: bigint;
  protocol: 'HTTP/1.1' | 'HTTP/1.0' | 'HTTP/2';
  /** '' when unknown (unknownFields says so). */
  method: string;
  /** Request target as sent, query included; '' when unknown. */
  target: string;
  host: string | undefined;
  userAgent: string | undefined;
  /** 0 when no response status was seen or it was unknown. */
  status: number;
  requestBytes: number;
  responseBytes: number;
  /** Framing was lost inside this exchange: sizes and end time are lower bounds. */
  truncated: boolean;
  rpc: RpcCall | undefined;
  unknownFields: readonly UnknownField[];
  resetCode: number | undefined;
}

/**
 * What a session reports, synchronously from inside push/skip/close. A
 * request starts on the thread of the event being pushed: the stage behind
 * these calls reads it from the connection (ConnectionView.thread).
 */
export interface SessionEvents<Ctx> {
  requestStarted(head: RequestHead, startNs: bigint): Ctx;
  /** A request that will never be answered (connection gone, dropped, over a bound); an answered one ends with its exchange. */
  requestEnded(ctx: Ctx | undefined): void;
  exchange(ex: Exchange<Ctx>): void;
  /** The session found which side is the client (e.g. from the HTTP/2 preface). */
  roleFound(role: Role): void;
  /** A bound of protocols/limits.ts was crossed: the session has stopped; its bytes are only counted from here. */
  limitCrossed(limit: Limit): void;
  /** Whether the connection's payload bodies matter to the parser (the kernel may then ship heads only). */
  bodiesWanted(wanted: boolean): void;
}

export interface Protocol<Name extends string = string, Stats = unknown> {
  readonly name: Name;
  /** The kernel's class for connections of this protocol (bpf/events.h enum sl_class). */
  readonly kernelClass: number;
  /** Once open, the session keeps the connection whatever later events' class says (else a later class switches it). */
  readonly final: boolean;
  /** A session needs the connection's role before its first byte. */
  readonly needsRole: boolean;
  /** The role of a connection opened before the agent, from the first bytes one direction carried; undefined: cannot tell. */
  sniffRole(first: Uint8Array, egress: boolean): Role | undefined;
  newStats(): Stats;
  open<Ctx>(start: StreamStart, events: SessionEvents<Ctx>, stats: Stats): ProtocolSession;
}
