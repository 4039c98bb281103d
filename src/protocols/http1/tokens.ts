// Byte-level vocabulary of HTTP/1 (RFC 9110, RFC 9112): the bytes the
// framing looks for and the character classes it checks, as lookup tables.

// A const enum, so tsc writes the numbers into the parsers' loops: imported
// plain constants would be property loads on the module object there.
export const enum Byte {
  LF = 0x0a,
  CR = 0x0d,
  SP = 0x20,
  HTAB = 0x09,
  COLON = 0x3a,
  COMMA = 0x2c,
  SEMI = 0x3b,
  DEL = 0x7f,
}

/** Longest method token accepted. */
export const enum Bound {
  MAX_METHOD_LEN = 32,
}

// tchar, RFC 9110 §5.6.2: the bytes allowed in a method or field name.
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

export const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

export function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function eqLower(b: Uint8Array, at: number, lower: Uint8Array): boolean {
  // OR-ing 0x20 folds A-Z onto a-z; '-' already has that bit. Callers only
  // pass token bytes, for which this cannot create a false match.
  for (let i = 0; i < lower.length; i++) if ((b[at + i] | 0x20) !== lower[i]) return false;
  return true;
}
