// The header fields of one HTTP/1 message that matter: those that frame
// its body (Content-Length, Transfer-Encoding, RFC 9112 §6), those a
// transaction reports (Host, User-Agent) and the trace context. Field lines
// arrive whole (the parser joins lines split across pushes).
import { latin1 } from '../bytes';
import { addTraceField, type TraceField, type TraceHeaders } from '../request-head';
import { ascii, Byte, eqLower, TCHAR as TCHAR_TABLE } from './tokens';

// Module-local names for what the loops below read: numbers inlined, the table loaded once.
const COLON = Byte.COLON;
const COMMA = Byte.COMMA;
const SP = Byte.SP;
const HTAB = Byte.HTAB;
const TCHAR = TCHAR_TABLE;

const N_HOST = ascii('host');
const N_USER_AGENT = ascii('user-agent');
const N_CONTENT_LENGTH = ascii('content-length');
const N_TRANSFER_ENCODING = ascii('transfer-encoding');
const N_TRACEPARENT = ascii('traceparent');
const N_TRACESTATE = ascii('tracestate');
const N_B3 = ascii('b3');
const N_B3_TRACEID = ascii('x-b3-traceid');
const N_B3_SPANID = ascii('x-b3-spanid');
const N_B3_SAMPLED = ascii('x-b3-sampled');
const N_B3_FLAGS = ascii('x-b3-flags');
const N_CHUNKED = ascii('chunked');

const F_NONE = 0; // no field line yet: a whitespace-led line is not a fold
const F_OTHER = 1;
const F_HOST = 2;
const F_USER_AGENT = 3;
const F_CONTENT_LENGTH = 4;
const F_TRANSFER_ENCODING = 5;
// Trace context, kept so spans can join the caller's trace.
const F_TRACEPARENT = 6;
const F_TRACESTATE = 7;
const F_B3 = 8;
const F_B3_TRACEID = 9;
const F_B3_SPANID = 10;
const F_B3_SAMPLED = 11;
const F_B3_FLAGS = 12;

/** The trace field of each F_* id from F_TRACEPARENT on. */
const TRACE_FIELD: readonly TraceField[] = ['traceparent', 'tracestate', 'b3', 'b3TraceId', 'b3SpanId', 'b3Sampled', 'b3Flags'];

function fieldId(b: Uint8Array, s: number, e: number): number {
  switch (e - s) {
    case 2:
      return eqLower(b, s, N_B3) ? F_B3 : F_OTHER;
    case 4:
      return eqLower(b, s, N_HOST) ? F_HOST : F_OTHER;
    case 10:
      if (eqLower(b, s, N_USER_AGENT)) return F_USER_AGENT;
      if (eqLower(b, s, N_TRACESTATE)) return F_TRACESTATE;
      return eqLower(b, s, N_B3_FLAGS) ? F_B3_FLAGS : F_OTHER;
    case 11:
      if (eqLower(b, s, N_TRACEPARENT)) return F_TRACEPARENT;
      return eqLower(b, s, N_B3_SPANID) ? F_B3_SPANID : F_OTHER;
    case 12:
      if (eqLower(b, s, N_B3_TRACEID)) return F_B3_TRACEID;
      return eqLower(b, s, N_B3_SAMPLED) ? F_B3_SAMPLED : F_OTHER;
    case 14:
      return eqLower(b, s, N_CONTENT_LENGTH) ? F_CONTENT_LENGTH : F_OTHER;
    case 17:
      return eqLower(b, s, N_TRANSFER_ENCODING) ? F_TRANSFER_ENCODING : F_OTHER;
    default:
      return F_OTHER;
  }
}

/** The fields of the message being parsed; reset() at each message start. */
export class HeadFields {
  host: string | undefined = undefined;
  userAgent: string | undefined = undefined;
  trace: TraceHeaders | undefined = undefined;
  /** -1: none given. */
  contentLength = -1;
  contentLengthInvalid = false;
  /** Transfer-Encoding given, and whether chunked is its final coding. */
  teSeen = false;
  teChunked = false;
  private lastField = F_NONE;

  constructor(private readonly isRequest: boolean) {}

  reset(): void {
    this.host = undefined;
    this.userAgent = undefined;
    this.trace = undefined;
    this.contentLength = -1;
    this.contentLengthInvalid = false;
    this.teSeen = false;
    this.teChunked = false;
    this.lastField = F_NONE;
  }

  /** One field line without its line ending. false: invalid. */
  line(b: Uint8Array, s: number, e: number): boolean {
    let vs: number;
    let id: number;
    let fold = false;
    if (b[s] === SP || b[s] === HTAB) {
      // Before any field: whitespace-led lines are skipped (§2.2).
      // After one: obs-fold, a continuation of that field's value (§5.2).
      if (this.lastField === F_NONE) return true;
      id = this.lastField;
      vs = s;
      fold = true;
    } else {
      let i = s;
      while (i < e && TCHAR[b[i]] === 1) i++;
      // field-name ":" with no whitespace before the colon (§5.1).
      if (i === s || i === e || b[i] !== COLON) return false;
      id = fieldId(b, s, i);
      vs = i + 1;
    }
    let ve = e;
    while (vs < ve && (b[vs] === SP || b[vs] === HTAB)) vs++;
    while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HTAB)) ve--;
    switch (id) {
      case F_HOST:
        if (fold) {
          if (ve > vs) this.host += ' ' + latin1(b, vs, ve);
        } else if (this.host === undefined) {
          this.host = latin1(b, vs, ve);
        } else {
          id = F_OTHER; // duplicate Host: keep the first, ignore its folds
        }
        break;
      case F_USER_AGENT:
        if (fold) {
          if (ve > vs) this.userAgent += ' ' + latin1(b, vs, ve);
        } else if (this.userAgent === undefined) {
          this.userAgent = latin1(b, vs, ve);
        } else {
          id = F_OTHER;
        }
        break;
      case F_CONTENT_LENGTH:
        if (!fold || ve > vs) this.contentLengthList(b, vs, ve);
        break;
      case F_TRANSFER_ENCODING:
        this.transferCodings(b, vs, ve);
        break;
      case F_TRACEPARENT:
      case F_TRACESTATE:
      case F_B3:
      case F_B3_TRACEID:
      case F_B3_SPANID:
      case F_B3_SAMPLED:
      case F_B3_FLAGS:
        // Only a request's trace context says whose child its span is.
        if (this.isRequest) addTraceField((this.trace ??= {}), TRACE_FIELD[id - F_TRACEPARENT], latin1(b, vs, ve), fold ? ' ' : ',');
        break;
    }
    this.lastField = id;
    return true;
  }

  /**
   * Content-Length = 1*DIGIT; a list of identical values (or repeated
   * identical fields) is one value (RFC 9110 §8.6), anything else is
   * invalid (§6.3 (5)).
   * Validity only matters if no Transfer-Encoding overrides it.
   */
  private contentLengthList(b: Uint8Array, s: number, e: number): void {
    let sawValue = false;
    let i = s;
    while (i <= e) {
      let j = i;
      while (j < e && b[j] !== COMMA) j++;
      let a = i;
      let z = j;
      while (a < z && (b[a] === SP || b[a] === HTAB)) a++;
      while (z > a && (b[z - 1] === SP || b[z - 1] === HTAB)) z--;
      if (a < z) {
        let v = 0;
        for (let k = a; k < z; k++) {
          const d = b[k] - 0x30;
          if (d < 0 || d > 9 || v > (Number.MAX_SAFE_INTEGER - d) / 10) {
            this.contentLengthInvalid = true;
            return;
          }
          v = v * 10 + d;
        }
        if (this.contentLength >= 0 && this.contentLength !== v) {
          this.contentLengthInvalid = true;
          return;
        }
        this.contentLength = v;
        sawValue = true;
      }
      i = j + 1;
    }
    if (!sawValue) this.contentLengthInvalid = true;
  }

  /** Records whether chunked is the final transfer coding (§6.3 (4)); the list may span fields. */
  private transferCodings(b: Uint8Array, s: number, e: number): void {
    let i = s;
    while (i < e) {
      let j = i;
      while (j < e && b[j] !== COMMA) j++;
      let a = i;
      while (a < j && (b[a] === SP || b[a] === HTAB)) a++;
      let z = a;
      while (z < j && TCHAR[b[z]] === 1) z++;
      if (z > a) {
        this.teSeen = true;
        this.teChunked = z - a === N_CHUNKED.length && eqLower(b, a, N_CHUNKED);
      }
      i = j + 1;
    }
  }
}
