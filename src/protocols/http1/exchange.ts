// Pairs the two directions of one HTTP/1.x connection into transactions.
//
// Responses answer requests in the order the requests were sent, and each
// response goes to the oldest request without a final (non-1xx) response
// (RFC 9112 §9.2, §9.3.2): pairing is a FIFO queue of requests whose head
// has been parsed. The rules below exist so that losing framing on either
// side can cost transactions but never pairs a response with the wrong
// request.
import {
  Http1MessageParser,
  newHttp1Stats,
  type Http1MessageSink,
  type Http1RequestHead,
  type Http1Stats,
} from './message';
import { MAX_PENDING_REQUESTS, type Limit, type LimitHook } from '../limits';

export interface Http1Transaction<C = undefined> {
  /** From the request line; HTTP/1.x with x >= 1 is reported as HTTP/1.1. */
  protocol: 'HTTP/1.1' | 'HTTP/1.0';
  method: string;
  /** Raw request-target, decoded byte for byte (latin1). */
  target: string;
  host: string | undefined;
  userAgent: string | undefined;
  /** Final status (101 included). */
  status: number;
  /** ts of the push that carried the request's first byte. */
  startNs: bigint;
  /** ts of the push/skip that carried the response's last byte. */
  endNs: bigint;
  /** Payload bytes (chunked: sum of chunk sizes), captured or skipped. */
  requestBodyBytes: number;
  responseBodyBytes: number;
  /** Framing was lost inside this exchange: sizes and endNs are lower bounds. */
  truncated: boolean;
  /** What the onRequest hook returned for this request's head. */
  ctx: C | undefined;
}

/** Called when a request head is parsed, before any response to it: its result travels with the transaction. */
export type RequestHook<C> = (head: Http1RequestHead, startNs: bigint) => C;

/** What an exchange reports, synchronously from inside push/skip/close. */
export interface Http1Hooks<C> {
  transaction: (tx: Http1Transaction<C>) => void;
  request?: RequestHook<C>;
  /** A request that will never be answered (dropped, connection gone). */
  unanswered?: (ctx: C | undefined) => void;
  /** A bound was crossed: the exchange has stopped (see src/protocols/limits.ts). */
  limit?: LimitHook;
}

interface Pending<C> {
  /** Value of the request-start counter when this request began. */
  readonly seq: number;
  readonly startNs: bigint;
  readonly head: Http1RequestHead;
  readonly ctx: C | undefined;
  requestBodyBytes: number;
  requestDone: boolean;
  status: number;
  responseBodyBytes: number;
  endNs: bigint;
  responseDone: boolean;
  truncated: boolean;
  /** Emitted or dropped: later events about it are ignored. */
  finished: boolean;
}

/** A final response completes a transaction; 101 does too (then the protocol changes). */
function isFinal(status: number): boolean {
  return status >= 200 || status === 101;
}

export class Http1Exchange<C = undefined> {
  readonly stats: Http1Stats;
  private readonly req: Http1MessageParser;
  private readonly resp: Http1MessageParser;

  /** Requests with a parsed head and no complete final response yet, oldest first. */
  private queue: Pending<C>[] = [];
  /** Request whose body the request parser is reading. */
  private reqCurrent: Pending<C> | undefined;
  private reqStartNs = 0n;
  private reqStarts = 0;

  private respStartNs = 0n;
  /** Request the response being parsed answers (undefined: unmatched or none). */
  private respMatched: Pending<C> | undefined;
  private respFinal = false;
  private lastAnswered: Pending<C> | undefined;
  /** ts of the latest response bytes thrown away while out of sync (-1: none). */
  private respDiscardNs = -1n;
  /** Response cut by a response-side desync, waiting to learn its end. */
  private truncatedOpen: Pending<C> | undefined;

  private isUpgraded = false;
  private closed = false;

  private readonly onTransaction: (tx: Http1Transaction<C>) => void;
  private readonly onRequest: RequestHook<C> | undefined;
  private readonly onUnanswered: ((ctx: C | undefined) => void) | undefined;
  private readonly onLimit: LimitHook | undefined;

  constructor(hooks: Http1Hooks<C>, stats?: Http1Stats) {
    this.onTransaction = hooks.transaction;
    this.onRequest = hooks.request;
    this.onUnanswered = hooks.unanswered;
    this.onLimit = hooks.limit;
    this.stats = stats ?? newHttp1Stats();
    const requestSink: Http1MessageSink = {
      onMessageStart: (ts) => this.requestStart(ts),
      onRequestHead: (head) => this.requestHead(head),
      onStatusLine: () => undefined,
      requestMethod: () => undefined,
      onMessageEnd: (n) => this.requestEnd(n, false),
      onUpgrade: () => undefined,
      onDesync: (n) => this.requestEnd(n, true),
      onDiscard: () => undefined,
      onLimit: (limit) => this.limit(limit),
    };
    const responseSink: Http1MessageSink = {
      onMessageStart: (ts, afterResync) => this.responseStart(ts, afterResync),
      onRequestHead: () => undefined,
      onStatusLine: (status) => this.statusLine(status),
      requestMethod: () => this.respMatched?.head.method,
      onMessageEnd: (n, ts) => this.responseEnd(n, ts),
      onUpgrade: () => this.upgrade(),
      onDesync: (n, ts) => this.responseDesync(n, ts),
      onDiscard: (ts) => this.responseDiscard(ts),
      onLimit: (limit) => this.limit(limit),
    };
    this.req = new Http1MessageParser(true, requestSink, this.stats);
    this.resp = new Http1MessageParser(false, responseSink, this.stats);
  }

  /** True after 101 Switching Protocols or a 2xx to CONNECT; later bytes are ignored. */
  get upgraded(): boolean {
    return this.isUpgraded;
  }

  /** Requests that would be counted as unanswered if the connection ended now. */
  get pendingRequests(): number {
    let n = 0;
    for (const p of this.queue) if (!p.finished) n++;
    return n;
  }

  pushRequest(bytes: Uint8Array, ts: bigint): void {
    if (!this.closed && !this.isUpgraded) this.req.push(bytes, ts);
  }

  skipRequest(n: number, ts: bigint): void {
    if (!this.closed && !this.isUpgraded) this.req.skip(n, ts);
  }

  pushResponse(bytes: Uint8Array, ts: bigint): void {
    if (!this.closed && !this.isUpgraded) this.resp.push(bytes, ts);
  }

  skipResponse(n: number, ts: bigint): void {
    if (!this.closed && !this.isUpgraded) this.resp.skip(n, ts);
  }

  close(_ts: bigint): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.isUpgraded) {
      // Ends a read-until-close response (RFC 9112 §6.3 (8)); a message cut
      // short arrives as a desync and is handled like one.
      this.resp.close();
      this.req.close();
    }
    if (this.truncatedOpen) this.flushTruncated();
    this.abandon();
  }

  /** True once a bound was crossed: nothing more is parsed. */
  get limited(): boolean {
    return this.closed && this.limitHit;
  }

  private limitHit = false;

  /** A bound crossed on either side: stop, and give up what waits (nothing half-seen is reported). */
  private limit(limit: Limit): void {
    if (this.closed) return;
    this.closed = true;
    this.limitHit = true;
    // A response cut earlier by a desync was seen whole up to there: reported as on close.
    if (this.truncatedOpen) this.flushTruncated();
    // The request whose response was being read may be off the queue already: it is unanswered too.
    if (this.respMatched) this.drop(this.respMatched);
    this.respMatched = undefined;
    this.abandon();
    this.onLimit?.(limit);
  }

  /** Gives up on every request still waiting (the connection is gone or evicted): counted as unanswered. */
  abandon(): void {
    for (const p of this.queue) this.drop(p);
    this.queue = [];
    this.reqCurrent = undefined;
  }

  // ---- request direction ----

  private requestStart(ts: bigint): void {
    this.reqStarts++;
    this.reqStartNs = ts;
    // A new request means the client considers the previous response done:
    // the best end we will get for a response whose framing was lost.
    if (this.truncatedOpen) this.flushTruncated();
  }

  private requestHead(head: Http1RequestHead): void {
    if (this.queue.length >= MAX_PENDING_REQUESTS) return this.limit('http1_pending_requests');
    this.stats.requests++;
    const p: Pending<C> = {
      seq: this.reqStarts,
      startNs: this.reqStartNs,
      head,
      ctx: this.onRequest?.(head, this.reqStartNs),
      requestBodyBytes: 0,
      requestDone: false,
      status: 0,
      responseBodyBytes: 0,
      endNs: 0n,
      responseDone: false,
      truncated: false,
      finished: false,
    };
    // Queued at its head, not its end: a 100 Continue (or an early error)
    // can answer it before the body is sent.
    this.queue.push(p);
    this.reqCurrent = p;
  }

  /**
   * The request body is complete, or (lost) framing was lost inside it. A
   * request that lost its body stays queued: the server answers it in turn,
   * before any request hidden by the desync, so FIFO pairing stays right.
   */
  private requestEnd(bodyBytes: number, lost: boolean): void {
    const p = this.reqCurrent;
    this.reqCurrent = undefined;
    if (!p || p.finished) return;
    p.requestBodyBytes = bodyBytes;
    p.requestDone = true;
    if (lost) p.truncated = true;
    this.maybeEmit(p);
  }

  // ---- response direction ----

  private responseStart(ts: bigint, afterResync: boolean): void {
    // A new response found after a desync: the cut one ended before it.
    if (afterResync && this.truncatedOpen) this.flushTruncated();
    this.respStartNs = ts;
    this.respMatched = undefined;
    this.respFinal = false;
  }

  private statusLine(status: number): void {
    this.respFinal = isFinal(status);
    // A request that began no later than some discarded response bytes may
    // have been answered by them; pairing it now could pick up the answer
    // to a later request. Drop it.
    while (this.queue.length > 0 && this.queue[0].startNs <= this.respDiscardNs) {
      this.drop(this.queue.shift() as Pending<C>);
    }
    // A response cannot begin before its request did (both timestamps are
    // of the syscalls that moved the bytes). This also keeps answers to
    // requests hidden by a request-side desync from pairing with the
    // request parsed after the resync.
    const head = this.queue.length > 0 ? this.queue[0] : undefined;
    this.respMatched = head !== undefined && head.startNs <= this.respStartNs ? head : undefined;
    if (!this.respFinal) return; // interim (1xx): the request waits for its final response
    this.stats.responses++;
    if (this.respMatched) this.respMatched.status = status;
    else this.stats.unmatchedResponses++;
  }

  private responseEnd(bodyBytes: number, ts: bigint): void {
    const p = this.respMatched;
    this.respMatched = undefined;
    this.lastAnswered = undefined;
    if (!this.respFinal || !p || p.finished) return;
    this.dequeue(p);
    p.responseBodyBytes = bodyBytes;
    p.endNs = ts;
    p.responseDone = true;
    this.lastAnswered = p;
    this.maybeEmit(p);
  }

  private upgrade(): void {
    this.isUpgraded = true;
    // The request's remaining body, if any, will not be parsed any more.
    const p = this.lastAnswered;
    if (p && !p.finished) {
      p.truncated = true;
      p.requestDone = true;
      this.emit(p);
    }
  }

  private responseDesync(bodyBytes: number, ts: bigint): void {
    const p = this.respMatched;
    this.respMatched = undefined;
    // Without a final status line there is nothing worth reporting; the
    // request is dropped when the next response is paired (or at close).
    if (!p || !this.respFinal || p.finished) return;
    this.dequeue(p);
    p.responseBodyBytes = bodyBytes;
    p.endNs = ts;
    p.responseDone = true;
    p.truncated = true;
    if (this.reqStarts > p.seq) {
      // The next request has already started: its response may be in the
      // bytes being discarded, so they say nothing about this one's end.
      this.finalize(p);
    } else {
      this.truncatedOpen = p;
    }
  }

  private responseDiscard(ts: bigint): void {
    this.respDiscardNs = ts;
    // Until the client moves on, discarded bytes are taken as the cut response's tail.
    if (this.truncatedOpen) this.truncatedOpen.endNs = ts;
  }

  // ---- bookkeeping ----

  private flushTruncated(): void {
    const p = this.truncatedOpen as Pending<C>;
    this.truncatedOpen = undefined;
    this.finalize(p);
  }

  /** Emits a truncated transaction now, even if its request body is unfinished. */
  private finalize(p: Pending<C>): void {
    if (p.finished) return;
    p.requestDone = true;
    this.emit(p);
  }

  private dequeue(p: Pending<C>): void {
    if (this.queue[0] === p) {
      this.queue.shift();
      return;
    }
    const i = this.queue.indexOf(p);
    if (i >= 0) this.queue.splice(i, 1);
  }

  private drop(p: Pending<C>): void {
    if (p.finished) return;
    p.finished = true;
    this.stats.unansweredRequests++;
    this.onUnanswered?.(p.ctx);
  }

  private maybeEmit(p: Pending<C>): void {
    if (!p.finished && p.requestDone && p.responseDone && p !== this.truncatedOpen) this.emit(p);
  }

  private emit(p: Pending<C>): void {
    p.finished = true;
    this.stats.transactions++;
    const h = p.head;
    this.onTransaction({
      protocol: h.version,
      method: h.method,
      target: h.target,
      host: h.host,
      userAgent: h.userAgent,
      status: p.status,
      startNs: p.startNs,
      endNs: p.endNs,
      requestBodyBytes: p.requestBodyBytes,
      responseBodyBytes: p.responseBodyBytes,
      truncated: p.truncated,
      ctx: p.ctx,
    });
  }
}
