// Byte helpers shared by the protocol parsers.

/**
 * Byte-preserving decode: header text is octets (RFC 9110 §5.5), not UTF-8.
 * Captured payloads are Buffers: decoding in place skips a Buffer per string.
 */
export function latin1(b: Uint8Array, s: number, e: number): string {
  if (Buffer.isBuffer(b)) return b.toString('latin1', s, e);
  return Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1');
}
