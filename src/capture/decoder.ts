// Walks one batch from the addon: records back to back, each padded to 8
// bytes. One event object per kind is reused: sinks must copy what they keep.
import { CLOSE_EVENT_SIZE, DATA_EVENT_SIZE, EV_CLOSE, EV_DATA, EV_F_PIECES, EV_F_SKIPPED, EV_F_TLS, EV_TLS_BIND, EXPECTED, PIECE_HEADER, TLS_BIND_EVENT_SIZE } from './layout';
import type { CloseEvent, DataEvent, Endpoint, EventSink, TlsBindEvent } from './events';

const D = EXPECTED.sl_data_event;
const C = EXPECTED.sl_close_event;
const B = EXPECTED.sl_tls_bind_event;
const T = EXPECTED.sl_tuple;
const TUPLE = D.tuple[0];
const AF_INET = 2;
/** 32-bit word index of each field read through the u32 view (data, then close events). */
const W_CONN_ID = D.conn_id[0] >>> 2;
const W_STREAM_POS = D.stream_pos[0] >>> 2;
const W_SYSCALL_BYTES = D.syscall_bytes[0] >>> 2;
const W_FD = D.fd[0] >>> 2;
const W_CAPTURED = D.captured[0] >>> 2;
const W_CHUNK_OFFSET = D.chunk_offset[0] >>> 2;
const W_CHUNK_LEN = D.chunk_len[0] >>> 2;
const WC_CONN_ID = C.conn_id[0] >>> 2;
const WC_BYTES_SENT = C.bytes_sent[0] >>> 2;
const WC_BYTES_RECEIVED = C.bytes_received[0] >>> 2;
const WC_FD = C.fd[0] >>> 2;

export interface DecodeStats {
  events: number;
  malformed: number;
  unknownType: number;
}

export function newDecodeStats(): DecodeStats {
  return { events: 0, malformed: 0, unknownType: 0 };
}

/** A batch with its bytes 8-aligned (as the addon delivers them), so fields are read through typed-array views. */
export function aligned(buf: Buffer): Buffer {
  if ((buf.byteOffset & 7) === 0) return buf;
  const copy = Buffer.from(new ArrayBuffer((buf.length + 7) & ~7), 0, buf.length);
  buf.copy(copy);
  return copy;
}

export class BatchDecoder {
  private readonly data: DataEvent = {
    tsNs: 0n, tgid: 0, tid: 0, connId: 0, tls: false, skippedBefore: false, streamPos: 0, syscallBytes: 0, captured: 0, chunkOffset: 0,
    fd: 0, direction: 0, syscall: 0, role: 0, klass: 0, payload: new Uint8Array(0), batch: Buffer.alloc(0), base: 0,
  };
  private readonly close: CloseEvent = {
    tsNs: 0n, tgid: 0, connId: 0, bytesSent: 0, bytesReceived: 0, fd: 0, syscall: 0, role: 0,
  };

  constructor(private readonly sink: EventSink, readonly stats: DecodeStats = newDecodeStats()) {}

  private u32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private u64: BigUint64Array<ArrayBufferLike> = new BigUint64Array(0);

  decode(batch: Buffer, count: number): void {
    // Typed-array views read a field in one step; Buffer.readUInt32LE and
    // readBigUInt64LE check bounds and compose (the decoder's largest cost).
    const buf = aligned(batch);
    this.u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
    this.u64 = new BigUint64Array(buf.buffer, buf.byteOffset, buf.length >>> 3);
    let off = 0;
    for (let i = 0; i < count; i++) {
      if (off + 24 > buf.length) {
        this.stats.malformed += count - i;
        return;
      }
      const type = buf[off]! | (buf[off + 1]! << 8);
      const size = this.u32[(off >>> 2) + 1]!;
      if (size < 24 || off + size > buf.length) {
        this.stats.malformed += count - i;
        return;
      }
      if (type === EV_DATA && size >= DATA_EVENT_SIZE) {
        // A pieced record whose pieces do not fit it is counted, not delivered; the next record is still read.
        if (this.decodeData(buf, off, size)) this.stats.events++;
        else this.stats.malformed++;
      } else {
        this.stats.events++;
        if (type === EV_CLOSE && size >= CLOSE_EVENT_SIZE) this.decodeClose(buf, off);
        else if (type === EV_TLS_BIND && size >= TLS_BIND_EVENT_SIZE) this.decodeTlsBind(buf, off);
        else this.stats.unknownType++;
      }
      off += (size + 7) & ~7;
    }
  }

  /** False when the record's pieces do not fit it (nothing delivered). */
  private decodeData(b: Buffer, o: number, size: number): boolean {
    const e = this.data;
    const u32 = this.u32;
    const w = o >>> 2; // records start 8-aligned; every field is aligned to its size
    e.tsNs = this.u64[(o + 8) >>> 3]!;
    e.tgid = u32[w + 4]!;
    e.tid = u32[w + 5]!;
    e.tls = (b[o + 2]! & EV_F_TLS) !== 0;
    e.skippedBefore = (b[o + 2]! & EV_F_SKIPPED) !== 0;
    // Ids and positions stay far below 2^53, so a double holds them exactly.
    e.connId = u32[w + W_CONN_ID]! + u32[w + W_CONN_ID + 1]! * 0x100000000;
    e.streamPos = u32[w + W_STREAM_POS]! + u32[w + W_STREAM_POS + 1]! * 0x100000000;
    e.syscallBytes = u32[w + W_SYSCALL_BYTES]! + u32[w + W_SYSCALL_BYTES + 1]! * 0x100000000;
    e.fd = u32[w + W_FD]!;
    e.captured = u32[w + W_CAPTURED]!;
    e.chunkOffset = u32[w + W_CHUNK_OFFSET]!;
    const len = Math.min(u32[w + W_CHUNK_LEN]!, size - DATA_EVENT_SIZE);
    e.direction = b[o + D.direction[0]]!;
    e.syscall = b[o + D.syscall[0]]!;
    e.role = b[o + D.role[0]]!;
    e.klass = b[o + D.klass[0]]!;
    e.batch = b;
    e.base = o;
    if ((b[o + 2]! & EV_F_PIECES) === 0) {
      e.payload = b.subarray(o + DATA_EVENT_SIZE, o + DATA_EVENT_SIZE + len);
      this.sink.onData(e);
      return true;
    }
    // Pieces of one syscall, apart: each after the first follows bytes
    // skipped on purpose. The sink sees each as an event of its own, once
    // all of them are known to fit the record (one at least).
    const start = o + DATA_EVENT_SIZE;
    const end = start + len;
    let p = start;
    while (p < end) {
      if (p + PIECE_HEADER > end || p + PIECE_HEADER + u32[(p >>> 2) + 1]! > end) return false;
      p += (PIECE_HEADER + u32[(p >>> 2) + 1]! + 7) & ~7;
    }
    if (p === start) return false;
    for (p = start; p < end; p += (PIECE_HEADER + e.payload.length + 7) & ~7) {
      e.chunkOffset = u32[p >>> 2]!;
      e.payload = b.subarray(p + PIECE_HEADER, p + PIECE_HEADER + u32[(p >>> 2) + 1]!);
      this.sink.onData(e);
      e.skippedBefore = true;
    }
    return true;
  }

  private decodeClose(b: Buffer, o: number): void {
    const e = this.close;
    const u32 = this.u32;
    const w = o >>> 2;
    e.tsNs = this.u64[(o + 8) >>> 3]!;
    e.tgid = u32[w + 4]!;
    e.connId = u32[w + WC_CONN_ID]! + u32[w + WC_CONN_ID + 1]! * 0x100000000;
    e.bytesSent = u32[w + WC_BYTES_SENT]! + u32[w + WC_BYTES_SENT + 1]! * 0x100000000;
    e.bytesReceived = u32[w + WC_BYTES_RECEIVED]! + u32[w + WC_BYTES_RECEIVED + 1]! * 0x100000000;
    e.fd = u32[w + WC_FD]!;
    e.syscall = b[o + C.syscall[0]]!;
    e.role = b[o + C.role[0]]!;
    this.sink.onClose(e);
  }

  /** Rare (once per TLS session): a fresh object, endpoints decoded here. */
  private decodeTlsBind(b: Buffer, o: number): void {
    const u32 = this.u32;
    const w = o >>> 2;
    const ev: TlsBindEvent = {
      tsNs: this.u64[(o + 8) >>> 3]!,
      tgid: u32[w + 4]!,
      tlsId: u32[w + (B.tls_id[0] >>> 2)]! + u32[w + (B.tls_id[0] >>> 2) + 1]! * 0x100000000,
      connId: u32[w + (B.conn_id[0] >>> 2)]! + u32[w + (B.conn_id[0] >>> 2) + 1]! * 0x100000000,
      ...tupleEndpoints(b, o + B.tuple[0]),
      role: b[o + B.role[0]]!,
      how: b[o + B.how[0]]!,
      filtered: b[o + B.filtered[0]]! !== 0,
      comm: cString(b, o + B.comm[0], B.comm[1]),
    };
    this.sink.onTlsBind(ev);
  }
}

function cString(b: Buffer, start: number, max: number): string {
  let end = start;
  while (end < start + max && b[end] !== 0) end++;
  return b.toString('latin1', start, end);
}

/** The process name of a data event (decoded only when needed). */
export function commOf(ev: DataEvent): string {
  return cString(ev.batch, ev.base + D.comm[0], D.comm[1]);
}

function formatAddress(b: Buffer, off: number, family: number): string {
  if (family === AF_INET) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  // An IPv4 peer of a dual-stack socket (::ffff:a.b.c.d) is shown as IPv4.
  let mapped = true;
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) mapped = false;
  if (mapped && b[off + 10] === 0xff && b[off + 11] === 0xff)
    return `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[off + i]! << 8) | b[off + i + 1]!).toString(16));
  // Shorten the longest run of zero groups (RFC 5952 §4.2).
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

function tupleEndpoints(b: Buffer, t: number): { local: Endpoint; peer: Endpoint } {
  const family = b.readUInt16LE(t + T.family[0]);
  return {
    local: { address: formatAddress(b, t + T.saddr[0], family), port: b.readUInt16LE(t + T.sport[0]) },
    peer: { address: formatAddress(b, t + T.daddr[0], family), port: b.readUInt16LE(t + T.dport[0]) },
  };
}

/** Local and peer endpoints of a data event's socket. */
export function endpointsOf(ev: DataEvent): { local: Endpoint; peer: Endpoint } {
  return tupleEndpoints(ev.batch, ev.base + TUPLE);
}

/** A TLS data event whose session has no socket yet carries no tuple (family 0). */
export function hasTuple(ev: DataEvent): boolean {
  return ev.batch.readUInt16LE(ev.base + TUPLE + T.family[0]) !== 0;
}
