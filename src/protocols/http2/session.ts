// One HTTP/2 connection seen from the kernel: a frame reader and an HPACK
// decoder per direction, and a transaction per stream. A transaction starts
// at the request's first HEADERS frame and ends at the response's
// END_STREAM (or an RST_STREAM from either side), so streaming calls last
// as long as the stream does.
//
// Sides are the connection stage's directions (0 egress, 1 ingress). Which one is the client is
// known from the kernel (connect/accept), from the preface, or else from
// the first header block naming :method or :status.
import {
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  FLAG_PRIORITY,
  FLAG_ACK,
  FrameReader,
  FrameType,
  newFrameStats,
  type FrameHeader,
  type FrameSink,
  type FrameStats,
} from './frames';
import { GrpcMessageCounter, grpcPathParts, isGrpcContentType, parseGrpcStatus } from './grpc';
import { HeaderListTooLarge, HeaderTableTooLarge, HpackDecoder, HpackError, type HeaderField, type HpackStats } from './hpack';
import { MAX_HEADER_BLOCK, MAX_OPEN_STREAMS, type Limit, type LimitHook } from '../limits';
import type { ProtocolSession, RpcCall, Side } from '../protocol';
import { addTraceField, TRACE_HEADERS, type RequestHead, type TraceHeaders, type UnknownField } from '../request-head';

export { MAX_HEADER_BLOCK, MAX_OPEN_STREAMS };

export type { Side } from '../protocol';

/** What the trace linker needs of a request: the head every protocol reports. */
export type Http2RequestHead = RequestHead;

/** A gRPC call as the session counts it (the transaction's RpcCall without its system). */
export type GrpcCall = Omit<RpcCall, 'system'>;

export interface Http2Transaction<C = undefined> {
  streamId: number;
  method: string | undefined;
  /** :path as sent, query included. */
  path: string | undefined;
  authority: string | undefined;
  userAgent: string | undefined;
  /** Final :status; undefined if none came (reset) or it was unknown. */
  status: number | undefined;
  startNs: bigint;
  endNs: bigint;
  /** DATA payload bytes (padding excluded), captured or not. */
  requestBodyBytes: number;
  responseBodyBytes: number;
  grpc: GrpcCall | undefined;
  /** RST_STREAM error code, if the stream was reset. */
  resetCode: number | undefined;
  unknown: UnknownField[];
  /** Frame boundaries were lost while the stream was open: sizes and end are lower bounds. */
  truncated: boolean;
  ctx: C | undefined;
}

export interface Http2Stats {
  frames: FrameStats;
  hpack: HpackStats;
  transactions: number;
  /** Transactions reported with at least one unknown field. */
  transactionsWithUnknownFields: number;
  /** Streams that ended with RST_STREAM. */
  streamsReset: number;
  /** Requests never answered: connection closed, GOAWAY, or evicted. */
  unansweredStreams: number;
  /** Response header blocks for streams whose request was not seen (opened before the attach). */
  responsesWithoutRequest: number;
  /** Header blocks that could not be decoded (lost bytes or malformed): the table became unknown. */
  headerBlocksLost: number;
  hpackErrors: number;
  /** Header blocks that named neither :method nor :status before the client side was known. */
  blocksBeforeRole: number;
}

export function newHttp2Stats(): Http2Stats {
  return {
    frames: newFrameStats(),
    hpack: { unknownRefs: 0 },
    transactions: 0,
    transactionsWithUnknownFields: 0,
    streamsReset: 0,
    unansweredStreams: 0,
    responsesWithoutRequest: 0,
    headerBlocksLost: 0,
    hpackErrors: 0,
    blocksBeforeRole: 0,
  };
}

interface Stream<C> {
  id: number;
  startNs: bigint;
  method: string | undefined;
  path: string | undefined;
  authority: string | undefined;
  userAgent: string | undefined;
  requestGrpc: boolean;
  responseGrpc: boolean;
  /** The request's content-type may have been among fields that could not be decoded. */
  contentTypeUnknown: boolean;
  /** Some response field (headers or trailers) could not be decoded. */
  responseUnknown: boolean;
  status: number | undefined;
  /** A response header block (final or not) has been seen: the next one after a final is trailers. */
  finalSeen: boolean;
  /** A header block came after the final response's: trailers. */
  trailersSeen: boolean;
  grpcStatus: number | undefined;
  reqBytes: number;
  respBytes: number;
  reqMsgs: GrpcMessageCounter;
  respMsgs: GrpcMessageCounter;
  unknown: UnknownField[];
  truncated: boolean;
  ctx: C | undefined;
}

interface PendingBlock {
  streamId: number;
  /** HEADERS (a request/response/trailers) or PUSH_PROMISE (decoded only to keep the table). */
  type: number;
  endStream: boolean;
  parts: Uint8Array[];
  bytes: number;
  lost: boolean;
  ts: bigint;
}

/** Fields of one decoded block that matter here. */
interface Block {
  method?: string;
  path?: string;
  authority?: string;
  status?: string;
  contentType?: string;
  userAgent?: string;
  grpcStatus?: string;
  trace?: TraceHeaders;
  /** Some field (or the whole block) could not be known. */
  unknown: boolean;
}

export interface Http2SessionOptions {
  /** Which side sends requests, if known already (from connect/accept). */
  clientSide: Side | undefined;
  /** The connection was seen from its start: HPACK tables start empty, the client side starts with the preface. */
  complete: boolean;
  /** Per side: the first byte pushed is the side's first byte ever (false: find frames at a later syscall boundary). */
  synced: [boolean, boolean];
  /** Called once, at the first request whose content type is known, or at the first call whose shape is gRPC's when it is not: whether it is gRPC (only gRPC message prefixes are read from DATA payloads). */
  onGrpcKnown?: (grpc: boolean) => void;
}

export type Http2RequestHook<C> = (head: Http2RequestHead, startNs: bigint) => C;

/** What a session reports, synchronously from inside push/skip/close. */
export interface Http2Hooks<C> {
  transaction: (tx: Http2Transaction<C>) => void;
  request?: Http2RequestHook<C>;
  /** A request that will never be answered (reset, connection gone, over a bound). */
  unanswered?: (ctx: C | undefined) => void;
  /** The client side was found (from the preface or the first request). */
  clientSide?: (side: Side) => void;
  /** A bound was crossed: the session has stopped (see src/protocols/limits.ts). */
  limit?: LimitHook;
}

export class Http2Session<C = undefined> implements ProtocolSession {
  private readonly readers: [FrameReader, FrameReader];
  private readonly hpack: [HpackDecoder, HpackDecoder];
  private readonly pending: [PendingBlock | undefined, PendingBlock | undefined] = [undefined, undefined];
  private readonly streams = new Map<number, Stream<C>>();
  /** SETTINGS_HEADER_TABLE_SIZE in force for each side's encoder, and a cut not yet acknowledged. */
  private readonly limits: [number, number] = [4096, 4096];
  private readonly lowered: [number | undefined, number | undefined] = [undefined, undefined];
  /** Highest request stream id seen (a block on a lower, untracked id is not a new request). */
  private lastRequestId = 0;

  private clientSide: Side | undefined;
  private onGrpcKnown: ((grpc: boolean) => void) | undefined;

  private readonly emit: (tx: Http2Transaction<C>) => void;
  private readonly onRequest: Http2RequestHook<C> | undefined;
  private readonly onUnanswered: ((ctx: C | undefined) => void) | undefined;
  private readonly onClientSide: ((side: Side) => void) | undefined;
  private readonly onLimit: LimitHook | undefined;

  constructor(
    hooks: Http2Hooks<C>,
    readonly stats: Http2Stats,
    opts: Http2SessionOptions,
  ) {
    this.emit = hooks.transaction;
    this.onRequest = hooks.request;
    this.onUnanswered = hooks.unanswered;
    this.onClientSide = hooks.clientSide;
    this.onLimit = hooks.limit;
    this.clientSide = opts.clientSide;
    this.onGrpcKnown = opts.onGrpcKnown;
    const sink = (side: Side): FrameSink => ({
      onData: (id, data, n) => this.data(side, id, data, n),
      onFrame: (h, payload, ts) => this.frame(side, h, payload, ts),
      onDesync: () => this.desync(side),
    });
    const reader = (side: Side) =>
      // Synced means at byte 0 of a connection seen from its start: the client's side opens with the preface.
      new FrameReader(sink(side), stats.frames, opts.synced[side] && opts.clientSide === side, opts.synced[side]);
    this.readers = [reader(0), reader(1)];
    this.hpack = [new HpackDecoder(opts.complete, stats.hpack), new HpackDecoder(opts.complete, stats.hpack)];
  }

  /** A bound was crossed: nothing more is parsed. */
  limited = false;

  push(side: Side, data: Uint8Array, ts: bigint, syscallStart: boolean): void {
    if (!this.limited) this.readers[side].push(data, ts, syscallStart);
  }

  skip(side: Side, n: number, ts: bigint): void {
    if (!this.limited) this.readers[side].skip(n, ts);
  }

  /** Stops for good: open streams are given up (counted unanswered, never reported). */
  private limit(limit: Limit): void {
    if (this.limited) return;
    this.limited = true;
    this.close();
    this.pending[0] = this.pending[1] = undefined;
    this.onLimit?.(limit);
  }

  /** The connection ended: streams still open were never answered. */
  close(): void {
    for (const s of this.streams.values()) this.giveUp(s);
    this.streams.clear();
  }

  /** Dropped (idle, over the bound): as a close, every open stream counted as unanswered. */
  abandon(): void {
    this.close();
  }

  private frame(side: Side, h: FrameHeader, p: Uint8Array | undefined, ts: bigint): void {
    // The rest of a push that crossed a bound still comes through the reader.
    if (this.limited) return;
    switch (h.type) {
      case FrameType.DATA:
        if (h.flags & FLAG_END_STREAM) this.endOfStream(side, h.streamId, ts);
        return;
      case FrameType.HEADERS:
      case FrameType.PUSH_PROMISE:
        this.headers(side, h, p, ts);
        return;
      case FrameType.CONTINUATION:
        this.continuation(side, h, p);
        return;
      case FrameType.RST_STREAM:
        this.reset(h.streamId, p, ts);
        return;
      case FrameType.SETTINGS:
        if (h.flags & FLAG_ACK) this.settingsAcked(side);
        else if (p) this.settings(side, p);
        return;
      case FrameType.GOAWAY:
        if (p && p.length >= 8) this.goaway(side, ((p[0] & 0x7f) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]);
        return;
      default:
        // PRIORITY, PING, WINDOW_UPDATE and extension frames say nothing about transactions.
        return;
    }
  }

  private headers(side: Side, h: FrameHeader, p: Uint8Array | undefined, ts: bigint): void {
    if (this.pending[side]) {
      // A new block before the last one ended (RFC 9113 §6.10 forbids it): the last is lost.
      this.pending[side] = undefined;
      this.blockLost(side);
    }
    let fragment: Uint8Array | undefined;
    if (p) {
      let from = 0;
      let to = p.length;
      if (h.flags & FLAG_PADDED) {
        to -= p[0];
        from = 1;
      }
      if (h.type === FrameType.HEADERS && h.flags & FLAG_PRIORITY) from += 5;
      if (h.type === FrameType.PUSH_PROMISE) from += 4;
      if (from <= to) fragment = p.subarray(from, to);
    }
    const endStream = h.type === FrameType.HEADERS && (h.flags & FLAG_END_STREAM) !== 0;
    if (h.flags & FLAG_END_HEADERS) {
      this.blockDone(side, h.streamId, h.type, endStream, fragment, ts);
      return;
    }
    const block: PendingBlock = { streamId: h.streamId, type: h.type, endStream, parts: [], bytes: 0, lost: fragment === undefined, ts };
    if (fragment) this.addPart(block, fragment);
    this.pending[side] = block;
  }

  private continuation(side: Side, h: FrameHeader, p: Uint8Array | undefined): void {
    const block = this.pending[side];
    if (!block || block.streamId !== h.streamId) {
      // A CONTINUATION nothing is waiting for: the block it belongs to was lost.
      if (block) this.pending[side] = undefined;
      this.blockLost(side);
      return;
    }
    if (p === undefined) block.lost = true;
    else this.addPart(block, p);
    if (h.flags & FLAG_END_HEADERS) {
      this.pending[side] = undefined;
      const bytes = block.lost ? undefined : Buffer.concat(block.parts);
      this.blockDone(side, block.streamId, block.type, block.endStream, bytes, block.ts);
    }
  }

  /** Keeps a copy of a fragment: frame payloads are views valid only during the call. */
  private addPart(block: PendingBlock, part: Uint8Array): void {
    if (block.lost) return;
    block.bytes += part.length;
    if (block.bytes > MAX_HEADER_BLOCK) return this.limit('http2_header_block');
    // A copy: on a Buffer (the decoder's views of a batch) slice() would share the bytes the addon reuses.
    block.parts.push(Uint8Array.prototype.slice.call(part));
  }

  private blockLost(side: Side): void {
    this.stats.headerBlocksLost++;
    this.hpack[side].desync();
  }

  /** A whole header block (bytes undefined: lost) from `side` on a stream. */
  private blockDone(side: Side, streamId: number, type: number, endStream: boolean, bytes: Uint8Array | undefined, ts: bigint): void {
    let fields: HeaderField[] | undefined;
    if (bytes === undefined) {
      this.blockLost(side);
    } else {
      try {
        fields = this.hpack[side].decode(bytes);
      } catch (e) {
        if (!(e instanceof HpackError)) throw e;
        // The peers end the connection on a decoding error (RFC 9113 §4.3): so does the parser.
        if (e instanceof HeaderListTooLarge) return this.limit('http2_header_list');
        if (e instanceof HeaderTableTooLarge) return this.limit('http2_header_table');
        this.stats.hpackErrors++;
        return this.limit('hpack');
      }
    }
    if (type === FrameType.PUSH_PROMISE) return;
    const b = summarize(fields);
    if (this.clientSide === undefined) {
      if (b.method !== undefined) this.setClientSide(side);
      else if (b.status !== undefined) this.setClientSide(side === 0 ? 1 : 0);
      else {
        this.stats.blocksBeforeRole++;
        return;
      }
    }
    if (side === this.clientSide) this.requestBlock(streamId, ts, b);
    else this.responseBlock(streamId, endStream, ts, b);
  }

  private setClientSide(side: Side): void {
    this.clientSide = side;
    this.onClientSide?.(side);
  }

  private requestBlock(id: number, ts: bigint, b: Block): void {
    if (!this.streams.has(id)) {
      // Client streams are odd and rise (§5.1.1): anything else is trailers
      // of a stream opened before we could follow it.
      if ((id & 1) === 0 || id <= this.lastRequestId) return;
      this.lastRequestId = id;
      this.open(id, ts, b);
    }
    // The request half ending (END_STREAM here or on DATA) changes nothing: the response ends the transaction.
  }

  private open(id: number, ts: bigint, b: Block): Stream<C> | undefined {
    const unknown: UnknownField[] = [];
    if (b.unknown) {
      if (b.method === undefined) unknown.push('method');
      if (b.path === undefined) unknown.push('path');
      if (b.authority === undefined) unknown.push('authority');
    }
    const s: Stream<C> = {
      id,
      startNs: ts,
      method: b.method,
      path: b.path,
      authority: b.authority,
      userAgent: b.userAgent,
      requestGrpc: isGrpcContentType(b.contentType),
      responseGrpc: false,
      contentTypeUnknown: b.unknown && b.contentType === undefined,
      responseUnknown: false,
      status: undefined,
      finalSeen: false,
      trailersSeen: false,
      grpcStatus: undefined,
      reqBytes: 0,
      respBytes: 0,
      reqMsgs: new GrpcMessageCounter(),
      respMsgs: new GrpcMessageCounter(),
      unknown,
      truncated: false,
      ctx: undefined,
    };
    if (this.onGrpcKnown && !b.unknown) {
      this.onGrpcKnown(s.requestGrpc);
      this.onGrpcKnown = undefined;
    }
    if (this.streams.size >= MAX_OPEN_STREAMS) {
      this.limit('http2_open_streams');
      return undefined;
    }
    this.streams.set(id, s);
    if (this.onRequest) {
      s.ctx = this.onRequest({ method: b.method ?? '', target: b.path ?? '', trace: b.trace }, ts);
    }
    return s;
  }

  private responseBlock(id: number, endStream: boolean, ts: bigint, b: Block): void {
    const s = this.streams.get(id);
    if (!s) {
      this.stats.responsesWithoutRequest++;
      return;
    }
    if (s.finalSeen) s.trailersSeen = true;
    else {
      const status = b.status === undefined ? undefined : Number.parseInt(b.status, 10);
      // 1xx informational responses precede the final one (§8.1).
      if (status === undefined || status >= 200 || status < 100) {
        s.finalSeen = true;
        s.status = status !== undefined && status >= 100 && status <= 999 ? status : undefined;
        if (s.status === undefined && b.unknown) s.unknown.push('status');
      }
      if (isGrpcContentType(b.contentType)) s.responseGrpc = true;
      else if (b.contentType !== undefined) s.contentTypeUnknown = false;
    }
    const g = parseGrpcStatus(b.grpcStatus);
    if (g !== undefined) s.grpcStatus = g;
    if (b.unknown) s.responseUnknown = true;
    if (endStream) this.finish(s, ts, undefined);
  }

  private data(side: Side, id: number, data: Uint8Array | undefined, n: number): void {
    if (this.limited) return;
    const s = this.streams.get(id);
    if (!s || this.clientSide === undefined) return;
    const req = side === this.clientSide;
    if (req) s.reqBytes += n;
    else s.respBytes += n;
    const counter = req ? s.reqMsgs : s.respMsgs;
    if (data) counter.push(data);
    else counter.skip(n);
  }

  private endOfStream(side: Side, id: number, ts: bigint): void {
    if (side === this.clientSide) return;
    const s = this.streams.get(id);
    if (s) this.finish(s, ts, undefined);
  }

  private reset(id: number, p: Uint8Array | undefined, ts: bigint): void {
    const s = this.streams.get(id);
    if (!s) return;
    const code = p && p.length === 4 ? ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0 : 0;
    this.stats.streamsReset++;
    this.finish(s, ts, code);
  }

  /**
   * SETTINGS_HEADER_TABLE_SIZE: the sender decodes with at most this table,
   * so it bounds the size updates in blocks the other side sends. A raise
   * applies at once; a cut only once the other side acknowledges it (until
   * then its encoder may rightly still use the old size, RFC 9113 §6.5.3).
   */
  private settings(side: Side, p: Uint8Array): void {
    const other = side === 0 ? 1 : 0;
    for (let i = 0; i + 6 <= p.length; i += 6) {
      const id = (p[i] << 8) | p[i + 1];
      if (id !== 1) continue;
      const value = ((p[i + 2] << 24) | (p[i + 3] << 16) | (p[i + 4] << 8) | p[i + 5]) >>> 0;
      if (value >= this.limits[other]) {
        this.limits[other] = value;
        this.hpack[other].setLimit(value);
      } else {
        this.lowered[other] = value;
      }
    }
  }

  /** `side` acknowledged the other side's SETTINGS: a lowered table size now binds its encoder. */
  private settingsAcked(side: Side): void {
    const v = this.lowered[side];
    if (v === undefined) return;
    this.lowered[side] = undefined;
    this.limits[side] = v;
    this.hpack[side].setLimit(v);
  }

  /** A GOAWAY from the server: client streams above lastId were never processed. */
  private goaway(side: Side, lastId: number): void {
    if (side === this.clientSide) return;
    for (const s of this.streams.values()) {
      if (s.id > lastId) {
        this.streams.delete(s.id);
        this.giveUp(s);
      }
    }
  }

  private desync(side: Side): void {
    this.pending[side] = undefined;
    this.hpack[side].desync();
    // Whatever the lost bytes held (an END_STREAM, DATA) is unknown for every
    // open stream: its message count in that direction is a lower bound now.
    const req = this.clientSide === undefined || side === this.clientSide;
    const resp = this.clientSide === undefined || side !== this.clientSide;
    for (const s of this.streams.values()) {
      s.truncated = true;
      if (req) s.reqMsgs.lose();
      if (resp) s.respMsgs.lose();
    }
  }

  private giveUp(s: Stream<C>): void {
    this.stats.unansweredStreams++;
    this.onUnanswered?.(s.ctx);
  }

  private finish(s: Stream<C>, ts: bigint, resetCode: number | undefined): void {
    this.streams.delete(s.id);
    const grpc = s.requestGrpc || s.responseGrpc || s.grpcStatus !== undefined || looksLikeGrpc(s);
    let call: GrpcCall | undefined;
    if (grpc) {
      // Attached mid-connection, no content type was readable yet: this call
      // shows the connection carries gRPC, whose message prefixes the kernel
      // must keep shipping past the first bytes for the next calls to count.
      if (this.onGrpcKnown) {
        this.onGrpcKnown(true);
        this.onGrpcKnown = undefined;
      }
      // A response field that could not be read may have been grpc-status.
      if (s.grpcStatus === undefined && s.responseUnknown && resetCode === undefined) s.unknown.push('grpcStatus');
      const parts = s.path === undefined ? undefined : grpcPathParts(s.path);
      call = {
        service: parts?.[0],
        method: parts?.[1],
        statusCode: s.grpcStatus,
        requestMessages: s.reqMsgs.count,
        responseMessages: s.respMsgs.count,
        messagesExact: s.reqMsgs.exact && s.respMsgs.exact,
      };
    }
    this.stats.transactions++;
    if (s.unknown.length > 0) this.stats.transactionsWithUnknownFields++;
    this.emit({
      streamId: s.id,
      method: s.method,
      path: s.path,
      authority: s.authority,
      userAgent: s.userAgent,
      status: s.status,
      startNs: s.startNs,
      endNs: ts,
      requestBodyBytes: s.reqBytes,
      responseBodyBytes: s.respBytes,
      grpc: call,
      resetCode,
      unknown: s.unknown,
      truncated: s.truncated,
      ctx: s.ctx,
    });
  }
}

/**
 * A call whose content-type could not be decoded (attached mid-connection)
 * is gRPC if everything that is known says so: a POST whose request and
 * response bodies are whole length-prefixed messages, to /service/method. A
 * client that indexed :path before the agent came (gRPC C-core does) leaves
 * the path unknown too: then the response must also have ended with
 * trailers, and some message must have passed, for the shape to be gRPC's.
 */
function looksLikeGrpc<C>(s: Stream<C>): boolean {
  if (!s.contentTypeUnknown || s.method !== 'POST') return false;
  if (!s.reqMsgs.wholeMessages(s.reqBytes) || !s.respMsgs.wholeMessages(s.respBytes)) return false;
  if (s.path !== undefined) return grpcPathParts(s.path) !== undefined;
  return s.unknown.includes('path') && s.trailersSeen && s.reqMsgs.count + s.respMsgs.count > 0;
}

/** Picks the fields that matter out of a decoded block (undefined: the block was lost). */
function summarize(fields: HeaderField[] | undefined): Block {
  const b: Block = { unknown: fields === undefined };
  if (!fields) return b;
  for (const f of fields) {
    const name = f.name;
    if (name === undefined) {
      b.unknown = true;
      continue;
    }
    const v = f.value;
    if (v === undefined) {
      b.unknown = true;
      continue;
    }
    switch (name) {
      case ':method':
        b.method ??= v;
        break;
      case ':path':
        b.path ??= v;
        break;
      case ':authority':
        b.authority ??= v;
        break;
      case ':status':
        b.status ??= v;
        break;
      case 'content-type':
        b.contentType ??= v;
        break;
      case 'user-agent':
        b.userAgent ??= v;
        break;
      case 'grpc-status':
        b.grpcStatus ??= v;
        break;
      default: {
        const field = TRACE_HEADERS.get(name);
        if (field !== undefined) addTraceField((b.trace ??= {}), field, v);
        break;
      }
    }
  }
  return b;
}
