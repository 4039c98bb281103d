// Transaction assembly and trace linking: the stage after the protocol
// sessions. Per connection it links each request to its trace as it starts
// (on the thread that moved its bytes) and, when the exchange ends, makes the
// transaction every later stage reads: the protocol's fields, the
// connection's endpoints and process, wall-clock time and the span context.
import type { ConnectionView, ExchangeSink } from '../conn/streams';
import type { Exchange } from '../protocols/protocol';
import type { WallClock } from './clock';
import { linkKey, TraceLinker, type LinkState, type RequestContext } from './linker';
import type { HttpTransaction } from './transaction';

export class TransactionAssembler {
  constructor(
    private readonly clock: WallClock,
    readonly linker: TraceLinker,
    private readonly emit: (tx: HttpTransaction) => void,
  ) {}

  /** The sink for one connection's sessions (asked when its first session opens). */
  observe(c: ConnectionView): ExchangeSink<RequestContext> {
    const linker = this.linker;
    let link: LinkState | undefined;
    const linkState = (): LinkState => {
      if (link) return link;
      const server = c.role === 'server';
      link = { key: server ? linkKey(c.peer, c.local) : linkKey(c.local, c.peer), unresolved: [] };
      return link;
    };
    // Made now when the role is known, so the connection's close reaches the linker even with no request.
    if (c.role !== undefined) linkState();
    return {
      requestStarted: (head, startNs) =>
        c.role === 'server' ? linker.serverRequest(linkState(), c.thread, head, startNs) : linker.clientRequest(linkState(), c.thread, head, startNs),
      requestEnded: (ctx) => {
        if (ctx) linker.finished(ctx);
      },
      exchange: (ex) => {
        linker.finished(ex.ctx);
        this.emit(this.transaction(c, ex));
      },
      closed: (ts) => {
        if (link) linker.connectionClosed(link, ts);
      },
    };
  }

  /** Forgets linking state idle past idleNs, by the kernel clock. */
  sweep(nowNs: bigint, idleNs: bigint): void {
    this.linker.sweep(nowNs, idleNs);
  }

  /**
   * One object literal with every field in one order: a spread
   * ({...common, ...}) here made each transaction cost ~15 µs more
   * (bench/replay.ts), the result being a slow-shaped object.
   */
  private transaction(c: ConnectionView, ex: Exchange<RequestContext>): HttpTransaction {
    const ctx = ex.ctx;
    return {
      kind: 'http',
      role: c.role ?? 'server',
      protocol: ex.protocol,
      tls: c.tls,
      pid: c.pid,
      process: c.process,
      method: ex.method,
      target: ex.target,
      host: ex.host,
      userAgent: ex.userAgent,
      status: ex.status,
      startTimeUnixNano: this.clock.toUnixNano(ex.startNs),
      durationNs: Number(ex.endNs - ex.startNs),
      requestBytes: ex.requestBytes,
      responseBytes: ex.responseBytes,
      local: c.local,
      peer: c.peer,
      truncated: ex.truncated,
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      parentSpanId: ctx.parentSpanId,
      traceState: ctx.traceState,
      sampled: ctx.sampled,
      route: undefined,
      rpc: ex.rpc,
      unknownFields: ex.unknownFields,
      resetCode: ex.resetCode,
    };
  }
}
