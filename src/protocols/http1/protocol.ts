// HTTP/1.x behind the protocol interface: one Http1Exchange per connection,
// its request parser fed the direction toward the server.
import { kernelClass } from '../../capture/contract';
import { EGRESS, INGRESS, type Exchange, type Protocol, type ProtocolSession, type Role, type SessionEvents, type Side, type StreamStart } from '../protocol';
import { Http1Exchange, type Http1Transaction } from './exchange';
import { newHttp1Stats, type Http1Stats } from './message';
import { looksLikeHttp1Request, looksLikeHttp1Response } from './sniff';

const NO_UNKNOWN: readonly never[] = [];

function exchangeOf<Ctx>(tx: Http1Transaction<Ctx>): Exchange<Ctx> {
  return {
    ctx: tx.ctx as Ctx,
    startNs: tx.startNs,
    endNs: tx.endNs,
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
  };
}

class Http1Session<Ctx> implements ProtocolSession {
  private readonly ex: Http1Exchange<Ctx>;
  /** Requests flow toward the server. */
  private readonly requestDir: Side;

  constructor(role: Role, events: SessionEvents<Ctx>, stats: Http1Stats) {
    this.requestDir = role === 'server' ? INGRESS : EGRESS;
    this.ex = new Http1Exchange<Ctx>(
      {
        transaction: (tx) => events.exchange(exchangeOf(tx)),
        request: (head, startNs) => events.requestStarted(head, startNs),
        unanswered: (ctx) => events.requestEnded(ctx),
        limit: (limit) => events.limitCrossed(limit),
      },
      stats,
    );
  }

  push(dir: Side, data: Uint8Array, ts: bigint): void {
    if (dir === this.requestDir) this.ex.pushRequest(data, ts);
    else this.ex.pushResponse(data, ts);
  }

  skip(dir: Side, n: number, ts: bigint): void {
    if (dir === this.requestDir) this.ex.skipRequest(n, ts);
    else this.ex.skipResponse(n, ts);
  }

  close(ts: bigint): void {
    this.ex.close(ts);
  }

  abandon(): void {
    this.ex.abandon();
  }
}

export const HTTP1: Protocol<'http1', Http1Stats> = {
  name: 'http1',
  kernelClass: kernelClass('http1'),
  // The kernel may judge a connection HTTP/2 after bytes went to this parser (a prior-knowledge
  // client's first write, an h2c upgrade): HTTP/2 then takes it over.
  final: false,
  needsRole: true,
  sniffRole(first, egress) {
    if (looksLikeHttp1Request(first)) return egress ? 'client' : 'server';
    if (looksLikeHttp1Response(first)) return egress ? 'server' : 'client';
    return undefined;
  },
  newStats: newHttp1Stats,
  open<Ctx>(start: StreamStart, events: SessionEvents<Ctx>, stats: Http1Stats): ProtocolSession {
    if (start.role === undefined) throw new Error('HTTP/1 opened on a connection of unknown role');
    return new Http1Session<Ctx>(start.role, events, stats);
  },
};
