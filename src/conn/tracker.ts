// Connection tracker: one entry per kernel connection id. It gives each
// connection its role, lays every event at its exact place in the byte
// stream (gaps become counted skips), and drives the protocol parser.
import { commOf, endpointsOf, hasTuple } from '../capture/decoder';
import type { CloseEvent, DataEvent, Endpoint, EventSink, TlsBindEvent } from '../capture/events';
import { DIR_EGRESS, DIR_INGRESS, ROLE_CLIENT, ROLE_SERVER } from '../capture/layout';
import { KERNEL_LIMITS } from '../capture/limits';
import {
  Http1Exchange,
  looksLikeHttp1Request,
  looksLikeHttp1Response,
  newHttp1Stats,
  type Http1Stats,
  type Http1Transaction,
} from '../protocols/http1';
import { Http2Session, newHttp2Stats, type Http2Stats, type Http2Transaction, type Side } from '../protocols/http2';
import { LIMITS, type Limit } from '../protocols/limits';
import type { WallClock } from '../transactions/clock';
import { linkKey, TraceLinker, type LinkState, type RequestContext } from '../transactions/linker';
import type { HttpTransaction, Role } from '../transactions/transaction';

const CLASS_UNKNOWN = KERNEL_LIMITS.classUnknown;
const CLASS_HTTP2 = KERNEL_LIMITS.classHttp2;
/** Unjudged bytes kept per connection, and syscalls (the kernel judges at most 4 before giving up). */
const EARLY_BYTES = 8 * 1024;
const EARLY_SYSCALLS = 4;
/** TLS plaintext kept per session while it waits for its socket (a memory-BIO session binds at its next write). */
const UNBOUND_BYTES = 64 * 1024;
const NO_ENDPOINT: Endpoint = { address: '', port: 0 };

/** The fields of a data event that placing it in the stream needs. */
type Piece = Pick<DataEvent, 'tsNs' | 'tid' | 'streamPos' | 'syscallBytes' | 'captured' | 'chunkOffset' | 'skippedBefore' | 'direction' | 'payload'>;

function pieceOf(ev: Piece): Piece {
  return {
    tsNs: ev.tsNs, tid: ev.tid, streamPos: ev.streamPos, syscallBytes: ev.syscallBytes,
    captured: ev.captured, chunkOffset: ev.chunkOffset, skippedBefore: ev.skippedBefore, direction: ev.direction, payload: ev.payload,
  };
}

/** A connection's parser, fed by direction (0 egress, 1 ingress). */
interface StreamSink {
  push(dir: Side, data: Uint8Array, ts: bigint, syscallStart: boolean): void;
  skip(dir: Side, n: number, ts: bigint): void;
}

export interface TrackerStats {
  connectionsOpened: number;
  connectionsClosed: number;
  connectionsEvicted: number;
  /** Bytes seen before the connection's role could be told, not parsed. */
  bytesBeforeRole: number;
  /** Bytes shipped before the kernel judged the connection's protocol (e.g. a server's greeting): not parsed. */
  bytesUnclassified: number;
  /** Bytes past the per-syscall capture cap: stepped over by count, by design. */
  bytesUncaptured: number;
  /** Bytes whose events never arrived (ring buffer full, unreadable buffer): stepped over by count. */
  bytesLost: number;
  /** Captured bytes that repeated bytes already placed in the stream. */
  bytesOverlapped: number;
  /** TLS plaintext whose session was never matched to its socket (or past the bound while waiting): not parsed. */
  bytesTlsUnbound: number;
  /** TLS plaintext of sessions over sockets the port filters leave out. */
  bytesTlsFiltered: number;
  /** TLS sessions matched to their socket. */
  tlsSessionsBound: number;
  /** Connections that crossed a bound of src/protocols/limits.ts and were skipped from there, by limit. */
  connectionsLimited: Record<Limit, number>;
  /** Bytes of those connections from the piece that crossed the bound on. */
  bytesLimited: number;
  http1: Http1Stats;
  http2: Http2Stats;
}

interface Connection {
  id: number;
  /** A TLS session: the plaintext read at the TLS library; id is the session's. */
  tls: boolean;
  /** TLS session not matched to its socket yet: its pieces wait here (endpoints unknown). */
  unbound: { pieces: { piece: Piece; klass: number }[]; bytes: number } | undefined;
  /** For a TLS session: the socket's connection id, whose close ends it. */
  socketId: number | undefined;
  role: Role | undefined;
  /** The kernel saw connect()/accept(): the whole stream is ours from byte 0. */
  fromStart: boolean;
  local: Endpoint;
  peer: Endpoint;
  pid: number;
  process: string;
  /** Next expected stream position, by direction. */
  next: [number, number];
  exchange: Http1Exchange<RequestContext> | undefined;
  h1sink: StreamSink | undefined;
  h2: Http2Session<RequestContext> | undefined;
  /** Pieces shipped before the kernel's verdict, kept to be parsed once it comes. */
  early: { pieces: Piece[]; bytes: number; dropped: number; syscalls: number } | undefined;
  /** Trace linking state, made with the exchange (the role is known by then). */
  link: LinkState | undefined;
  /** A bound was crossed: its parser has stopped and its bytes are only counted. */
  limited: boolean;
  lastSeen: number;
}

/** Tells whether a local port is listening (see ListeningPorts). */
export interface ListenerLookup {
  /** pid: a process using the port, whose network namespace is the one to ask. */
  has(port: number, pid: number): boolean;
}

/** Names a process (see ProcessNames). */
export interface ProcessLookup {
  nameOf(pid: number, fallback: () => string): string;
}

export interface TrackerOptions {
  maxConnections: number;
  idleTimeoutMs: number;
}

export class ConnectionTracker implements EventSink {
  readonly stats: TrackerStats = {
    connectionsOpened: 0, connectionsClosed: 0, connectionsEvicted: 0, bytesBeforeRole: 0,
    bytesUnclassified: 0, bytesUncaptured: 0, bytesLost: 0, bytesOverlapped: 0, bytesTlsUnbound: 0,
    bytesTlsFiltered: 0, tlsSessionsBound: 0,
    connectionsLimited: Object.fromEntries(LIMITS.map((l) => [l, 0])) as Record<Limit, number>,
    bytesLimited: 0, http1: newHttp1Stats(),
    http2: newHttp2Stats(),
  };
  private readonly conns = new Map<number, Connection>();
  /** Socket connection id -> the TLS session bound to it. */
  private readonly tlsBySocket = new Map<number, number>();
  /** TLS sessions just found to ride on a filtered socket: the kernel ships nothing more of them,
   * so this only catches events already in flight, and each sweep empties it. */
  private readonly tlsFiltered = new Set<number>();
  private now = Date.now();
  /**
   * Told the id of an HTTP/2 connection (or TLS session) once a request on it
   * is known not to be gRPC: the kernel may then ship only its frame heads
   * (the agent sets this to the capture's; replay leaves it a no-op).
   */
  h2Bodies: (connId: number, wanted: boolean) => void = () => {};
  /** Thread of the event being parsed: the parser's callbacks run inside its push. */
  private tid = 0;
  /** Latest kernel timestamp seen. */
  private lastTs = 0n;

  constructor(
    private readonly emit: (tx: HttpTransaction) => void,
    private readonly clock: WallClock,
    private readonly listeners: ListenerLookup,
    private readonly processes: ProcessLookup,
    private readonly opts: TrackerOptions,
    readonly linker: TraceLinker = new TraceLinker(),
  ) {}

  get size(): number {
    return this.conns.size;
  }

  onData(ev: DataEvent): void {
    let c = this.conns.get(ev.connId);
    if (!c) {
      if (ev.tls && this.tlsFiltered.has(ev.connId)) {
        this.stats.bytesTlsFiltered += ev.payload.length;
        return;
      }
      c = this.open(ev);
    } else if (c.pid !== ev.tgid) {
      c.pid = ev.tgid;
      c.process = this.processes.nameOf(ev.tgid, () => commOf(ev));
    }
    c.lastSeen = this.now;
    if (c.unbound) {
      this.holdUnbound(c, ev);
      return;
    }
    this.accept(c, ev, ev.klass, true);
  }

  /** Hands a piece to the connection, or keeps it until the kernel's verdict (copied when `copy`: the batch is reused). */
  private accept(c: Connection, p: Piece, klass: number, copy: boolean): void {
    if (klass === CLASS_UNKNOWN && !c.exchange && !c.h2) {
      this.holdEarly(c, p, copy);
      return;
    }
    if (c.early) {
      // The verdict came: what arrived before it is parsed first, in order.
      const early = c.early;
      c.early = undefined;
      // Kept bytes get parsed; dropped ones become a gap, counted as lost there.
      this.stats.bytesUnclassified -= early.bytes + early.dropped;
      for (const e of early.pieces) this.piece(c, e, klass);
    }
    this.piece(c, p, klass);
  }

  /** TLS plaintext before its session knows its socket: kept (bounded) until the bind event. */
  private holdUnbound(c: Connection, ev: DataEvent): void {
    const u = c.unbound!;
    if (u.bytes + ev.payload.length > UNBOUND_BYTES) {
      this.stats.bytesTlsUnbound += ev.payload.length;
      return;
    }
    u.bytes += ev.payload.length;
    u.pieces.push({ piece: { ...pieceOf(ev), payload: Uint8Array.prototype.slice.call(ev.payload) }, klass: ev.klass });
  }

  onTlsBind(ev: TlsBindEvent): void {
    if (ev.tsNs > this.lastTs) this.lastTs = ev.tsNs;
    let c = this.conns.get(ev.tlsId);
    if (ev.filtered) {
      this.tlsFiltered.add(ev.tlsId);
      if (c) {
        this.conns.delete(ev.tlsId);
        this.stats.bytesTlsFiltered += c.unbound?.bytes ?? 0;
      }
      return;
    }
    this.stats.tlsSessionsBound++;
    this.tlsBySocket.set(ev.connId, ev.tlsId);
    const role = ev.role === ROLE_SERVER ? 'server' : ev.role === ROLE_CLIENT ? 'client' : undefined;
    if (!c) {
      c = this.newConnection(ev.tlsId, true, role, ev.local, ev.peer, ev.tgid, () => ev.comm);
      this.conns.set(ev.tlsId, c);
      this.stats.connectionsOpened++;
    }
    c.socketId = ev.connId;
    c.lastSeen = this.now;
    const held = c.unbound;
    if (!held) return;
    c.unbound = undefined;
    c.local = ev.local;
    c.peer = ev.peer;
    c.role = role;
    c.fromStart = role !== undefined;
    for (const h of held.pieces) this.accept(c, h.piece, h.klass, false);
  }

  /**
   * Keeps a copy of what the kernel shipped before judging the connection
   * (an HTTP/2 server's SETTINGS precede the preface; a running connection
   * is judged on its frames, maybe only at its second syscall), bounded by
   * EARLY_BYTES and by the kernel's number of tries.
   */
  private holdEarly(c: Connection, ev: Piece, copy: boolean): void {
    const early = (c.early ??= { pieces: [], bytes: 0, dropped: 0, syscalls: 0 });
    if (ev.chunkOffset === 0) early.syscalls++;
    // Counted as unparsed until a verdict lets them be parsed (then taken back).
    this.stats.bytesUnclassified += ev.payload.length;
    if (early.syscalls <= EARLY_SYSCALLS && early.bytes + ev.payload.length <= EARLY_BYTES) {
      early.bytes += ev.payload.length;
      early.pieces.push(copy ? { ...pieceOf(ev), payload: Uint8Array.prototype.slice.call(ev.payload) } : ev);
    } else {
      // Past the bound: not kept; if a verdict ever comes they are a gap.
      early.dropped += ev.payload.length;
    }
  }

  /** Places one piece at its exact stream position and hands it to the connection's parser. */
  private piece(c: Connection, ev: Piece, klass: number): void {
    const dir: Side = ev.direction === DIR_EGRESS ? DIR_EGRESS : DIR_INGRESS;
    const len = ev.payload.length;
    const start = ev.streamPos + ev.chunkOffset;
    const lastOfSyscall = ev.chunkOffset + len >= ev.captured;
    const syscallEnd = ev.streamPos + ev.syscallBytes;
    let sink: StreamSink | undefined;
    if (c.limited) {
      this.countLimited(c, dir, lastOfSyscall ? Math.max(syscallEnd, start + len) : start + len);
      return;
    }
    if (klass === CLASS_HTTP2 || c.h2) {
      sink = c.h2 ??= this.newHttp2(c);
    } else {
      if (c.role === undefined) c.role = this.roleOf(ev, c);
      if (c.role !== undefined) sink = this.http1Sink(c);
    }
    if (!sink) {
      const end = lastOfSyscall ? Math.max(syscallEnd, start + len) : start + len;
      if (end > c.next[dir]) {
        this.stats.bytesBeforeRole += end - c.next[dir];
        c.next[dir] = end;
      }
      return;
    }
    const ts = ev.tsNs;
    this.tid = ev.tid;
    if (ts > this.lastTs) this.lastTs = ts;

    let payload = ev.payload;
    let at = start;
    if (at > c.next[dir]) {
      // Skipped on purpose within this syscall (bodies past the cap), or lost.
      if (ev.skippedBefore && c.next[dir] >= ev.streamPos) this.stats.bytesUncaptured += at - c.next[dir];
      else this.stats.bytesLost += at - c.next[dir];
      sink.skip(dir, at - c.next[dir], ts);
    } else if (at < c.next[dir]) {
      const dup = Math.min(c.next[dir] - at, len);
      this.stats.bytesOverlapped += dup;
      payload = payload.subarray(dup);
      at += dup;
    }
    if (payload.length > 0) sink.push(dir, payload, ts, at === ev.streamPos);
    if (c.limited) {
      // This piece crossed the bound: it and everything after it count as limited.
      c.next[dir] = at;
      this.countLimited(c, dir, lastOfSyscall ? Math.max(syscallEnd, at + payload.length) : at + payload.length);
      return;
    }
    c.next[dir] = Math.max(c.next[dir], at + payload.length);
    // The syscall's bytes past what was captured: stepped over by count.
    if (lastOfSyscall && syscallEnd > c.next[dir]) {
      this.stats.bytesUncaptured += syscallEnd - c.next[dir];
      sink.skip(dir, syscallEnd - c.next[dir], ts);
      c.next[dir] = syscallEnd;
    }
  }

  private countLimited(c: Connection, dir: Side, end: number): void {
    if (end > c.next[dir]) {
      this.stats.bytesLimited += end - c.next[dir];
      c.next[dir] = end;
    }
  }

  private limitCrossed(c: Connection, limit: Limit): void {
    c.limited = true;
    this.stats.connectionsLimited[limit]++;
  }

  /** The HTTP/1 exchange as a sink by direction: requests flow toward the server. */
  private http1Sink(c: Connection): StreamSink {
    if (c.h1sink) return c.h1sink;
    const ex = (c.exchange ??= this.newExchange(c));
    const requestDir = c.role === 'server' ? DIR_INGRESS : DIR_EGRESS;
    c.h1sink = {
      push: (dir, data, ts) => (dir === requestDir ? ex.pushRequest(data, ts) : ex.pushResponse(data, ts)),
      skip: (dir, n, ts) => (dir === requestDir ? ex.skipRequest(n, ts) : ex.skipResponse(n, ts)),
    };
    return c.h1sink;
  }

  onClose(ev: CloseEvent): void {
    if (ev.tsNs > this.lastTs) this.lastTs = ev.tsNs;
    // A TLS socket's close ends the session riding on it.
    const tlsId = this.tlsBySocket.get(ev.connId);
    if (tlsId !== undefined) {
      this.tlsBySocket.delete(ev.connId);
      this.closeConnection(tlsId, ev.tsNs);
    }
    this.closeConnection(ev.connId, ev.tsNs);
  }

  private closeConnection(id: number, tsNs: bigint): void {
    const c = this.conns.get(id);
    if (!c) return; // already closed (close() then TCP_CLOSE)
    this.conns.delete(id);
    this.stats.connectionsClosed++;
    if (c.unbound) this.stats.bytesTlsUnbound += c.unbound.bytes;
    c.exchange?.close(tsNs);
    c.h2?.close();
    if (c.link) this.linker.connectionClosed(c.link, tsNs);
  }

  /**
   * Drops connections idle longer than idleTimeoutMs, then the least
   * recently seen beyond maxConnections. Their pending requests are
   * counted as unanswered; nothing is invented for them.
   */
  sweep(now = Date.now()): void {
    this.now = now;
    this.tlsFiltered.clear();
    const cutoff = now - this.opts.idleTimeoutMs;
    for (const [id, c] of this.conns) {
      if (c.lastSeen < cutoff) this.evict(id, c);
    }
    this.linker.sweep(this.lastTs, BigInt(this.opts.idleTimeoutMs) * 1_000_000n);
    const excess = this.conns.size - this.opts.maxConnections;
    if (excess > 0) {
      const oldest = [...this.conns.values()].sort((a, b) => a.lastSeen - b.lastSeen).slice(0, excess);
      for (const c of oldest) this.evict(c.id, c);
    }
  }

  private evict(id: number, c: Connection): void {
    this.conns.delete(id);
    this.stats.connectionsEvicted++;
    if (c.unbound) this.stats.bytesTlsUnbound += c.unbound.bytes;
    if (c.socketId !== undefined) this.tlsBySocket.delete(c.socketId);
    c.exchange?.abandon();
    c.h2?.close();
    if (c.link) this.linker.connectionClosed(c.link, this.lastTs);
  }

  private open(ev: DataEvent): Connection {
    // A TLS session with no socket yet has no endpoints: it waits for its bind event.
    const unbound = ev.tls && !hasTuple(ev);
    const { local, peer } = unbound ? { local: NO_ENDPOINT, peer: NO_ENDPOINT } : endpointsOf(ev);
    const role = ev.role === ROLE_SERVER ? 'server' : ev.role === ROLE_CLIENT ? 'client' : undefined;
    const c = this.newConnection(ev.connId, ev.tls, role, local, peer, ev.tgid, () => commOf(ev));
    if (unbound) c.unbound = { pieces: [], bytes: 0 };
    this.conns.set(ev.connId, c);
    this.stats.connectionsOpened++;
    if (this.conns.size > this.opts.maxConnections) this.sweep();
    return c;
  }

  private newConnection(id: number, tls: boolean, role: Role | undefined, local: Endpoint, peer: Endpoint, pid: number, comm: () => string): Connection {
    return {
      id,
      tls,
      unbound: undefined,
      socketId: undefined,
      role,
      fromStart: role !== undefined,
      local,
      peer,
      pid,
      process: this.processes.nameOf(pid, comm),
      next: [0, 0],
      exchange: undefined,
      h1sink: undefined,
      h2: undefined,
      early: undefined,
      link: undefined,
      limited: false,
      lastSeen: this.now,
    };
  }

  private newHttp2(c: Connection): Http2Session<RequestContext> {
    if (c.exchange) {
      // Bytes parsed as HTTP/1 before the verdict arrived: that parse is void.
      c.exchange.abandon();
      c.exchange = undefined;
      c.h1sink = undefined;
    }
    if (c.role === undefined && this.listeners.has(c.local.port, c.pid)) c.role = 'server';
    const clientSide: Side | undefined = c.role === undefined ? undefined : c.role === 'server' ? DIR_INGRESS : DIR_EGRESS;
    if (c.role !== undefined) this.linkState(c);
    return new Http2Session<RequestContext>(
      (tx) => this.emit(this.fromHttp2(c, tx)),
      this.stats.http2,
      // Complete only if no byte of either direction went elsewhere first: a
      // header block among them would have changed a table unseen.
      {
        clientSide,
        complete: c.fromStart && c.next[0] === 0 && c.next[1] === 0,
        synced: [c.fromStart && c.next[0] === 0, c.fromStart && c.next[1] === 0],
        onGrpcKnown: (grpc) => this.h2Bodies(c.id, grpc),
      },
      (head, startNs) => {
        const link = this.linkState(c);
        return c.role === 'server'
          ? this.linker.serverRequest(link, this.tid, head, startNs)
          : this.linker.clientRequest(link, this.tid, head, startNs);
      },
      (ctx) => ctx && this.linker.finished(ctx),
      (side) => {
        c.role = side === DIR_INGRESS ? 'server' : 'client';
      },
      (limit) => this.limitCrossed(c, limit),
    );
  }

  private linkState(c: Connection): LinkState {
    if (c.link) return c.link;
    const server = c.role === 'server';
    c.link = { key: server ? linkKey(c.peer, c.local) : linkKey(c.local, c.peer), unresolved: [] };
    return c.link;
  }

  /**
   * One object literal with every field in one order: a spread
   * ({...common, ...}) here made each transaction cost ~15 µs more
   * (bench/replay.ts), the result being a slow-shaped object.
   */
  private transaction(c: Connection, ctx: RequestContext, startNs: bigint, endNs: bigint, p: ProtocolFields): HttpTransaction {
    return {
      kind: 'http',
      role: c.role ?? 'server',
      protocol: p.protocol,
      tls: c.tls,
      pid: c.pid,
      process: c.process,
      method: p.method,
      target: p.target,
      host: p.host,
      userAgent: p.userAgent,
      status: p.status,
      startTimeUnixNano: this.clock.toUnixNano(startNs),
      durationNs: Number(endNs - startNs),
      requestBytes: p.requestBytes,
      responseBytes: p.responseBytes,
      local: c.local,
      peer: c.peer,
      truncated: p.truncated,
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      parentSpanId: ctx.parentSpanId,
      traceState: ctx.traceState,
      sampled: ctx.sampled,
      route: undefined,
      rpc: p.rpc,
      unknownFields: p.unknownFields,
      resetCode: p.resetCode,
    };
  }

  private fromHttp2(c: Connection, tx: Http2Transaction<RequestContext>): HttpTransaction {
    const ctx = tx.ctx as RequestContext;
    this.linker.finished(ctx);
    const g = tx.grpc;
    return this.transaction(c, ctx, tx.startNs, tx.endNs, {
      protocol: 'HTTP/2',
      method: tx.method ?? '',
      target: tx.path ?? '',
      host: tx.authority,
      userAgent: tx.userAgent,
      status: tx.status ?? 0,
      requestBytes: tx.requestBodyBytes,
      responseBytes: tx.responseBodyBytes,
      truncated: tx.truncated,
      rpc: g && {
        system: 'grpc',
        service: g.service,
        method: g.method,
        statusCode: g.statusCode,
        requestMessages: g.requestMessages,
        responseMessages: g.responseMessages,
        messagesExact: g.messagesExact,
      },
      unknownFields: tx.unknown,
      resetCode: tx.resetCode,
    });
  }

  /** Role of a connection opened before the agent: by its listening port,
   * else by which side sends the request. */
  private roleOf(ev: Piece, c: Connection): Role | undefined {
    if (this.listeners.has(c.local.port, c.pid)) return 'server';
    if (ev.chunkOffset !== 0 || ev.payload.length === 0) return undefined;
    const egress = ev.direction === DIR_EGRESS;
    if (looksLikeHttp1Request(ev.payload)) return egress ? 'client' : 'server';
    if (looksLikeHttp1Response(ev.payload)) return egress ? 'server' : 'client';
    return undefined;
  }

  private newExchange(c: Connection): Http1Exchange<RequestContext> {
    const server = c.role === 'server';
    const link = this.linkState(c);
    return new Http1Exchange<RequestContext>(
      (tx) => this.emit(this.toTransaction(c, tx)),
      this.stats.http1,
      server
        ? (head, startNs) => this.linker.serverRequest(link, this.tid, head, startNs)
        : (head, startNs) => this.linker.clientRequest(link, this.tid, head, startNs),
      (ctx) => ctx && this.linker.finished(ctx),
      (limit) => this.limitCrossed(c, limit),
    );
  }

  private toTransaction(c: Connection, tx: Http1Transaction<RequestContext>): HttpTransaction {
    const ctx = tx.ctx as RequestContext;
    this.linker.finished(ctx);
    return this.transaction(c, ctx, tx.startNs, tx.endNs, {
      protocol: tx.protocol,
      method: tx.method,
      target: tx.target,
      host: tx.host,
      userAgent: tx.userAgent,
      status: tx.status,
      requestBytes: tx.requestBodyBytes,
      responseBytes: tx.responseBodyBytes,
      truncated: tx.truncated,
      rpc: undefined,
      unknownFields: NO_UNKNOWN,
      resetCode: undefined,
    });
  }
}

const NO_UNKNOWN: readonly never[] = [];

/** What a transaction takes from its protocol's parser (the rest comes from the connection and span context). */
type ProtocolFields = Pick<
  HttpTransaction,
  'protocol' | 'method' | 'target' | 'host' | 'userAgent' | 'status' | 'requestBytes' | 'responseBytes' | 'truncated' | 'rpc' | 'unknownFields' | 'resetCode'
>;
