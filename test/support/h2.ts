// HTTP/2 bytes for parser tests: frames built field by field, and header
// blocks coded with the simplest HPACK representations (static-table
// indexes and literals), so each test states exactly what is on the wire.

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const DATA = 0;
export const HEADERS = 1;
export const PRIORITY = 2;
export const RST_STREAM = 3;
export const SETTINGS = 4;
export const PUSH_PROMISE = 5;
export const PING = 6;
export const GOAWAY = 7;
export const WINDOW_UPDATE = 8;
export const CONTINUATION = 9;

export const END_STREAM = 0x1;
export const END_HEADERS = 0x4;
export const PADDED = 0x8;
export const PRIORITY_FLAG = 0x20;

export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([h, payload]);
}

/** RFC 7541 §5.1 integer with an n-bit prefix; `first` holds the representation's high bits. */
export function hpackInt(first: number, n: number, v: number): Buffer {
  const max = (1 << n) - 1;
  if (v < max) return Buffer.from([first | v]);
  const out = [first | max];
  v -= max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(0, 7, b.length), b]);
}

export type Field =
  | { index: number } // indexed (static 1..61, dynamic 62..)
  | { name: string; value: string; indexing?: boolean } // literal, new name
  | { nameIndex: number; value: string; indexing?: boolean } // literal, indexed name
  | { sizeUpdate: number };

/** A header block from field representations (no Huffman). */
export function block(...fields: Field[]): Buffer {
  return Buffer.concat(
    fields.map((f) => {
      if ('index' in f) return hpackInt(0x80, 7, f.index);
      if ('sizeUpdate' in f) return hpackInt(0x20, 5, f.sizeUpdate);
      const indexing = f.indexing === true;
      if ('nameIndex' in f) return Buffer.concat([hpackInt(indexing ? 0x40 : 0x00, indexing ? 6 : 4, f.nameIndex), str(f.value)]);
      return Buffer.concat([Buffer.from([indexing ? 0x40 : 0x00]), str(f.name), str(f.value)]);
    }),
  );
}

/** Literal header fields without indexing, each with a new name: decodes alike with any table state. */
export function literals(headers: Record<string, string>): Buffer {
  return block(...Object.entries(headers).map(([name, value]) => ({ name, value })));
}

export function headers(streamId: number, blk: Uint8Array, endStream = false): Buffer {
  return frame(HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), streamId, blk);
}

export function data(streamId: number, payload: Uint8Array, endStream = false): Buffer {
  return frame(DATA, endStream ? END_STREAM : 0, streamId, payload);
}

export function settings(values: Array<[number, number]> = []): Buffer {
  const p = Buffer.alloc(values.length * 6);
  values.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(SETTINGS, 0, 0, p);
}

export function rst(streamId: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(RST_STREAM, 0, streamId, p);
}

export function goaway(lastStreamId: number, code = 0): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStreamId);
  p.writeUInt32BE(code, 4);
  return frame(GOAWAY, 0, 0, p);
}

/** gRPC length-prefixed messages, one per body. */
export function grpcMessages(...bodies: Uint8Array[]): Buffer {
  return Buffer.concat(
    bodies.map((b) => {
      const h = Buffer.alloc(5);
      h.writeUInt32BE(b.length, 1);
      return Buffer.concat([h, b]);
    }),
  );
}
