// The start line of an HTTP/1 message (request line, RFC 9112 §3; status
// line, §4), read whole in tight loops when it lies in one push, else byte
// by byte across pushes. It keeps offsets and numbers only: the parser makes
// the strings once the line is complete.
import { HTTP1_PREFIX as PREFIX, Match, matchPattern } from './sniff';
import { Bound, Byte, TCHAR as TCHAR_TABLE } from './tokens';

// Module-local names for what the loops below read: numbers inlined, tables loaded once.
const LF = Byte.LF;
const CR = Byte.CR;
const SP = Byte.SP;
const DEL = Byte.DEL;
const MAX_METHOD_LEN = Bound.MAX_METHOD_LEN;
const YES = Match.YES;
const TCHAR = TCHAR_TABLE;
const HTTP1_PREFIX = PREFIX;

// Start-line scanner phases (requests: RFC 9112 §3, responses: §4).
const RL_METHOD = 0;
const RL_TARGET = 1;
const RL_VERSION = 2;
const RL_MINOR = 3;
const RL_DONE = 4;
const RL_CR = 5;
const SL_VERSION = 6;
const SL_MINOR = 7;
const SL_SP = 8;
const SL_CODE = 9;
const SL_AFTER_CODE = 10;
const SL_REASON = 11;
const SL_CR = 12;

export class StartLine {
  /** Scanner phase (RL_* for requests, SL_* for responses). */
  private phase = 0;
  /** Bytes of the line scanned so far. */
  pos = 0;
  private count = 0;
  /** Request line: offsets from the line's start of the SP after the method and after the target. */
  methodEnd = 0;
  targetEnd = 0;
  /** x of HTTP/1.x. */
  minor = 1;
  /** Status line: the status code. */
  status = 0;

  constructor(private readonly isRequest: boolean) {}

  /** A new message starts. */
  reset(): void {
    this.phase = this.isRequest ? RL_METHOD : SL_VERSION;
    this.pos = 0;
    this.count = 0;
    this.minor = 1;
    this.status = 0;
  }

  /** At the line's LF: whether the line read is a whole valid start line. */
  complete(): boolean {
    const p = this.phase;
    if (this.isRequest) return p === RL_DONE || p === RL_CR;
    return (p === SL_AFTER_CODE || p === SL_REASON || p === SL_CR) && this.status >= 100;
  }

  /**
   * A start line that lies whole in bytes[s..end) and is valid: the index
   * of its LF, with the fields and the phase scanByte would have left.
   * -1 (nothing changed) when it is cut by the push or invalid.
   */
  whole(b: Uint8Array, s: number, end: number): number {
    let i = s;
    if (this.isRequest) {
      // method SP request-target SP HTTP-version [CR] LF
      while (i < end && TCHAR[b[i]] === 1 && i - s < MAX_METHOD_LEN) i++;
      if (i === s || i >= end || b[i] !== SP) return -1;
      const methodEnd = i - s;
      i++;
      const target = i;
      while (i < end && b[i] > SP && b[i] !== DEL) i++;
      if (i === target || i >= end || b[i] !== SP) return -1;
      const targetEnd = i - s;
      i++;
      const minor = this.versionAt(b, i, end);
      if (minor < 0) return -1;
      i += HTTP1_PREFIX.length + 1;
      let phase = RL_DONE;
      if (i < end && b[i] === CR) {
        phase = RL_CR;
        i++;
      }
      if (i >= end || b[i] !== LF) return -1;
      this.methodEnd = methodEnd;
      this.targetEnd = targetEnd;
      this.minor = minor;
      this.phase = phase;
      this.pos = i - s;
      return i;
    }
    // HTTP-version SP 3DIGIT [SP reason-phrase | CR] LF
    const minor = this.versionAt(b, i, end);
    if (minor < 0) return -1;
    i += HTTP1_PREFIX.length + 1;
    if (i + 4 > end || b[i] !== SP) return -1;
    let status = 0;
    for (let k = i + 1; k < i + 4; k++) {
      const d = b[k] - 0x30;
      if (d < 0 || d > 9) return -1;
      status = status * 10 + d;
    }
    i += 4;
    let phase = SL_AFTER_CODE;
    if (i < end && b[i] === SP) {
      phase = SL_REASON;
      i++;
      while (i < end && b[i] !== LF) i++;
    } else if (i < end && b[i] === CR) {
      phase = SL_CR;
      i++;
    }
    if (i >= end || b[i] !== LF) return -1;
    this.minor = minor;
    this.status = status;
    this.phase = phase;
    this.pos = i - s;
    return i;
  }

  /** The minor version of an "HTTP/1.x" at b[i], or -1. */
  private versionAt(b: Uint8Array, i: number, end: number): number {
    const n = HTTP1_PREFIX.length;
    if (i + n >= end || matchPattern(b, i, end, HTTP1_PREFIX) !== YES) return -1;
    const d = b[i + n] - 0x30;
    return d >= 0 && d <= 9 ? d : -1;
  }

  /** One byte of a start line (never LF). false: not a valid start line. */
  scanByte(b: number): boolean {
    const at = this.pos++;
    switch (this.phase) {
      case RL_METHOD:
        // method SP request-target SP HTTP-version (RFC 9112 §3)
        if (b === SP) {
          if (at === 0) return false;
          this.methodEnd = at;
          this.phase = RL_TARGET;
          return true;
        }
        return at < MAX_METHOD_LEN && TCHAR[b] === 1;
      case RL_TARGET:
        if (b === SP) {
          if (at === this.methodEnd + 1) return false;
          this.targetEnd = at;
          this.phase = RL_VERSION;
          this.count = 0;
          return true;
        }
        // No whitespace or controls inside a request-target (§3.2).
        return b > SP && b !== DEL;
      case RL_VERSION:
      case SL_VERSION:
        if (b !== HTTP1_PREFIX[this.count]) return false;
        if (++this.count === HTTP1_PREFIX.length) {
          this.phase = this.phase === RL_VERSION ? RL_MINOR : SL_MINOR;
        }
        return true;
      case RL_MINOR:
      case SL_MINOR:
        if (b < 0x30 || b > 0x39) return false;
        this.minor = b - 0x30;
        this.phase = this.phase === RL_MINOR ? RL_DONE : SL_SP;
        return true;
      case RL_DONE:
        // Only the CR of CRLF may follow the version.
        if (b !== CR) return false;
        this.phase = RL_CR;
        return true;
      case SL_SP:
        // HTTP-version SP status-code (RFC 9112 §4)
        if (b !== SP) return false;
        this.phase = SL_CODE;
        this.count = 0;
        return true;
      case SL_CODE:
        if (b < 0x30 || b > 0x39) return false;
        this.status = this.status * 10 + (b - 0x30);
        if (++this.count === 3) this.phase = SL_AFTER_CODE;
        return true;
      case SL_AFTER_CODE:
        // SP [ reason-phrase ]; a missing reason and even a missing SP are accepted.
        if (b === SP) this.phase = SL_REASON;
        else if (b === CR) this.phase = SL_CR;
        else return false;
        return true;
      case SL_REASON:
        return true;
      default:
        // RL_CR, SL_CR: a bare CR inside the line (§2.2 allows rejecting it).
        return false;
    }
  }
}
