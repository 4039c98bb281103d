// Incremental HTTP/1.x framing for ONE direction of a connection: a stream
// of requests (client -> server) or of responses (server -> client).
//
// Input is push(bytes, ts) for captured bytes and skip(n, ts) for bytes the
// kernel moved but did not capture. The parser finds message boundaries
// (RFC 9112 §6.3) and reports them to a sink; it never keeps body bytes,
// only counts them. Header lines that straddle pushes are copied, because
// the caller reuses its buffers.
//
// When framing is lost (invalid bytes, or a skip over bytes that framing
// needs) the direction goes out of sync and only resynchronises at the
// start of a later push that looks like a message start.

import { latin1 } from '../bytes';
import { MAX_CHUNK_LINE_BYTES, MAX_HEAD_BYTES, type Limit } from '../limits';
import type { RequestHead } from '../request-head';
import { HeadFields } from './fields';
import { StartLine } from './start-line';
import { Match, matchRequestStart, matchResponseStart, methodName, Probe } from './sniff';
import { Byte, HEX as HEX_TABLE } from './tokens';

export { looksLikeHttp1Request, looksLikeHttp1Response } from './sniff';
export type { TraceHeaders } from '../request-head';

// Module-local names for what the loops below read: numbers inlined, tables loaded once.
const LF = Byte.LF;
const CR = Byte.CR;
const SP = Byte.SP;
const HTAB = Byte.HTAB;
const SEMI = Byte.SEMI;
const YES = Match.YES;
const MAYBE = Match.MAYBE;
const PROBE_MAX = Probe.MAX;
const HEX = HEX_TABLE;

export { MAX_HEAD_BYTES };

export type Http1Version = 'HTTP/1.0' | 'HTTP/1.1';

/** Self-metrics shared by all parsers of an agent; every field only grows. */
export interface Http1Stats {
  requests: number;
  responses: number;
  transactions: number;
  parseErrors: number;
  discardedBytes: number;
  unmatchedResponses: number;
  unansweredRequests: number;
}

export function newHttp1Stats(): Http1Stats {
  return {
    requests: 0,
    responses: 0,
    transactions: 0,
    parseErrors: 0,
    discardedBytes: 0,
    unmatchedResponses: 0,
    unansweredRequests: 0,
  };
}

export interface Http1RequestHead extends RequestHead {
  readonly version: Http1Version;
  readonly host: string | undefined;
  readonly userAgent: string | undefined;
}

/** What a parser reports. Calls are synchronous, from inside push/skip/close. */
export interface Http1MessageSink {
  /** First byte of a message; afterResync when the direction was out of sync until now. */
  onMessageStart(ts: bigint, afterResync: boolean): void;
  /** Request parsers: start line and headers complete, framing valid. */
  onRequestHead(head: Http1RequestHead, ts: bigint): void;
  /** Response parsers: status line parsed (headers still to come). */
  onStatusLine(status: number, ts: bigint): void;
  /**
   * Response parsers: method of the request the current response answers,
   * needed for framing (RFC 9112 §6.3: HEAD, CONNECT). undefined if unknown.
   */
  requestMethod(): string | undefined;
  /** Last byte of the message; bodyBytes is payload only (chunked: sum of chunk sizes). */
  onMessageEnd(bodyBytes: number, ts: bigint): void;
  /** After onMessageEnd of a 101, or of a 2xx answering CONNECT: no more HTTP/1 here. */
  onUpgrade(ts: bigint): void;
  /**
   * Framing lost inside or between messages (also: connection closed in
   * the middle of a message). bodyBytes counted so far for the current one.
   */
  onDesync(bodyBytes: number, ts: bigint): void;
  /** Bytes were thrown away while out of sync; ts of the call that brought them. */
  onDiscard(ts: bigint): void;
  /** A bound of src/protocols/limits.ts was crossed: the parser has stopped for good. */
  onLimit(limit: Limit): void;
}




// Parser states. START_LINE..TRAILERS are "inside a message".
const S_SEEK = 0; // out of sync: waiting for a push that starts a message
const S_PROBE = 1; // a push began with a prefix of a message start: need more bytes
const S_IDLE = 2; // in sync, between messages
const S_START_LINE = 3;
const S_HEADERS = 4;
const S_BODY_LENGTH = 5;
const S_CHUNK_SIZE = 6;
const S_CHUNK_EXT = 7;
const S_CHUNK_SIZE_LF = 8;
const S_CHUNK_DATA = 9;
const S_CHUNK_DATA_END = 10;
const S_CHUNK_DATA_LF = 11;
const S_TRAILERS = 12;
const S_UNTIL_CLOSE = 13;
const S_UPGRADED = 14;
const S_CLOSED = 15;
const S_LIMITED = 16; // a bound was crossed: nothing more is parsed

const EMPTY = new Uint8Array(0);

export class Http1MessageParser {
  private state = S_SEEK;
  /** A parse error was already counted for the current out-of-sync episode. */
  private counted = false;
  private resynced = false;
  private lastTs = 0n;

  private readonly probe = new Uint8Array(PROBE_MAX);
  private probeLen = 0;
  private probeTs = 0n;

  /** Copy of a head line that spans pushes. */
  private line: Uint8Array = EMPTY;
  private lineLen = 0;

  // Current message head.
  private headBytes = 0;
  private method = '';
  private target = '';
  private readonly fields: HeadFields;
  private readonly sl: StartLine;

  // Current body.
  private bodyBytes = 0;
  /** Bytes left in a Content-Length body or chunk; the size being read on a chunk-size line. */
  private remaining = 0;
  private chunkDigits = 0;
  /** Bytes of the current chunk-size line, data CRLF or trailer section: framing lost with them on error. */
  private unitBytes = 0;
  private trailerLineLen = 0;
  private trailerLastCR = false;

  constructor(
    private readonly isRequest: boolean,
    private readonly sink: Http1MessageSink,
    private readonly stats: Pick<Http1Stats, 'parseErrors' | 'discardedBytes'>,
  ) {
    this.fields = new HeadFields(isRequest);
    this.sl = new StartLine(isRequest);
  }

  /** After a 101 or a 2xx to CONNECT: the rest of the stream is not HTTP/1. */
  get upgraded(): boolean {
    return this.state === S_UPGRADED;
  }

  push(bytes: Uint8Array, ts: bigint): void {
    const end = bytes.length;
    if (end === 0 || this.state >= S_UPGRADED) return;
    this.lastTs = ts;
    let pos = 0;
    if (this.state === S_SEEK || this.state === S_PROBE) {
      pos = this.seek(bytes, ts);
    }
    this.run(bytes, pos, end, ts);
  }

  skip(n: number, ts: bigint): void {
    if (!(n > 0) || this.state >= S_UPGRADED) return;
    this.lastTs = ts;
    switch (this.state) {
      case S_UNTIL_CLOSE:
        // Read-until-close needs no framing: unseen bytes are still body.
        this.bodyBytes += n;
        return;
      case S_SEEK:
        this.discard(n, ts);
        return;
      case S_PROBE:
        this.discard(this.probeLen, this.probeTs);
        this.probeLen = 0;
        this.state = S_SEEK;
        this.discard(n, ts);
        return;
      case S_BODY_LENGTH: {
        // A large body beyond the capture limit: consumed by count.
        const take = n < this.remaining ? n : this.remaining;
        this.bodyBytes += take;
        this.remaining -= take;
        n -= take;
        if (this.remaining === 0) this.finish(ts);
        if (n === 0) return;
        break;
      }
      case S_CHUNK_DATA: {
        const take = n < this.remaining ? n : this.remaining;
        this.bodyBytes += take;
        this.remaining -= take;
        n -= take;
        if (this.remaining === 0) this.enterChunkDataEnd();
        if (n === 0) return;
        break;
      }
    }
    // Right after a chunk's data (now, or at an earlier push or skip).
    if (this.state === S_CHUNK_DATA_END || this.state === S_CHUNK_DATA_LF) {
      n = this.skipChunkEnd(n);
      if (n === 0) return;
    }
    // The unseen bytes include framing (a start line, headers, a chunk-size
    // line, a data CRLF, trailers, or the next message): boundaries are lost.
    let unit = 0;
    if (this.state === S_START_LINE || this.state === S_HEADERS) unit = this.headBytes;
    else if (this.state >= S_CHUNK_SIZE && this.state <= S_TRAILERS) unit = this.unitBytes;
    this.loseSync(unit + n, ts, 0);
  }

  /** The connection closed: ends a read-until-close body; a message cut short is reported as desync. */
  close(): void {
    const st = this.state;
    this.state = S_CLOSED;
    if (st === S_UNTIL_CLOSE) {
      // RFC 9112 §6.3 (8): the body ends when the connection closes.
      this.sink.onMessageEnd(this.bodyBytes, this.lastTs);
    } else if (st >= S_START_LINE && st <= S_TRAILERS) {
      this.sink.onDesync(this.bodyBytes, this.lastTs);
    } else if (st === S_PROBE) {
      this.discard(this.probeLen, this.probeTs);
      this.probeLen = 0;
    }
  }

  /** Out of sync at the start of a push: returns where in-sync parsing starts (end if none). */
  private seek(bytes: Uint8Array, ts: bigint): number {
    const end = bytes.length;
    if (this.state === S_PROBE) {
      // Tentatively extend the held prefix with this push's first bytes.
      const len = this.probeLen;
      const n = Math.min(PROBE_MAX - len, end);
      this.probe.set(bytes.subarray(0, n), len);
      const m = this.matchStart(this.probe, 0, len + n);
      if (m === MAYBE) {
        this.probeLen = len + n;
        return end;
      }
      this.probeLen = 0;
      if (m === YES) {
        // The message began in the held bytes, with their timestamp.
        this.state = S_IDLE;
        this.resynced = true;
        this.run(this.probe, 0, len, this.probeTs);
        return 0;
      }
      this.state = S_SEEK;
      this.discard(len, this.probeTs);
      // This push may still start a message on its own.
    }
    const m = this.matchStart(bytes, 0, Math.min(end, PROBE_MAX));
    if (m === YES) {
      this.state = S_IDLE;
      this.resynced = true;
      return 0;
    }
    if (m === MAYBE) {
      this.probe.set(bytes.subarray(0, end), 0);
      this.probeLen = end;
      this.probeTs = ts;
      this.state = S_PROBE;
      return end;
    }
    this.discard(end, ts);
    return end;
  }

  private matchStart(b: Uint8Array, s: number, e: number): number {
    return this.isRequest ? matchRequestStart(b, s, e) : matchResponseStart(b, s, e);
  }

  private run(bytes: Uint8Array, pos: number, end: number, ts: bigint): void {
    while (pos < end) {
      switch (this.state) {
        case S_IDLE:
          pos = this.idle(bytes, pos, end, ts);
          break;
        case S_START_LINE:
          pos = this.startLine(bytes, pos, end, ts);
          break;
        case S_HEADERS:
          pos = this.headers(bytes, pos, end, ts);
          break;
        case S_BODY_LENGTH: {
          const avail = end - pos;
          const take = avail < this.remaining ? avail : this.remaining;
          pos += take;
          this.bodyBytes += take;
          this.remaining -= take;
          if (this.remaining === 0) this.finish(ts);
          break;
        }
        case S_CHUNK_SIZE:
          pos = this.chunkSize(bytes, pos, end, ts);
          break;
        case S_CHUNK_EXT:
          pos = this.chunkExt(bytes, pos, end);
          break;
        case S_CHUNK_SIZE_LF:
          if (bytes[pos] !== LF) return void this.loseSync(this.unitBytes + end - pos, ts, end);
          this.unitBytes++;
          pos = this.chunkLineDone(pos + 1);
          break;
        case S_CHUNK_DATA: {
          const avail = end - pos;
          const take = avail < this.remaining ? avail : this.remaining;
          pos += take;
          this.bodyBytes += take;
          this.remaining -= take;
          if (this.remaining === 0) this.enterChunkDataEnd();
          break;
        }
        case S_CHUNK_DATA_END: {
          // RFC 9112 §7.1: chunk-data is followed by CRLF (bare LF tolerated).
          const b = bytes[pos];
          if (b === CR) {
            this.unitBytes++;
            this.state = S_CHUNK_DATA_LF;
          } else if (b === LF) {
            this.enterChunkSize();
          } else {
            return void this.loseSync(this.unitBytes + end - pos, ts, end);
          }
          pos++;
          break;
        }
        case S_CHUNK_DATA_LF:
          if (bytes[pos] !== LF) return void this.loseSync(this.unitBytes + end - pos, ts, end);
          this.enterChunkSize();
          pos++;
          break;
        case S_TRAILERS:
          pos = this.trailers(bytes, pos, end, ts);
          break;
        case S_UNTIL_CLOSE:
          this.bodyBytes += end - pos;
          pos = end;
          break;
        default:
          // Out of sync (the rest of this push was counted as discarded),
          // upgraded or closed: nothing more to parse here.
          return;
      }
    }
  }

  private idle(bytes: Uint8Array, pos: number, end: number, ts: bigint): number {
    // RFC 9112 §2.2: ignore empty lines before a request-line (some clients
    // send a stray CRLF after a body); tolerated before a status line too.
    while (pos < end && (bytes[pos] === CR || bytes[pos] === LF)) pos++;
    if (pos === end) return end;
    this.headBytes = 0;
    this.sl.reset();
    this.fields.reset();
    this.lineLen = 0;
    this.bodyBytes = 0;
    this.state = S_START_LINE;
    const resynced = this.resynced;
    this.resynced = false;
    this.sink.onMessageStart(ts, resynced);
    return pos;
  }

  private startLine(bytes: Uint8Array, pos: number, end: number, ts: bigint): number {
    const from = pos;
    let i = pos;
    // The common case, a whole valid line in this push, is read in tight
    // loops; anything else (a line cut by the push, or invalid) goes byte by
    // byte below, which rejects garbage where it starts, not at a line end
    // that may never come.
    const sl = this.sl;
    const lf = sl.pos === 0 ? sl.whole(bytes, pos, end) : -1;
    if (lf >= 0) {
      i = lf;
    } else {
      for (; i < end; i++) {
        const b = bytes[i];
        if (b === LF) break;
        if (!sl.scanByte(b)) return this.loseSync(this.headBytes + end - from, ts, end);
      }
    }
    if (i === end) {
      this.headBytes += end - from;
      if (this.headBytes > MAX_HEAD_BYTES) return this.exceed('http1_head', end);
      if (this.isRequest) this.appendLine(bytes, from, end);
      return end;
    }
    this.headBytes += i + 1 - from;
    const rest = end - i - 1;
    if (this.headBytes > MAX_HEAD_BYTES) return this.exceed('http1_head', end);
    if (!sl.complete()) return this.loseSync(this.headBytes + rest, ts, end);
    if (this.isRequest) {
      let buf = bytes;
      let base = from;
      if (this.lineLen > 0) {
        this.appendLine(bytes, from, i);
        buf = this.line;
        base = 0;
        this.lineLen = 0;
      }
      this.method = methodName(buf, base, base + sl.methodEnd);
      this.target = latin1(buf, base + sl.methodEnd + 1, base + sl.targetEnd);
    } else {
      this.sink.onStatusLine(sl.status, ts);
    }
    this.state = S_HEADERS;
    return i + 1;
  }

  private headers(bytes: Uint8Array, pos: number, end: number, ts: bigint): number {
    while (pos < end) {
      const lf = bytes.indexOf(LF, pos);
      if (lf < 0 || lf >= end) {
        this.headBytes += end - pos;
        if (this.headBytes > MAX_HEAD_BYTES) return this.exceed('http1_head', end);
        this.appendLine(bytes, pos, end);
        return end;
      }
      this.headBytes += lf + 1 - pos;
      if (this.headBytes > MAX_HEAD_BYTES) return this.exceed('http1_head', end);
      let buf = bytes;
      let s = pos;
      let e = lf;
      if (this.lineLen > 0) {
        this.appendLine(bytes, pos, lf);
        buf = this.line;
        s = 0;
        e = this.lineLen;
        this.lineLen = 0;
      }
      if (e > s && buf[e - 1] === CR) e--;
      pos = lf + 1;
      if (e === s) return this.endOfHead(pos, end, ts);
      if (!this.fields.line(buf, s, e)) return this.loseSync(this.headBytes + end - pos, ts, end);
    }
    return pos;
  }

  /** Blank line seen: decide the body length (RFC 9112 §6.3). */
  private endOfHead(pos: number, end: number, ts: bigint): number {
    const failed = (): number => this.loseSync(this.headBytes + end - pos, ts, end);
    const f = this.fields;
    if (this.isRequest) {
      let length = 0;
      let chunked = false;
      if (f.teSeen) {
        // §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty
        // framing; §6.3 (4): a request whose final coding is not chunked
        // has no determinable length.
        if (this.sl.minor === 0 || !f.teChunked) return failed();
        chunked = true; // §6.3 (3): overrides any Content-Length
      } else if (f.contentLengthInvalid) {
        return failed();
      } else if (f.contentLength > 0) {
        length = f.contentLength;
      }
      // §6.3 (7): otherwise a request has no body.
      this.sink.onRequestHead(
        {
          version: this.sl.minor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
          method: this.method,
          target: this.target,
          host: f.host,
          userAgent: f.userAgent,
          trace: f.trace,
        },
        ts,
      );
      if (chunked) this.enterChunkSize();
      else if (length > 0) this.enterLength(length);
      else this.finish(ts);
      return pos;
    }

    const status = this.sl.status;
    const method = this.sink.requestMethod();
    if (status === 101) {
      // RFC 9110 §7.8, §15.2.2: the protocol switches right after this response's blank line.
      this.finish(ts);
      this.upgrade(ts);
      return end;
    }
    // §6.3 (1): no body for 1xx, 204, 304 or any answer to HEAD, whatever the headers say.
    if (status < 200 || status === 204 || status === 304 || method === 'HEAD') {
      this.finish(ts);
      return pos;
    }
    // §6.3 (2): a 2xx to CONNECT turns the connection into a tunnel.
    if (method === 'CONNECT' && status < 300) {
      this.finish(ts);
      this.upgrade(ts);
      return end;
    }
    if (f.teSeen) {
      // §6.3 (4): chunked last, else read until close; §6.1: HTTP/1.0 with
      // Transfer-Encoding is faulty framing, so also until close.
      if (f.teChunked && this.sl.minor !== 0) this.enterChunkSize();
      else this.state = S_UNTIL_CLOSE;
      return pos;
    }
    if (f.contentLengthInvalid) return failed(); // §6.3 (5)
    if (f.contentLength > 0) this.enterLength(f.contentLength);
    else if (f.contentLength === 0) this.finish(ts);
    else this.state = S_UNTIL_CLOSE; // §6.3 (8)
    return pos;
  }

  private enterLength(n: number): void {
    this.remaining = n;
    this.state = S_BODY_LENGTH;
  }

  private enterChunkSize(): void {
    this.remaining = 0;
    this.chunkDigits = 0;
    this.unitBytes = 0;
    this.state = S_CHUNK_SIZE;
  }

  /**
   * Unseen bytes right after a chunk's data: its closing CRLF is where the
   * chunk size said (RFC 9112 §7.1), so it is stepped over by count and
   * framing holds (a sender's bare LF would be misread here, then caught at
   * the next chunk-size line). Returns what is left of n.
   */
  private skipChunkEnd(n: number): number {
    if (this.state === S_CHUNK_DATA_END && n === 1) {
      this.unitBytes++;
      this.state = S_CHUNK_DATA_LF;
      return 0;
    }
    const crlf = this.state === S_CHUNK_DATA_END ? 2 : 1;
    this.enterChunkSize();
    return n - crlf;
  }

  private enterChunkDataEnd(): void {
    this.unitBytes = 0;
    this.state = S_CHUNK_DATA_END;
  }

  /** chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1). */
  private chunkSize(bytes: Uint8Array, pos: number, end: number, ts: bigint): number {
    while (pos < end) {
      const b = bytes[pos];
      const h = HEX[b];
      if (h >= 0) {
        if (this.remaining > (Number.MAX_SAFE_INTEGER - h) / 16) return this.exceed('http1_chunk_size', end);
        this.remaining = this.remaining * 16 + h;
        this.chunkDigits++;
        this.unitBytes++;
        pos++;
        continue;
      }
      if (this.chunkDigits === 0) return this.loseSync(this.unitBytes + end - pos, ts, end);
      if (b === SEMI || b === SP || b === HTAB) {
        // BWS ";" chunk-ext: its content does not affect framing.
        this.state = S_CHUNK_EXT;
        return pos;
      }
      if (b === CR) {
        this.unitBytes++;
        this.state = S_CHUNK_SIZE_LF;
        return pos + 1;
      }
      if (b === LF) {
        this.unitBytes++;
        return this.chunkLineDone(pos + 1);
      }
      return this.loseSync(this.unitBytes + end - pos, ts, end);
    }
    return pos;
  }

  private chunkExt(bytes: Uint8Array, pos: number, end: number): number {
    const lf = bytes.indexOf(LF, pos);
    if (lf < 0 || lf >= end) {
      this.unitBytes += end - pos;
      if (this.unitBytes > MAX_CHUNK_LINE_BYTES) return this.exceed('http1_chunk_line', end);
      return end;
    }
    this.unitBytes += lf + 1 - pos;
    if (this.unitBytes > MAX_CHUNK_LINE_BYTES) return this.exceed('http1_chunk_line', end);
    return this.chunkLineDone(lf + 1);
  }

  private chunkLineDone(pos: number): number {
    if (this.remaining === 0) {
      // last-chunk: trailer-section CRLF follows (§7.1.2).
      this.unitBytes = 0;
      this.trailerLineLen = 0;
      this.trailerLastCR = false;
      this.state = S_TRAILERS;
    } else {
      this.state = S_CHUNK_DATA;
    }
    return pos;
  }

  /** Trailer field lines up to an empty line; skipped, only their size is bounded. */
  private trailers(bytes: Uint8Array, pos: number, end: number, ts: bigint): number {
    while (pos < end) {
      const lf = bytes.indexOf(LF, pos);
      if (lf < 0 || lf >= end) {
        const n = end - pos;
        this.unitBytes += n;
        this.trailerLineLen += n;
        this.trailerLastCR = bytes[end - 1] === CR;
        if (this.unitBytes > MAX_CHUNK_LINE_BYTES) return this.exceed('http1_chunk_line', end);
        return end;
      }
      const n = lf - pos;
      this.unitBytes += n + 1;
      if (this.unitBytes > MAX_CHUNK_LINE_BYTES) return this.exceed('http1_chunk_line', end);
      const len = this.trailerLineLen + n;
      const lastCR = n > 0 ? bytes[lf - 1] === CR : this.trailerLastCR;
      this.trailerLineLen = 0;
      this.trailerLastCR = false;
      pos = lf + 1;
      if (len === 0 || (len === 1 && lastCR)) {
        this.finish(ts);
        return pos;
      }
    }
    return pos;
  }

  private finish(ts: bigint): void {
    this.state = S_IDLE;
    this.sink.onMessageEnd(this.bodyBytes, ts);
  }

  private upgrade(ts: bigint): void {
    this.state = S_UPGRADED;
    this.sink.onUpgrade(ts);
  }

  /** A bound crossed: the parser stops for good (the connection's owner counts its bytes from here). Returns end. */
  private exceed(limit: Limit, end: number): number {
    this.state = S_LIMITED;
    this.lineLen = 0;
    this.line = EMPTY;
    this.sink.onLimit(limit);
    return end;
  }

  /** Framing lost: `discarded` bytes (the failed unit and the rest of the push) are thrown away. Returns end. */
  private loseSync(discarded: number, ts: bigint, end: number): number {
    this.state = S_SEEK;
    this.lineLen = 0;
    this.counted = false;
    this.sink.onDesync(this.bodyBytes, ts);
    this.discard(discarded, ts);
    return end;
  }

  private discard(n: number, ts: bigint): void {
    if (!this.counted) {
      this.stats.parseErrors++;
      this.counted = true;
    }
    this.stats.discardedBytes += n;
    this.sink.onDiscard(ts);
  }

  private appendLine(bytes: Uint8Array, s: number, e: number): void {
    const n = e - s;
    if (n <= 0) return;
    const need = this.lineLen + n;
    if (need > this.line.length) {
      const grown = new Uint8Array(Math.max(256, need * 2));
      grown.set(this.line.subarray(0, this.lineLen));
      this.line = grown;
    }
    this.line.set(bytes.subarray(s, e), this.lineLen);
    this.lineLen = need;
  }
}
