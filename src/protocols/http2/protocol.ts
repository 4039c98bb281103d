// HTTP/2 and gRPC behind the protocol interface: one Http2Session per
// connection, fed both directions; it finds the client side itself when
// the connection's role is not known.
import { kernelClass } from '../../capture/contract';
import { EGRESS, INGRESS, type Exchange, type Protocol, type ProtocolSession, type SessionEvents, type StreamStart } from '../protocol';
import { Http2Session, newHttp2Stats, type Http2Stats, type Http2Transaction } from './session';

function exchangeOf<Ctx>(tx: Http2Transaction<Ctx>): Exchange<Ctx> {
  const g = tx.grpc;
  return {
    ctx: tx.ctx as Ctx,
    startNs: tx.startNs,
    endNs: tx.endNs,
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
  };
}

export const HTTP2: Protocol<'http2', Http2Stats> = {
  name: 'http2',
  kernelClass: kernelClass('http2'),
  final: true,
  needsRole: false,
  // Only the kernel judges HTTP/2 (by the preface, or frame shapes on a running connection).
  sniffRole: () => undefined,
  newStats: newHttp2Stats,
  open<Ctx>(start: StreamStart, events: SessionEvents<Ctx>, stats: Http2Stats): ProtocolSession {
    const fresh: [boolean, boolean] = [start.fromStart && start.placed[0] === 0, start.fromStart && start.placed[1] === 0];
    return new Http2Session<Ctx>(
      {
        transaction: (tx) => events.exchange(exchangeOf(tx)),
        request: (head, startNs) => events.requestStarted(head, startNs),
        unanswered: (ctx) => events.requestEnded(ctx),
        clientSide: (side) => events.roleFound(side === INGRESS ? 'server' : 'client'),
        limit: (limit) => events.limitCrossed(limit),
      },
      stats,
      {
        clientSide: start.role === undefined ? undefined : start.role === 'server' ? INGRESS : EGRESS,
        // Complete only if no byte of either direction went elsewhere first: a
        // header block among them would have changed a table unseen.
        complete: fresh[0] && fresh[1],
        synced: fresh,
        onGrpcKnown: (grpc) => events.bodiesWanted(grpc),
      },
    );
  },
};
