// Gives every request a span context and links spans across processes on
// this node, with no help from the applications:
//
// - Incoming headers: a SERVER span whose request carries traceparent or B3
//   joins that trace as the header's child (tracestate kept).
// - Same thread: a CLIENT call made by the thread that read a server request,
//   while that request is the only one in flight on the thread, is the SERVER
//   span's child. A thread with several requests in flight (an event loop
//   under concurrency) gives no link rather than a wrong one.
// - Both ends: when the client and the server of one connection are both on
//   this node, the SERVER span is the child of the matching CLIENT span,
//   request by request (FIFO on the connection, checked by method and target).
// - A client request that already carries traceparent (an SDK-instrumented
//   app) keeps that trace: the CLIENT span is the header's child.
//
// A server span's trace is settled lazily (when a child needs it or when it
// ends): by then the matching client request has surely been seen, even if
// the kernel reported the server's read before the client's write.
import type { RequestHead } from '../protocols/request-head';

export type { RequestHead } from '../protocols/request-head';

import { ALWAYS_ON, type SpanSampler } from './sampling';
import { extractParent, newSpanId, newTraceId, type RemoteParent } from './tracecontext';

export class RequestContext {
  traceId = '';
  /** '' for a root span. */
  parentSpanId = '';
  traceState = '';
  sampled = true;
  /** Set until the trace is settled (server requests only). */
  pending: { head: RequestHead; link: LinkState } | undefined;
  /** Thread that read a server request (-1: a client request). */
  tid = -1;

  constructor(
    readonly spanId: string,
    readonly startNs: bigint,
  ) {}
}

/** Per-connection link state, kept per connection by the transaction assembler. */
export interface LinkState {
  /** Client 4-tuple then server 4-tuple: the same string on both ends of one connection. */
  readonly key: string;
  /** Server requests whose trace is not settled yet, oldest first. */
  unresolved: RequestContext[];
}

interface Sent {
  method: string;
  target: string;
  ctx: RequestContext;
}

interface Peer {
  sent: Sent[];
  lastNs: bigint;
  closedNs: bigint;
}

export interface LinkerStats {
  /** Client spans made children of the server span their thread was serving. */
  threadLinks: number;
  /** Server spans made children of a client span seen on this node. */
  connectionLinks: number;
  /** Spans that joined a trace named by an incoming (or outgoing SDK) header. */
  headerLinks: number;
  /** Client calls on a thread serving several requests at once: left unlinked. */
  ambiguousThreads: number;
}

const MAX_SENT_PER_CONN = 64;
const MAX_PEERS = 65_536;
const MAX_THREADS = 65_536;
/** Closed connections keep their sent requests this long, for the server side still to match. */
const CLOSED_GRACE_NS = 5_000_000_000n;

function endpointKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function linkKey(client: { address: string; port: number }, server: { address: string; port: number }): string {
  return `${endpointKey(client.address, client.port)}>${endpointKey(server.address, server.port)}`;
}

export class TraceLinker {
  readonly stats: LinkerStats = { threadLinks: 0, connectionLinks: 0, headerLinks: 0, ambiguousThreads: 0 };
  /** Server requests in flight, by the thread that read them. */
  private readonly threads = new Map<number, RequestContext[]>();
  /** Client requests sent, by connection key, waiting for their server side. */
  private readonly peers = new Map<string, Peer>();

  constructor(private readonly sampler: SpanSampler = ALWAYS_ON) {}

  serverRequest(link: LinkState, tid: number, head: RequestHead, startNs: bigint): RequestContext {
    const ctx = new RequestContext(newSpanId(), startNs);
    ctx.pending = { head, link };
    link.unresolved.push(ctx);
    let inFlight = this.threads.get(tid);
    if (!inFlight) {
      if (this.threads.size >= MAX_THREADS) this.threads.delete(this.threads.keys().next().value as number);
      this.threads.set(tid, (inFlight = []));
    }
    // Bounded: a thread with this many unanswered requests is ambiguous anyway.
    if (inFlight.length >= MAX_SENT_PER_CONN) inFlight.shift();
    inFlight.push(ctx);
    ctx.tid = tid;
    return ctx;
  }

  clientRequest(link: LinkState, tid: number, head: RequestHead, startNs: bigint): RequestContext {
    const ctx = new RequestContext(newSpanId(), startNs);
    const remote = extractParent(head.trace);
    const inFlight = this.threads.get(tid);
    let server: RequestContext | undefined;
    if (inFlight && inFlight.length === 1) {
      server = inFlight[0];
      this.settle(server);
    } else if (inFlight && inFlight.length > 1) {
      this.stats.ambiguousThreads++;
    }
    // An outgoing header equal to what the server request brought in was
    // only forwarded: the thread's server span is the closer parent.
    if (remote && !(server && remote.traceId === server.traceId && remote.spanId === server.parentSpanId)) {
      this.fromRemote(ctx, remote, head.method, 'client');
    } else if (server) {
      this.stats.threadLinks++;
      this.fromLocal(ctx, server, head.method, 'client');
    } else {
      this.root(ctx, head.method, 'client');
    }
    this.remember(link.key, { method: head.method, target: head.target, ctx }, startNs);
    return ctx;
  }

  /** The request ended (answered or not): settles its trace, frees its thread. */
  finished(ctx: RequestContext): void {
    if (ctx.pending) this.settle(ctx);
    if (ctx.tid < 0) return;
    const inFlight = this.threads.get(ctx.tid);
    if (!inFlight) return;
    const i = inFlight.indexOf(ctx);
    if (i >= 0) inFlight.splice(i, 1);
    if (inFlight.length === 0) this.threads.delete(ctx.tid);
  }

  connectionClosed(link: LinkState, nowNs: bigint): void {
    for (const ctx of link.unresolved.splice(0)) if (ctx.pending) this.resolve(ctx);
    const peer = this.peers.get(link.key);
    if (peer) peer.closedNs = nowNs;
  }

  /** Forgets sent requests of connections closed a while ago or idle past idleNs. */
  sweep(nowNs: bigint, idleNs: bigint): void {
    for (const [key, p] of this.peers) {
      if ((p.closedNs > 0n && nowNs - p.closedNs > CLOSED_GRACE_NS) || nowNs - p.lastNs > idleNs) this.peers.delete(key);
    }
  }

  get sizes(): { threads: number; peers: number; sent: number } {
    let sent = 0;
    for (const p of this.peers.values()) sent += p.sent.length;
    return { threads: this.threads.size, peers: this.peers.size, sent };
  }

  /** Settles ctx and, first, every older unsettled request of its connection (FIFO). */
  private settle(ctx: RequestContext): void {
    const link = ctx.pending?.link;
    if (!link) return;
    while (link.unresolved.length > 0) {
      const first = link.unresolved.shift() as RequestContext;
      if (first.pending) this.resolve(first);
      if (first === ctx) return;
    }
    if (ctx.pending) this.resolve(ctx);
  }

  private resolve(ctx: RequestContext): void {
    const { head, link } = ctx.pending as { head: RequestHead; link: LinkState };
    ctx.pending = undefined;
    const client = this.takeSent(link.key, head);
    if (client) {
      this.stats.connectionLinks++;
      this.fromLocal(ctx, client, head.method, 'server');
      return;
    }
    const remote = extractParent(head.trace);
    if (remote) this.fromRemote(ctx, remote, head.method, 'server');
    else this.root(ctx, head.method, 'server');
  }

  /** ctx becomes the child of a span sidelight made (same trace, its sampling decision as parent). */
  private fromLocal(ctx: RequestContext, parent: RequestContext, name: string, kind: 'server' | 'client'): void {
    ctx.traceId = parent.traceId;
    ctx.parentSpanId = parent.spanId;
    ctx.traceState = parent.traceState;
    ctx.sampled = this.sampler.sampled(ctx.traceId, { traceId: parent.traceId, spanId: parent.spanId, sampled: parent.sampled, remote: false }, name, kind);
  }

  private fromRemote(ctx: RequestContext, remote: RemoteParent, name: string, kind: 'server' | 'client'): void {
    this.stats.headerLinks++;
    ctx.traceId = remote.traceId;
    ctx.parentSpanId = remote.spanId;
    ctx.traceState = remote.traceState;
    ctx.sampled = this.sampler.sampled(ctx.traceId, { ...remote, remote: true }, name, kind);
  }

  private root(ctx: RequestContext, name: string, kind: 'server' | 'client'): void {
    ctx.traceId = newTraceId();
    ctx.sampled = this.sampler.sampled(ctx.traceId, undefined, name, kind);
  }

  private remember(key: string, sent: Sent, nowNs: bigint): void {
    let peer = this.peers.get(key);
    if (!peer) {
      if (this.peers.size >= MAX_PEERS) this.peers.delete(this.peers.keys().next().value as string);
      this.peers.set(key, (peer = { sent: [], lastNs: nowNs, closedNs: 0n }));
    }
    peer.lastNs = nowNs;
    peer.closedNs = 0n;
    if (peer.sent.length >= MAX_SENT_PER_CONN) peer.sent.shift();
    peer.sent.push(sent);
  }

  /**
   * The client request this server request is. The server may have missed
   * some the client sent (lost events): those are passed over, but only to
   * reach one with the same method and target.
   */
  private takeSent(key: string, head: RequestHead): RequestContext | undefined {
    const peer = this.peers.get(key);
    if (!peer) return undefined;
    const i = peer.sent.findIndex((s) => s.method === head.method && s.target === head.target);
    if (i < 0) return undefined;
    const s = peer.sent[i];
    peer.sent.splice(0, i + 1);
    return s.ctx;
  }
}
