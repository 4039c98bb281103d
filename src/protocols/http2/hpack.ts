// HPACK (RFC 7541) decoding for a passive observer. The observer may attach
// to a connection whose dynamic table already holds entries it never saw,
// and may lose bytes later: a reference it cannot resolve yields a field
// marked unknown (name/value undefined), never a guess and never garbage.
import { latin1 } from '../bytes';

/** One decoded field; undefined name/value: from table state this decoder never saw. */
export interface HeaderField {
  name: string | undefined;
  value: string | undefined;
}

import { MAX_HEADER_LIST, MAX_HEADER_TABLE } from '../limits';

export class HpackError extends Error {}
/** The decoded header list grew past MAX_HEADER_LIST (an HPACK bomb: small refs to large entries). */
export class HeaderListTooLarge extends HpackError {}
/** A table size update above MAX_HEADER_TABLE, even where the SETTINGS in force are unknown. */
export class HeaderTableTooLarge extends HpackError {}

export interface HpackStats {
  /** References to table entries from before the attach (or a loss). */
  unknownRefs: number;
}

/** RFC 7541 Appendix A. */
const STATIC: ReadonlyArray<readonly [string, string]> = [
  ['', ''], // index 0 is not used
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];
export const STATIC_ENTRIES = STATIC.length - 1;

// Huffman code (RFC 7541 Appendix B). The code is canonical, so the code
// length of each symbol (0..255, then EOS) defines it; lengths 5..30 are
// stored as the letters A..Z.
const CODE_LENGTHS =
  'ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHF' +
  'IBCCCCCCCCCCCCCCCCCCCCCCDCDIOIJBKABABABBBACCBBBABCBAABCCCCCKGJIX' +
  'PRPPRRRSRSSSSSTSTTRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRS' +
  'VVPORSRUVVVWWVTUOQVWWVWTQQVVXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWV' +
  'Z';
const EOS = 256;

/** Canonical codes from the lengths: [code, length] per symbol. */
export function huffmanCodes(): Array<[number, number]> {
  const lens = Array.from(CODE_LENGTHS, (c) => c.charCodeAt(0) - 65 + 5);
  const order = lens.map((_, s) => s).sort((a, b) => lens[a] - lens[b] || a - b);
  const codes: Array<[number, number]> = new Array(lens.length);
  let code = 0;
  let prev = lens[order[0]];
  order.forEach((s, i) => {
    if (i > 0) {
      code = (code + 1) * 2 ** (lens[s] - prev);
      prev = lens[s];
    }
    codes[s] = [code, lens[s]];
  });
  return codes;
}

// A 4-bit state machine over the code tree: each state is an internal node;
// each nibble moves to another and emits at most one symbol (codes are at
// least 5 bits long). Entry: next state (bits 0-7), symbol (8-16), flags.
const EMIT = 1 << 17;
const FAIL = 1 << 18;
const { table: HUFF, accepting: HUFF_ACCEPT } = buildDecoder();

function buildDecoder(): { table: Int32Array; accepting: Uint8Array } {
  // Tree as arrays: children of internal node i; a leaf is stored as ~symbol.
  const left: number[] = [0];
  const right: number[] = [0];
  const depth: number[] = [0];
  const ones: boolean[] = [true];
  let nodes = 1;
  for (const [sym, [code, len]] of huffmanCodes().entries()) {
    let n = 0;
    for (let b = len - 1; b >= 0; b--) {
      const bit = Math.floor(code / 2 ** b) & 1;
      const kids = bit ? right : left;
      if (b === 0) {
        kids[n] = ~sym;
        break;
      }
      if (!kids[n]) {
        kids[n] = nodes;
        left.push(0);
        right.push(0);
        depth.push(depth[n] + 1);
        ones.push(ones[n] && bit === 1);
        nodes++;
      }
      n = kids[n];
    }
  }
  const table = new Int32Array(nodes * 16);
  // A string may end in a state whose path from the root is at most 7 one-bits (padding).
  const accepting = new Uint8Array(nodes);
  for (let n = 0; n < nodes; n++) {
    accepting[n] = n === 0 || (ones[n] && depth[n] <= 7) ? 1 : 0;
    for (let nib = 0; nib < 16; nib++) {
      let cur = n;
      let entry = 0;
      for (let b = 3; b >= 0; b--) {
        const next = (nib >> b) & 1 ? right[cur] : left[cur];
        if (next < 0) {
          const sym = ~next;
          if (sym === EOS) {
            entry = FAIL;
            break;
          }
          entry = EMIT | (sym << 8);
          cur = 0;
        } else {
          cur = next;
        }
      }
      if (!(entry & FAIL)) entry |= cur;
      table[n * 16 + nib] = entry;
    }
  }
  return { table, accepting };
}

let huffOut = Buffer.allocUnsafe(4096);

/** Huffman-decodes src[from, to) as latin1. */
export function huffmanDecode(src: Uint8Array, from: number, to: number): string {
  // Each symbol takes at least 5 bits: 8/5 output bytes per input byte at most.
  const max = Math.ceil(((to - from) * 8) / 5);
  if (huffOut.length < max) huffOut = Buffer.allocUnsafe(Math.max(max, huffOut.length * 2));
  const out = huffOut;
  let o = 0;
  let state = 0;
  for (let i = from; i < to; i++) {
    const byte = src[i];
    let e = HUFF[state * 16 + (byte >> 4)];
    if (e & FAIL) throw new HpackError('EOS symbol inside a Huffman-coded string');
    if (e & EMIT) out[o++] = (e >> 8) & 0xff;
    state = e & 0xff;
    e = HUFF[state * 16 + (byte & 0x0f)];
    if (e & FAIL) throw new HpackError('EOS symbol inside a Huffman-coded string');
    if (e & EMIT) out[o++] = (e >> 8) & 0xff;
    state = e & 0xff;
  }
  if (!HUFF_ACCEPT[state]) throw new HpackError('Huffman padding is not a prefix of EOS of at most 7 bits');
  return out.toString('latin1', 0, o);
}

interface Entry {
  name: string | undefined;
  value: string | undefined;
  size: number;
}

/** Entries of the dynamic table, newest last; `first` skips evicted ones without shifting. */
class DynamicTable {
  entries: Entry[] = [];
  first = 0;
  size = 0;

  get length(): number {
    return this.entries.length - this.first;
  }

  /** 1-based from the newest. */
  get(i: number): Entry {
    return this.entries[this.entries.length - i];
  }

  add(e: Entry): void {
    this.entries.push(e);
    this.size += e.size;
  }

  evictOldest(): void {
    this.size -= this.entries[this.first].size;
    this.first++;
    if (this.first > 32 && this.first * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.first);
      this.first = 0;
    }
  }

  clear(): void {
    this.entries = [];
    this.first = 0;
    this.size = 0;
  }
}

const MAX_INT = 0x7fffffff;

export class HpackDecoder {
  private readonly table = new DynamicTable();
  /** Entries older than ours may exist: state from before the attach or a loss. */
  private older: boolean;
  private limit: number;
  private maxSize: number;
  private pos = 0;
  private src: Uint8Array = new Uint8Array(0);

  /**
   * complete: seen from the connection's start (the table starts empty).
   * maxTableSize: SETTINGS_HEADER_TABLE_SIZE in force (4096 unless changed).
   */
  constructor(
    complete: boolean,
    private readonly stats: HpackStats = { unknownRefs: 0 },
    maxTableSize = 4096,
  ) {
    this.older = !complete;
    this.limit = maxTableSize;
    this.maxSize = maxTableSize;
  }

  /** Some table state is unknown. */
  get partial(): boolean {
    return this.older;
  }

  get tableSize(): number {
    return this.table.size;
  }

  /** The dynamic table, newest first. */
  tableEntries(): HeaderField[] {
    const out: HeaderField[] = [];
    for (let i = 1; i <= this.table.length; i++) {
      const e = this.table.get(i);
      out.push({ name: e.name, value: e.value });
    }
    return out;
  }

  /** SETTINGS_HEADER_TABLE_SIZE announced by the decoding side: the bound for size updates. */
  setLimit(n: number): void {
    this.limit = n;
  }

  /** Bytes were lost: whatever the table holds now may have been changed unseen. */
  desync(): void {
    // Our entries stay addressable only if no insertion was lost; that is unknown, so none are.
    this.table.clear();
    this.older = true;
  }

  decode(block: Uint8Array): HeaderField[] {
    try {
      return this.decodeBlock(block);
    } catch (e) {
      this.desync();
      throw e;
    }
  }

  private decodeBlock(block: Uint8Array): HeaderField[] {
    this.src = block;
    this.pos = 0;
    const out: HeaderField[] = [];
    const end = block.length;
    let listSize = 0;
    while (this.pos < end) {
      if (out.length > 0) {
        // RFC 7541 §4.1 sizes: checked as the list grows, so a bomb never materialises.
        const f = out[out.length - 1];
        listSize += (f.name?.length ?? 0) + (f.value?.length ?? 0) + 32;
        if (listSize > MAX_HEADER_LIST) throw new HeaderListTooLarge(`header list above ${MAX_HEADER_LIST} bytes`);
      }
      const b = block[this.pos];
      if (b & 0x80) {
        const index = this.int(7);
        if (index === 0) throw new HpackError('indexed header field with index 0');
        const e = this.lookup(index);
        out.push(e === undefined ? { name: undefined, value: undefined } : { name: e.name, value: e.value });
      } else if (b & 0x40) {
        out.push(this.literal(6, true));
      } else if (b & 0x20) {
        if (out.length > 0) throw new HpackError('dynamic table size update after a header field');
        this.sizeUpdate(this.int(5));
      } else {
        // Without indexing (0000) or never indexed (0001): same layout.
        out.push(this.literal(4, false));
      }
    }
    const last = out[out.length - 1];
    if (last && listSize + (last.name?.length ?? 0) + (last.value?.length ?? 0) + 32 > MAX_HEADER_LIST) {
      throw new HeaderListTooLarge(`header list above ${MAX_HEADER_LIST} bytes`);
    }
    return out;
  }

  private sizeUpdate(n: number): void {
    // Attached late or after lost bytes the SETTINGS in force may be unknown, but memory is bounded all the same.
    if (n > MAX_HEADER_TABLE) throw new HeaderTableTooLarge(`table size update to ${n} above ${MAX_HEADER_TABLE}`);
    if (n > this.limit && !this.older) throw new HpackError(`table size update to ${n} above the limit ${this.limit}`);
    this.maxSize = n;
    this.evict(0);
  }

  private literal(prefix: number, indexing: boolean): HeaderField {
    const nameIndex = this.int(prefix);
    let name: string | undefined;
    if (nameIndex === 0) {
      name = this.string();
    } else {
      const e = this.lookup(nameIndex);
      name = e?.name;
    }
    const value = this.string();
    if (indexing) {
      // An unknown name still takes room: at least one octet.
      const size = (name === undefined ? 1 : name.length) + value.length + 32;
      this.insert({ name, value, size });
    }
    return { name, value };
  }

  /** Entry at an index; undefined when it predates what this decoder saw (counted). */
  private lookup(index: number): HeaderField | undefined {
    if (index <= STATIC_ENTRIES) {
      const s = STATIC[index];
      return { name: s[0], value: s[1] };
    }
    const i = index - STATIC_ENTRIES;
    if (i <= this.table.length) return this.table.get(i);
    if (!this.older) throw new HpackError(`index ${index} past the dynamic table (${this.table.length} entries)`);
    this.stats.unknownRefs++;
    return undefined;
  }

  private insert(e: Entry): void {
    if (e.size > this.maxSize) {
      // RFC 7541 §4.4: an entry larger than the table empties it.
      this.table.clear();
      this.older = false;
      return;
    }
    this.evict(e.size);
    this.table.add(e);
  }

  /**
   * Evicts oldest entries until `room` more octets fit. Entries older than
   * ours (unknown) would be evicted before any of ours, so once one of ours
   * goes, or no 32-octet entry could still fit beside ours, none are left.
   */
  private evict(room: number): void {
    while (this.table.length > 0 && this.table.size + room > this.maxSize) {
      this.table.evictOldest();
      this.older = false;
    }
    if (this.older && this.maxSize - this.table.size - room < 32) this.older = false;
  }

  private int(prefix: number): number {
    const src = this.src;
    if (this.pos >= src.length) throw new HpackError('truncated integer');
    const max = (1 << prefix) - 1;
    let v = src[this.pos++] & max;
    if (v < max) return v;
    let shift = 0;
    for (;;) {
      // 2^31-1 needs at most 5 continuation octets; more would also push
      // 2 ** shift to Infinity and the sum to NaN, past every check.
      if (shift > 28) throw new HpackError('integer with more than 5 continuation octets');
      if (this.pos >= src.length) throw new HpackError('truncated integer');
      const b = src[this.pos++];
      v += (b & 0x7f) * 2 ** shift;
      if (v > MAX_INT) throw new HpackError('integer above 2^31-1');
      if (!(b & 0x80)) return v;
      shift += 7;
    }
  }

  private string(): string {
    const src = this.src;
    if (this.pos >= src.length) throw new HpackError('truncated string');
    const huffman = (src[this.pos] & 0x80) !== 0;
    const len = this.int(7);
    const from = this.pos;
    const to = from + len;
    if (to > src.length) throw new HpackError(`string of ${len} octets past the end of the block`);
    this.pos = to;
    if (huffman) return huffmanDecode(src, from, to);
    return latin1(src, from, to);
  }
}
