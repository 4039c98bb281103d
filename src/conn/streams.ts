// Connection streams: one entry per kernel connection id. It gives each
// connection its role, holds bytes the kernel has not judged yet and TLS
// plaintext whose socket is not known yet, lays every event at its exact
// place in the byte stream (gaps become counted skips), and feeds the
// connection's protocol session (src/protocols/registry.ts).
import { commOf, endpointsOf, hasTuple } from '../capture/decoder';
import type { CloseEvent, DataEvent, Endpoint, EventSink, TlsBindEvent } from '../capture/events';
import { DIR_EGRESS, ROLE_CLIENT, ROLE_SERVER } from '../capture/layout';
import { KERNEL } from '../capture/contract';
import { LIMITS, type Limit } from '../protocols/limits';
import { EGRESS, INGRESS, type Exchange, type Protocol, type ProtocolSession, type Role, type SessionEvents, type Side } from '../protocols/protocol';
import type { RequestHead } from '../protocols/request-head';
import { newProtocolStats, PROTOCOLS, type ProtocolStats } from '../protocols/registry';

/** Unjudged bytes kept per connection, and syscalls (the kernel judges at most 4 before giving up). */
const EARLY_BYTES = 8 * 1024;
const EARLY_SYSCALLS = 4;
/** TLS plaintext kept per session while it waits for its socket (a memory-BIO session binds at its next write). */
const UNBOUND_BYTES = 64 * 1024;
const NO_ENDPOINT: Endpoint = { address: '', port: 0 };

const BY_CLASS = new Map<number, Protocol>(PROTOCOLS.map((p) => [p.kernelClass, p]));
/** Where a connection the kernel could not judge goes once its role is known. */
const FALLBACK: Protocol = PROTOCOLS.find((p) => p.needsRole) ?? PROTOCOLS[0];

/** The fields of a data event that placing it in the stream needs. */
type Piece = Pick<DataEvent, 'tsNs' | 'tid' | 'streamPos' | 'syscallBytes' | 'captured' | 'chunkOffset' | 'skippedBefore' | 'direction' | 'payload'>;

function pieceOf(ev: Piece): Piece {
  return {
    tsNs: ev.tsNs, tid: ev.tid, streamPos: ev.streamPos, syscallBytes: ev.syscallBytes,
    captured: ev.captured, chunkOffset: ev.chunkOffset, skippedBefore: ev.skippedBefore, direction: ev.direction, payload: ev.payload,
  };
}

export interface StreamStats {
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
}

export type ConnectionStats = StreamStats & ProtocolStats;

/** A connection as the stages after this one see it. */
export interface ConnectionView {
  readonly id: number;
  /** A TLS session: the plaintext read at the TLS library; id is the session's. */
  readonly tls: boolean;
  readonly role: Role | undefined;
  readonly local: Endpoint;
  readonly peer: Endpoint;
  readonly pid: number;
  readonly process: string;
  /** Thread of the event whose bytes are being pushed: a request a session reports while it is pushed started on it. */
  readonly thread: number;
}

/** The stage after this one, per connection: where its sessions' requests and exchanges go, and its end. */
export interface ExchangeSink<Ctx> {
  requestStarted(head: RequestHead, startNs: bigint): Ctx;
  requestEnded(ctx: Ctx | undefined): void;
  exchange(ex: Exchange<Ctx>): void;
  /** The connection closed or was dropped, at this kernel time. */
  closed(ts: bigint): void;
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

export interface StreamsOptions<Ctx> {
  maxConnections: number;
  idleTimeoutMs: number;
  listeners: ListenerLookup;
  processes: ProcessLookup;
  /** The next stage, asked once per connection when its first session opens. */
  observe: (conn: ConnectionView) => ExchangeSink<Ctx>;
  /**
   * Told the id of a connection (or TLS session) once its protocol knows
   * whether payload bodies matter (HTTP/2 without gRPC: they do not, so the
   * kernel may ship frame heads only). The agent sets the capture's; replay none.
   */
  bodiesWanted?: (connId: number, wanted: boolean) => void;
}

class Connection<Ctx> implements ConnectionView {
  /** TLS session not matched to its socket yet: its pieces wait here (endpoints unknown). */
  unbound: { pieces: { piece: Piece; klass: number }[]; bytes: number } | undefined = undefined;
  /** For a TLS session: the socket's connection id, whose close ends it. */
  socketId: number | undefined = undefined;
  /** The kernel saw connect()/accept(): the whole stream is ours from byte 0. */
  fromStart: boolean;
  /** Next expected stream position, by direction. */
  readonly next: [number, number] = [0, 0];
  session: ProtocolSession | undefined = undefined;
  protocol: Protocol | undefined = undefined;
  events: SessionEvents<Ctx> | undefined = undefined;
  sink: ExchangeSink<Ctx> | undefined = undefined;
  /** Pieces shipped before the kernel's verdict, kept to be parsed once it comes. */
  early: { pieces: Piece[]; bytes: number; dropped: number; syscalls: number } | undefined = undefined;
  /** A bound was crossed: its session has stopped and its bytes are only counted. */
  limited = false;
  thread = 0;

  constructor(
    readonly id: number,
    readonly tls: boolean,
    public role: Role | undefined,
    public local: Endpoint,
    public peer: Endpoint,
    public pid: number,
    public process: string,
    public lastSeen: number,
  ) {
    this.fromStart = role !== undefined;
  }
}

export class ConnectionStreams<Ctx> implements EventSink {
  readonly stats: ConnectionStats = {
    connectionsOpened: 0, connectionsClosed: 0, connectionsEvicted: 0, bytesBeforeRole: 0,
    bytesUnclassified: 0, bytesUncaptured: 0, bytesLost: 0, bytesOverlapped: 0, bytesTlsUnbound: 0,
    bytesTlsFiltered: 0, tlsSessionsBound: 0,
    connectionsLimited: Object.fromEntries(LIMITS.map((l) => [l, 0])) as Record<Limit, number>,
    bytesLimited: 0,
    ...newProtocolStats(),
  };
  private readonly conns = new Map<number, Connection<Ctx>>();
  /** Socket connection id -> the TLS session bound to it. */
  private readonly tlsBySocket = new Map<number, number>();
  /** TLS sessions just found to ride on a filtered socket: the kernel ships nothing more of them,
   * so this only catches events already in flight, and each sweep empties it. */
  private readonly tlsFiltered = new Set<number>();
  private now = Date.now();
  /** Latest kernel timestamp seen. */
  private lastTs = 0n;

  constructor(private readonly opts: StreamsOptions<Ctx>) {}

  get size(): number {
    return this.conns.size;
  }

  /** The latest kernel timestamp seen (the clock of the later stages' sweeps). */
  get latestTs(): bigint {
    return this.lastTs;
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
      c.process = this.opts.processes.nameOf(ev.tgid, () => commOf(ev));
    }
    c.lastSeen = this.now;
    if (c.unbound) {
      this.holdUnbound(c, ev);
      return;
    }
    this.accept(c, ev, ev.klass, true);
  }

  /** Hands a piece to the connection, or keeps it until the kernel's verdict (copied when `copy`: the batch is reused). */
  private accept(c: Connection<Ctx>, p: Piece, klass: number, copy: boolean): void {
    if (klass === KERNEL.classUnknown && !c.session) {
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
  private holdUnbound(c: Connection<Ctx>, ev: DataEvent): void {
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
      c = new Connection<Ctx>(ev.tlsId, true, role, ev.local, ev.peer, ev.tgid, this.opts.processes.nameOf(ev.tgid, () => ev.comm), this.now);
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
  private holdEarly(c: Connection<Ctx>, ev: Piece, copy: boolean): void {
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

  /**
   * The session for this piece: the open one unless the kernel's class names
   * another protocol and the open one may be taken over; a new connection's
   * protocol by its class, else (not judged) the fallback once a role is known.
   */
  private sessionFor(c: Connection<Ctx>, ev: Piece, klass: number): ProtocolSession | undefined {
    const current = c.protocol;
    // The common case first: the open session's own class, or one that keeps its connection.
    if (current !== undefined && (current.final || klass === current.kernelClass)) return c.session;
    const named = BY_CLASS.get(klass);
    if (current !== undefined && named === undefined) return c.session;
    const p = named ?? FALLBACK;
    if (c.role === undefined && this.opts.listeners.has(c.local.port, c.pid)) c.role = 'server';
    if (p.needsRole && c.role === undefined) {
      c.role = this.sniffRole(ev);
      if (c.role === undefined) return undefined;
    }
    // Bytes parsed by the protocol before the verdict: that parse is void.
    c.session?.abandon();
    c.protocol = p;
    c.session = p.open({ role: c.role, fromStart: c.fromStart, placed: c.next }, this.eventsOf(c), (this.stats as unknown as Record<string, unknown>)[p.name]);
    return c.session;
  }

  /** Role of a connection opened before the agent, by which side sends a protocol's first message. */
  private sniffRole(ev: Piece): Role | undefined {
    if (ev.chunkOffset !== 0 || ev.payload.length === 0) return undefined;
    const egress = ev.direction === DIR_EGRESS;
    for (const p of PROTOCOLS) {
      const role = p.sniffRole(ev.payload, egress);
      if (role !== undefined) return role;
    }
    return undefined;
  }

  private eventsOf(c: Connection<Ctx>): SessionEvents<Ctx> {
    if (c.events) return c.events;
    const sink = (c.sink = this.opts.observe(c));
    c.events = {
      requestStarted: (head, startNs) => sink.requestStarted(head, startNs),
      requestEnded: (ctx) => sink.requestEnded(ctx),
      exchange: (ex) => sink.exchange(ex),
      roleFound: (role) => {
        c.role = role;
      },
      limitCrossed: (limit) => {
        c.limited = true;
        this.stats.connectionsLimited[limit]++;
      },
      bodiesWanted: (wanted) => this.opts.bodiesWanted?.(c.id, wanted),
    };
    return c.events;
  }

  /** Places one piece at its exact stream position and hands it to the connection's session. */
  private piece(c: Connection<Ctx>, ev: Piece, klass: number): void {
    const dir: Side = ev.direction === DIR_EGRESS ? EGRESS : INGRESS;
    const len = ev.payload.length;
    const start = ev.streamPos + ev.chunkOffset;
    const lastOfSyscall = ev.chunkOffset + len >= ev.captured;
    const syscallEnd = ev.streamPos + ev.syscallBytes;
    if (c.limited) {
      this.countLimited(c, dir, lastOfSyscall ? Math.max(syscallEnd, start + len) : start + len);
      return;
    }
    const sink = this.sessionFor(c, ev, klass);
    if (!sink) {
      const end = lastOfSyscall ? Math.max(syscallEnd, start + len) : start + len;
      if (end > c.next[dir]) {
        this.stats.bytesBeforeRole += end - c.next[dir];
        c.next[dir] = end;
      }
      return;
    }
    const ts = ev.tsNs;
    c.thread = ev.tid;
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

  private countLimited(c: Connection<Ctx>, dir: Side, end: number): void {
    if (end > c.next[dir]) {
      this.stats.bytesLimited += end - c.next[dir];
      c.next[dir] = end;
    }
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
    c.session?.close(tsNs);
    c.sink?.closed(tsNs);
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
    const excess = this.conns.size - this.opts.maxConnections;
    if (excess > 0) {
      const oldest = [...this.conns.values()].sort((a, b) => a.lastSeen - b.lastSeen).slice(0, excess);
      for (const c of oldest) this.evict(c.id, c);
    }
  }

  private evict(id: number, c: Connection<Ctx>): void {
    this.conns.delete(id);
    this.stats.connectionsEvicted++;
    if (c.unbound) this.stats.bytesTlsUnbound += c.unbound.bytes;
    if (c.socketId !== undefined) this.tlsBySocket.delete(c.socketId);
    c.session?.abandon();
    c.sink?.closed(this.lastTs);
  }

  private open(ev: DataEvent): Connection<Ctx> {
    // A TLS session with no socket yet has no endpoints: it waits for its bind event.
    const unbound = ev.tls && !hasTuple(ev);
    const { local, peer } = unbound ? { local: NO_ENDPOINT, peer: NO_ENDPOINT } : endpointsOf(ev);
    const role = ev.role === ROLE_SERVER ? 'server' : ev.role === ROLE_CLIENT ? 'client' : undefined;
    const c = new Connection<Ctx>(ev.connId, ev.tls, role, local, peer, ev.tgid, this.opts.processes.nameOf(ev.tgid, () => commOf(ev)), this.now);
    if (unbound) c.unbound = { pieces: [], bytes: 0 };
    this.conns.set(ev.connId, c);
    this.stats.connectionsOpened++;
    if (this.conns.size > this.opts.maxConnections) this.sweep();
    return c;
  }
}
