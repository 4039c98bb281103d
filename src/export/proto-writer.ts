// Protocol Buffers wire format, written forward into one reusable buffer.
// A nested message reserves one byte for its length and shifts its body in
// the rare case the length needs more (most OTLP sub-messages are < 128 bytes).

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

export { WIRE_FIXED32, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT };

/** Hex digit values by character code (ids are validated hex before they get here). */
const HEX = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

export class ProtoWriter {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  reset(): void {
    this.pos = 0;
  }

  /** A copy of what was written (the buffer is reused by the next message). */
  finish(): Uint8Array {
    const out = Buffer.allocUnsafeSlow(this.pos);
    out.set(this.buf.subarray(0, this.pos));
    return out;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** A non-negative integer below 2^53 (lengths, counts, ports, enum values). */
  varint(v: number): void {
    this.ensure(10);
    const b = this.buf;
    if (v < 0x80) {
      b[this.pos++] = v;
      return;
    }
    while (v >= 0x80) {
      b[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    b[this.pos++] = v;
  }

  /** int64 as protobuf writes it: a negative value as its 64-bit two's complement (10 bytes). */
  int64(v: number): void {
    if (v >= 0) {
      this.varint(v);
      return;
    }
    let u = BigInt.asUintN(64, BigInt(v));
    this.ensure(10);
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  fixed64(v: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, v, true); // taken modulo 2^64
    this.pos += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** A length-delimited string, UTF-8; ASCII (nearly everything here) is copied in one pass. */
  string(s: string): void {
    const n = s.length;
    const start = this.pos;
    this.varint(n);
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        this.pos = start;
        this.bytes(Buffer.from(s, 'utf8'));
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  /** A length-delimited byte string. */
  bytes(v: Uint8Array): void {
    this.varint(v.length);
    this.raw(v);
  }

  /** Bytes given as lowercase or uppercase hex (trace and span ids), length-delimited. */
  hexBytes(hex: string): void {
    const n = hex.length >> 1;
    this.varint(n);
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < 2 * n; i += 2) b[p++] = (HEX[hex.charCodeAt(i) & 0x7f]! << 4) | HEX[hex.charCodeAt(i + 1) & 0x7f]!;
    this.pos = p;
  }

  /** Already-encoded wire bytes. */
  raw(v: Uint8Array): void {
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** Opens a nested message; pass the result to end(). */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  end(start: number): void {
    const len = this.pos - start - 1;
    if (len < 0x80) {
      this.buf[start] = len;
      return;
    }
    const extra = varintSize(len) - 1;
    this.ensure(extra);
    this.buf.copyWithin(start + 1 + extra, start + 1, this.pos);
    this.pos += extra;
    let p = start;
    let v = len;
    while (v >= 0x80) {
      this.buf[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[p] = v;
  }
}

