// Builds batches in the addon's format (records padded to 8 bytes), to test
// the decoder and the tracker without the kernel.
import { CLOSE_EVENT_SIZE, DATA_EVENT_SIZE, EV_CLOSE, EV_DATA, EV_F_PIECES, EV_TLS_BIND, EXPECTED, PIECE_HEADER, TLS_BIND_EVENT_SIZE } from '../../src/capture/layout';

const D = EXPECTED.sl_data_event;
const C = EXPECTED.sl_close_event;
const B = EXPECTED.sl_tls_bind_event;
const T = EXPECTED.sl_tuple;

export interface DataSpec {
  ts: bigint;
  tgid?: number;
  /** Thread id; defaults to tgid. */
  tid?: number;
  connId: number;
  streamPos: number;
  syscallBytes: number;
  captured?: number;
  chunkOffset?: number;
  payload?: Buffer;
  direction: 0 | 1;
  role?: number;
  klass?: number;
  comm?: string;
  local?: [number[], number];
  peer?: [number[], number];
  family?: number;
  /** sl_header.flags (1: TLS plaintext, connId is the TLS session's). */
  flags?: number;
  /** Pieces of the syscall's bytes [offset, bytes], packed as the kernel's gather packs them (sets EV_F_PIECES; payload and chunkOffset are ignored). */
  pieces?: [number, Buffer][];
}

/** The payload of a pieced record: each piece's header, its bytes, padding to 8. */
export function packPieces(pieces: [number, Buffer][]): Buffer {
  return Buffer.concat(
    pieces.map(([offset, bytes]) => {
      const b = Buffer.alloc((PIECE_HEADER + bytes.length + 7) & ~7);
      b.writeUInt32LE(offset, 0);
      b.writeUInt32LE(bytes.length, 4);
      bytes.copy(b, PIECE_HEADER);
      return b;
    }),
  );
}

function u64(b: Buffer, off: number, v: number): void {
  b.writeUInt32LE(v % 0x100000000, off);
  b.writeUInt32LE(Math.floor(v / 0x100000000), off + 4);
}

export function dataRecord(s: DataSpec): Buffer {
  if (s.pieces) {
    const captured = s.captured ?? Math.max(...s.pieces.map(([o, b]) => o + b.length));
    return dataRecord({ ...s, pieces: undefined, payload: packPieces(s.pieces), chunkOffset: s.pieces[0]?.[0] ?? 0, captured, flags: (s.flags ?? 0) | EV_F_PIECES });
  }
  const payload = s.payload ?? Buffer.alloc(0);
  const size = DATA_EVENT_SIZE + payload.length;
  const b = Buffer.alloc((size + 7) & ~7);
  b.writeUInt16LE(EV_DATA, 0);
  b.writeUInt16LE(s.flags ?? 0, 2);
  b.writeUInt32LE(size, 4);
  b.writeBigUInt64LE(s.ts, 8);
  b.writeUInt32LE(s.tgid ?? 100, 16);
  b.writeUInt32LE(s.tid ?? s.tgid ?? 100, 20);
  u64(b, D.conn_id[0], s.connId);
  u64(b, D.stream_pos[0], s.streamPos);
  u64(b, D.syscall_bytes[0], s.syscallBytes);
  const t = D.tuple[0];
  const family = s.family ?? 2;
  const [laddr, lport] = s.local ?? [[127, 0, 0, 1], 8080];
  const [paddr, pport] = s.peer ?? [[127, 0, 0, 1], 40000];
  Buffer.from(laddr).copy(b, t + T.saddr[0]);
  Buffer.from(paddr).copy(b, t + T.daddr[0]);
  b.writeUInt16LE(lport, t + T.sport[0]);
  b.writeUInt16LE(pport, t + T.dport[0]);
  b.writeUInt16LE(family, t + T.family[0]);
  b.writeUInt32LE(3, D.fd[0]);
  b.writeUInt32LE(s.captured ?? payload.length, D.captured[0]);
  b.writeUInt32LE(s.chunkOffset ?? 0, D.chunk_offset[0]);
  b.writeUInt32LE(payload.length, D.chunk_len[0]);
  b[D.direction[0]] = s.direction;
  b[D.syscall[0]] = s.direction === 0 ? 1 : 0;
  b[D.role[0]] = s.role ?? 2;
  b[D.klass[0]] = s.klass ?? 1;
  b.write((s.comm ?? 'server').slice(0, 15), D.comm[0], 'latin1');
  payload.copy(b, DATA_EVENT_SIZE);
  return b;
}

export function closeRecord(ts: bigint, connId: number): Buffer {
  const b = Buffer.alloc(CLOSE_EVENT_SIZE);
  b.writeUInt16LE(EV_CLOSE, 0);
  b.writeUInt32LE(CLOSE_EVENT_SIZE, 4);
  b.writeBigUInt64LE(ts, 8);
  u64(b, C.conn_id[0], connId);
  b.writeUInt32LE(0xffffffff, C.fd[0]);
  return b;
}

export interface BindSpec {
  ts: bigint;
  tgid?: number;
  tlsId: number;
  connId: number;
  local: [number[], number];
  peer: [number[], number];
  role: number;
  how?: number;
  filtered?: boolean;
  comm?: string;
}

export function tlsBindRecord(s: BindSpec): Buffer {
  const b = Buffer.alloc(TLS_BIND_EVENT_SIZE);
  b.writeUInt16LE(EV_TLS_BIND, 0);
  b.writeUInt32LE(TLS_BIND_EVENT_SIZE, 4);
  b.writeBigUInt64LE(s.ts, 8);
  b.writeUInt32LE(s.tgid ?? 100, 16);
  b.writeUInt32LE(s.tgid ?? 100, 20);
  u64(b, B.tls_id[0], s.tlsId);
  u64(b, B.conn_id[0], s.connId);
  const t = B.tuple[0];
  Buffer.from(s.local[0]).copy(b, t + T.saddr[0]);
  Buffer.from(s.peer[0]).copy(b, t + T.daddr[0]);
  b.writeUInt16LE(s.local[1], t + T.sport[0]);
  b.writeUInt16LE(s.peer[1], t + T.dport[0]);
  b.writeUInt16LE(2, t + T.family[0]);
  b[B.role[0]] = s.role;
  b[B.how[0]] = s.how ?? 2;
  b[B.filtered[0]] = s.filtered ? 1 : 0;
  b.write((s.comm ?? 'server').slice(0, 15), B.comm[0], 'latin1');
  return b;
}
