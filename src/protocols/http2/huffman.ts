// HPACK Huffman decoding (RFC 7541 §5.2, code from Appendix B), driven by a
// byte-at-a-time state table built once at load.

/** Malformed Huffman data (and, in hpack.ts, any malformed header block). */
export class HpackError extends Error {
  override name = 'HpackError';
}

// The Appendix B code is canonical (codes of one length are consecutive and
// follow the shorter ones, symbols in order), so the length of each symbol's
// code defines the whole table: symbols 0..255 then EOS, lengths 5..30 as
// the letters A..Z. Checked against the RFC's table (every code and length).
const CODE_LENGTHS =
  'ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHF' +
  'IBCCCCCCCCCCCCCCCCCCCCCCDCDIOIJBKABABABBBACCBBBABCBAABCCCCCKGJIX' +
  'PRPPRRRSRSSSSSTSTTRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRS' +
  'VVPORSRUVVVWWVTUOQVWWVWTQQVVXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWV' +
  'Z';
export const EOS = 256;

/** [code, bit length] of each symbol 0..256 (256 = EOS). */
export function huffmanCodes(): Array<[number, number]> {
  const lens: number[] = [];
  for (let s = 0; s < CODE_LENGTHS.length; s++) lens.push(CODE_LENGTHS.charCodeAt(s) - 60);
  const order = lens.map((_, s) => s).sort((a, b) => lens[a] - lens[b] || a - b);
  const codes: Array<[number, number]> = new Array(lens.length);
  let code = 0;
  for (let i = 0; i < order.length; i++) {
    const s = order[i];
    // Multiplication, not <<: 30-bit codes times 2 would overflow int32.
    if (i > 0) code = (code + 1) * 2 ** (lens[s] - lens[order[i - 1]]);
    codes[s] = [code, lens[s]];
  }
  return codes;
}

// States are the internal nodes of the code tree (257 leaves, so 256 nodes:
// a state fits in 8 bits). Feeding one byte to a state yields the next state
// and at most two symbols (the first needs ≥1 bit, each further one ≥5).
// Entry layout: next state bits 0-7, first symbol 8-15, second 16-23,
// symbol count 24-25, FAIL bit 26 (EOS decoded: forbidden inside a string).
const FAIL = 1 << 26;
const { step: STEP, accept: ACCEPT } = build();

function build(): { step: Int32Array; accept: Uint8Array } {
  // Children per internal node; a leaf is stored as ~symbol (negative).
  const zero: number[] = [0];
  const one: number[] = [0];
  // Padding may only be the first ≤7 bits of EOS, i.e. all ones: track both per node.
  const depth: number[] = [0];
  const allOnes: boolean[] = [true];
  const codes = huffmanCodes();
  for (let sym = 0; sym < codes.length; sym++) {
    const [code, len] = codes[sym];
    let n = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = Math.floor(code / 2 ** b) & 1;
      const kids = bit ? one : zero;
      if (b === 0) {
        kids[n] = ~sym;
      } else {
        if (kids[n] === 0) {
          kids[n] = zero.length;
          zero.push(0);
          one.push(0);
          depth.push(depth[n] + 1);
          allOnes.push(allOnes[n] && bit === 1);
        }
        n = kids[n];
      }
    }
  }
  const states = zero.length;
  if (states > 256) throw new Error('Huffman tree larger than expected');
  const step = new Int32Array(states * 256);
  const accept = new Uint8Array(states);
  for (let s = 0; s < states; s++) {
    accept[s] = s === 0 || (allOnes[s] && depth[s] <= 7) ? 1 : 0;
    for (let byte = 0; byte < 256; byte++) {
      let n = s;
      let count = 0;
      let syms = 0;
      let entry = 0;
      for (let b = 7; b >= 0; b--) {
        const next = (byte >> b) & 1 ? one[n] : zero[n];
        if (next >= 0) {
          n = next;
          continue;
        }
        if (~next === EOS) {
          entry = FAIL;
          break;
        }
        syms |= ~next << (8 * count);
        count++;
        n = 0;
      }
      step[(s << 8) | byte] = entry === FAIL ? FAIL : n | (syms << 8) | (count << 24);
    }
  }
  return { step, accept };
}

// Output scratch, grown on demand and reused: no allocation per string
// except the string itself.
let scratch = Buffer.allocUnsafe(1024);

type Latin1 = Buffer & { latin1Slice(start: number, end: number): string };

/** Decodes the Huffman-coded octets src[from, to) to a latin1 string. */
export function huffmanDecode(src: Uint8Array, from: number, to: number): string {
  // A symbol takes ≥5 bits, so at most 8/5 output octets per input octet.
  const max = ((to - from) * 8) / 5 + 1;
  if (scratch.length < max) scratch = Buffer.allocUnsafe(Math.max(max | 0, scratch.length * 2));
  const out = scratch;
  let o = 0;
  let state = 0;
  for (let i = from; i < to; i++) {
    const e = STEP[(state << 8) | src[i]];
    if (e & FAIL) throw new HpackError('EOS symbol inside a Huffman-coded string');
    const count = e >>> 24;
    if (count !== 0) {
      out[o++] = e >>> 8;
      if (count === 2) out[o++] = e >>> 16;
    }
    state = e & 0xff;
  }
  if (ACCEPT[state] === 0) throw new HpackError('Huffman padding longer than 7 bits or not all ones');
  return latin1(out, 0, o);
}

/** Octets as a latin1 string: one JS char per octet, so lossless for any header bytes. */
export function latin1(src: Uint8Array, from: number, to: number): string {
  // Up to ~6 chars, building the string in JS beats the call into the runtime (measured).
  if (to - from <= 6) {
    let s = '';
    for (let i = from; i < to; i++) s += String.fromCharCode(src[i]);
    return s;
  }
  const buf = Buffer.isBuffer(src) ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  return (buf as Latin1).latin1Slice(from, to);
}
