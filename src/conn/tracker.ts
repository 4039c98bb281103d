// Connection tracker: one entry per kernel connection id. It gives each
// connection its role, lays every event at its exact place in the byte
// stream (gaps become counted skips), and drives the protocol parser.
import { commOf, endpointsOf } from '../capture/decoder';
import type { CloseEvent, DataEvent, Endpoint, EventSink } from '../capture/events';
import { DIR_EGRESS, DIR_INGRESS, ROLE_CLIENT, ROLE_SERVER } from '../capture/layout';
import {
  Http1Exchange,
  looksLikeHttp1Request,
  looksLikeHttp1Response,
  newHttp1Stats,
  type Http1Stats,
  type Http1Transaction,
} from '../protocols/http1';
import type { WallClock } from '../transactions/clock';
import { linkKey, TraceLinker, type LinkState, type RequestContext } from '../transactions/linker';
import type { HttpTransaction, Role } from '../transactions/transaction';

const CLASS_HTTP2 = 2;

export interface TrackerStats {
  connectionsOpened: number;
  connectionsClosed: number;
  connectionsEvicted: number;
  /** Bytes seen before the connection's role could be told, not parsed. */
  bytesBeforeRole: number;
  /** Bytes of protocols this build does not parse yet (HTTP/2). */
  bytesUnsupported: number;
  /** Bytes past the per-syscall capture cap: stepped over by count, by design. */
  bytesUncaptured: number;
  /** Bytes whose events never arrived (ring buffer full, unreadable buffer): stepped over by count. */
  bytesLost: number;
  /** Captured bytes that repeated bytes already placed in the stream. */
  bytesOverlapped: number;
  http1: Http1Stats;
}

interface Connection {
  id: number;
  role: Role | undefined;
  unsupported: boolean;
  local: Endpoint;
  peer: Endpoint;
  pid: number;
  process: string;
  /** Next expected stream position, by direction. */
  next: [number, number];
  exchange: Http1Exchange<RequestContext> | undefined;
  /** Trace linking state, made with the exchange (the role is known by then). */
  link: LinkState | undefined;
  lastSeen: number;
}

/** Tells whether a local port is listening (see ListeningPorts). */
export interface ListenerLookup {
  has(port: number): boolean;
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
    bytesUnsupported: 0, bytesUncaptured: 0, bytesLost: 0, bytesOverlapped: 0, http1: newHttp1Stats(),
  };
  private readonly conns = new Map<number, Connection>();
  private now = Date.now();
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
      c = this.open(ev);
    } else if (c.pid !== ev.tgid) {
      c.pid = ev.tgid;
      c.process = this.processes.nameOf(ev.tgid, () => commOf(ev));
    }
    c.lastSeen = this.now;
    const dir = ev.direction === DIR_EGRESS ? DIR_EGRESS : DIR_INGRESS;
    const len = ev.payload.length;
    const start = ev.streamPos + ev.chunkOffset;
    const lastOfSyscall = ev.chunkOffset + len >= ev.captured;
    const syscallEnd = ev.streamPos + ev.syscallBytes;

    if (ev.klass === CLASS_HTTP2) c.unsupported = true;
    if (c.role === undefined && !c.unsupported) c.role = this.roleOf(ev, c);
    if (c.role === undefined || c.unsupported) {
      const end = lastOfSyscall ? Math.max(syscallEnd, start + len) : start + len;
      if (end > c.next[dir]) {
        if (c.unsupported) this.stats.bytesUnsupported += end - c.next[dir];
        else this.stats.bytesBeforeRole += end - c.next[dir];
        c.next[dir] = end;
      }
      return;
    }
    const ex = (c.exchange ??= this.newExchange(c));
    const isRequest = (c.role === 'server') === (dir === DIR_INGRESS);
    const ts = ev.tsNs;
    this.tid = ev.tid;
    if (ts > this.lastTs) this.lastTs = ts;

    let payload = ev.payload;
    let at = start;
    if (at > c.next[dir]) {
      this.stats.bytesLost += at - c.next[dir];
      this.skip(ex, isRequest, at - c.next[dir], ts);
    } else if (at < c.next[dir]) {
      const dup = Math.min(c.next[dir] - at, len);
      this.stats.bytesOverlapped += dup;
      payload = payload.subarray(dup);
      at += dup;
    }
    if (payload.length > 0) {
      if (isRequest) ex.pushRequest(payload, ts);
      else ex.pushResponse(payload, ts);
    }
    c.next[dir] = Math.max(c.next[dir], at + payload.length);
    // The syscall's bytes past what was captured: stepped over by count.
    if (lastOfSyscall && syscallEnd > c.next[dir]) {
      this.stats.bytesUncaptured += syscallEnd - c.next[dir];
      this.skip(ex, isRequest, syscallEnd - c.next[dir], ts);
      c.next[dir] = syscallEnd;
    }
  }

  onClose(ev: CloseEvent): void {
    if (ev.tsNs > this.lastTs) this.lastTs = ev.tsNs;
    const c = this.conns.get(ev.connId);
    if (!c) return; // already closed (close() then TCP_CLOSE)
    this.conns.delete(ev.connId);
    this.stats.connectionsClosed++;
    c.exchange?.close(ev.tsNs);
    if (c.link) this.linker.connectionClosed(c.link, ev.tsNs);
  }

  /**
   * Drops connections idle longer than idleTimeoutMs, then the least
   * recently seen beyond maxConnections. Their pending requests are
   * counted as unanswered; nothing is invented for them.
   */
  sweep(now = Date.now()): void {
    this.now = now;
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
    c.exchange?.abandon();
    if (c.link) this.linker.connectionClosed(c.link, this.lastTs);
  }

  private open(ev: DataEvent): Connection {
    const { local, peer } = endpointsOf(ev);
    const c: Connection = {
      id: ev.connId,
      role: ev.role === ROLE_SERVER ? 'server' : ev.role === ROLE_CLIENT ? 'client' : undefined,
      unsupported: false,
      local,
      peer,
      pid: ev.tgid,
      process: this.processes.nameOf(ev.tgid, () => commOf(ev)),
      next: [0, 0],
      exchange: undefined,
      link: undefined,
      lastSeen: this.now,
    };
    this.conns.set(ev.connId, c);
    this.stats.connectionsOpened++;
    if (this.conns.size > this.opts.maxConnections) this.sweep();
    return c;
  }

  /** Role of a connection opened before the agent: by its listening port,
   * else by which side sends the request. */
  private roleOf(ev: DataEvent, c: Connection): Role | undefined {
    if (this.listeners.has(c.local.port)) return 'server';
    if (ev.chunkOffset !== 0 || ev.payload.length === 0) return undefined;
    const egress = ev.direction === DIR_EGRESS;
    if (looksLikeHttp1Request(ev.payload)) return egress ? 'client' : 'server';
    if (looksLikeHttp1Response(ev.payload)) return egress ? 'server' : 'client';
    return undefined;
  }

  private skip(ex: Http1Exchange<RequestContext>, isRequest: boolean, n: number, ts: bigint): void {
    if (isRequest) ex.skipRequest(n, ts);
    else ex.skipResponse(n, ts);
  }

  private newExchange(c: Connection): Http1Exchange<RequestContext> {
    const server = c.role === 'server';
    const link: LinkState = { key: server ? linkKey(c.peer, c.local) : linkKey(c.local, c.peer), unresolved: [] };
    c.link = link;
    return new Http1Exchange<RequestContext>(
      (tx) => this.emit(this.toTransaction(c, tx)),
      this.stats.http1,
      server
        ? (head, startNs) => this.linker.serverRequest(link, this.tid, head, startNs)
        : (head, startNs) => this.linker.clientRequest(link, this.tid, head, startNs),
      (ctx) => ctx && this.linker.finished(ctx),
    );
  }

  private toTransaction(c: Connection, tx: Http1Transaction<RequestContext>): HttpTransaction {
    const ctx = tx.ctx as RequestContext;
    this.linker.finished(ctx);
    return {
      kind: 'http',
      role: c.role ?? 'server',
      protocol: tx.protocol,
      pid: c.pid,
      process: c.process,
      method: tx.method,
      target: tx.target,
      host: tx.host,
      userAgent: tx.userAgent,
      status: tx.status,
      startTimeUnixNano: this.clock.toUnixNano(tx.startNs),
      durationNs: Number(tx.endNs - tx.startNs),
      requestBytes: tx.requestBodyBytes,
      responseBytes: tx.responseBodyBytes,
      local: c.local,
      peer: c.peer,
      truncated: tx.truncated,
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      parentSpanId: ctx.parentSpanId,
      traceState: ctx.traceState,
      sampled: ctx.sampled,
      route: undefined,
    };
  }
}
