// Walks one batch from the addon: records back to back, each padded to 8
// bytes. One event object per kind is reused: sinks must copy what they keep.
import { CLOSE_EVENT_SIZE, DATA_EVENT_SIZE, EV_CLOSE, EV_DATA, EXPECTED } from './layout';
import type { CloseEvent, DataEvent, Endpoint, EventSink } from './events';

const D = EXPECTED.sl_data_event;
const C = EXPECTED.sl_close_event;
const T = EXPECTED.sl_tuple;
const TUPLE = D.tuple[0];
const AF_INET = 2;

export interface DecodeStats {
  events: number;
  malformed: number;
  unknownType: number;
}

export function newDecodeStats(): DecodeStats {
  return { events: 0, malformed: 0, unknownType: 0 };
}

function u64(b: Buffer, off: number): number {
  // Ids and positions stay far below 2^53, so a double holds them exactly.
  return b.readUInt32LE(off) + b.readUInt32LE(off + 4) * 0x100000000;
}

export class BatchDecoder {
  private readonly data: DataEvent = {
    tsNs: 0n, tgid: 0, tid: 0, connId: 0, streamPos: 0, syscallBytes: 0, captured: 0, chunkOffset: 0,
    fd: 0, direction: 0, syscall: 0, role: 0, klass: 0, payload: new Uint8Array(0), batch: Buffer.alloc(0), base: 0,
  };
  private readonly close: CloseEvent = {
    tsNs: 0n, tgid: 0, connId: 0, bytesSent: 0, bytesReceived: 0, fd: 0, syscall: 0, role: 0,
  };

  constructor(private readonly sink: EventSink, readonly stats: DecodeStats = newDecodeStats()) {}

  decode(buf: Buffer, count: number): void {
    let off = 0;
    for (let i = 0; i < count; i++) {
      if (off + 24 > buf.length) {
        this.stats.malformed += count - i;
        return;
      }
      const type = buf.readUInt16LE(off);
      const size = buf.readUInt32LE(off + 4);
      if (size < 24 || off + size > buf.length) {
        this.stats.malformed += count - i;
        return;
      }
      this.stats.events++;
      if (type === EV_DATA && size >= DATA_EVENT_SIZE) this.decodeData(buf, off, size);
      else if (type === EV_CLOSE && size >= CLOSE_EVENT_SIZE) this.decodeClose(buf, off);
      else this.stats.unknownType++;
      off += (size + 7) & ~7;
    }
  }

  private decodeData(b: Buffer, o: number, size: number): void {
    const e = this.data;
    e.tsNs = b.readBigUInt64LE(o + 8);
    e.tgid = b.readUInt32LE(o + 16);
    e.tid = b.readUInt32LE(o + 20);
    e.connId = u64(b, o + D.conn_id[0]);
    e.streamPos = u64(b, o + D.stream_pos[0]);
    e.syscallBytes = u64(b, o + D.syscall_bytes[0]);
    e.fd = b.readUInt32LE(o + D.fd[0]);
    e.captured = b.readUInt32LE(o + D.captured[0]);
    e.chunkOffset = b.readUInt32LE(o + D.chunk_offset[0]);
    const len = Math.min(b.readUInt32LE(o + D.chunk_len[0]), size - DATA_EVENT_SIZE);
    e.direction = b[o + D.direction[0]]!;
    e.syscall = b[o + D.syscall[0]]!;
    e.role = b[o + D.role[0]]!;
    e.klass = b[o + D.klass[0]]!;
    e.payload = b.subarray(o + DATA_EVENT_SIZE, o + DATA_EVENT_SIZE + len);
    e.batch = b;
    e.base = o;
    this.sink.onData(e);
  }

  private decodeClose(b: Buffer, o: number): void {
    const e = this.close;
    e.tsNs = b.readBigUInt64LE(o + 8);
    e.tgid = b.readUInt32LE(o + 16);
    e.connId = u64(b, o + C.conn_id[0]);
    e.bytesSent = u64(b, o + C.bytes_sent[0]);
    e.bytesReceived = u64(b, o + C.bytes_received[0]);
    e.fd = b.readUInt32LE(o + C.fd[0]);
    e.syscall = b[o + C.syscall[0]]!;
    e.role = b[o + C.role[0]]!;
    this.sink.onClose(e);
  }
}

/** The process name of a data event (decoded only when needed). */
export function commOf(ev: DataEvent): string {
  const start = ev.base + D.comm[0];
  let end = start;
  while (end < start + D.comm[1] && ev.batch[end] !== 0) end++;
  return ev.batch.toString('latin1', start, end);
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

/** Local and peer endpoints of a data event's socket. */
export function endpointsOf(ev: DataEvent): { local: Endpoint; peer: Endpoint } {
  const t = ev.base + TUPLE;
  const family = ev.batch.readUInt16LE(t + T.family[0]);
  return {
    local: { address: formatAddress(ev.batch, t + T.saddr[0], family), port: ev.batch.readUInt16LE(t + T.sport[0]) },
    peer: { address: formatAddress(ev.batch, t + T.daddr[0], family), port: ev.batch.readUInt16LE(t + T.dport[0]) },
  };
}
