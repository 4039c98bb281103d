// HPACK (RFC 7541) decoding for a passive observer. The observer may attach
// to a connection whose dynamic table already holds entries it never saw,
// and may lose bytes later: a reference it cannot resolve yields a field
// marked unknown (name/value undefined), never a guess and never garbage.
import { HpackError, huffmanDecode, latin1 } from './huffman';

export { HpackError, huffmanCodes, huffmanDecode } from './huffman';

/** One decoded field; undefined name/value: from table state this decoder never saw. */
export interface HeaderField {
  name: string | undefined;
  value: string | undefined;
}

export interface HpackStats {
  /** References to table entries from before the attach (or a loss). */
  unknownRefs: number;
}

/** RFC 7541 Appendix A: index 1..61 as `name` or `name=value`. */
const STATIC = [
  ':authority', ':method=GET', ':method=POST', ':path=/', ':path=/index.html', ':scheme=http', ':scheme=https',
  ':status=200', ':status=204', ':status=206', ':status=304', ':status=400', ':status=404', ':status=500',
  'accept-charset', 'accept-encoding=gzip, deflate', 'accept-language', 'accept-ranges', 'accept',
  'access-control-allow-origin', 'age', 'allow', 'authorization', 'cache-control', 'content-disposition',
  'content-encoding', 'content-language', 'content-length', 'content-location', 'content-range', 'content-type',
  'cookie', 'date', 'etag', 'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match',
  'if-range', 'if-unmodified-since', 'last-modified', 'link', 'location', 'max-forwards', 'proxy-authenticate',
  'proxy-authorization', 'range', 'referer', 'refresh', 'retry-after', 'server', 'set-cookie',
  'strict-transport-security', 'transfer-encoding', 'user-agent', 'vary', 'via', 'www-authenticate',
];
// Split once into two arrays indexed by the HPACK index (slot 0 unused).
const STATIC_NAMES: string[] = [''];
const STATIC_VALUES: string[] = [''];
for (const e of STATIC) {
  const eq = e.indexOf('=', 1);
  STATIC_NAMES.push(eq < 0 ? e : e.slice(0, eq));
  STATIC_VALUES.push(eq < 0 ? '' : e.slice(eq + 1));
}
export const STATIC_ENTRIES = STATIC_NAMES.length - 1; // 61

/** RFC 7541 §4.1: an entry's size is its octets plus 32. */
const ENTRY_OVERHEAD = 32;
const MAX_INT = 0x7fffffff;

interface Entry {
  readonly name: string | undefined;
  readonly value: string | undefined;
  /** Exact size; a lower bound (name counted as 1 octet) when the name is unknown. */
  readonly size: number;
}

/** Ring buffer of entries, addressed newest-first from 1: inserts and evictions move nothing. */
class DynamicTable {
  private ring: Array<Entry | undefined> = new Array(16);
  private mask = 15;
  private head = 0; // slot of the next insert
  length = 0;
  size = 0;

  get(i: number): Entry {
    return this.ring[(this.head - i) & this.mask] as Entry;
  }

  add(e: Entry): void {
    if (this.length > this.mask) this.grow();
    this.ring[this.head] = e;
    this.head = (this.head + 1) & this.mask;
    this.length++;
    this.size += e.size;
  }

  evictOldest(): void {
    const slot = (this.head - this.length) & this.mask;
    this.size -= (this.ring[slot] as Entry).size;
    this.ring[slot] = undefined;
    this.length--;
  }

  clear(): void {
    this.ring.fill(undefined);
    this.length = 0;
    this.size = 0;
  }

  private grow(): void {
    const ring: Array<Entry | undefined> = new Array(this.ring.length * 2);
    for (let i = this.length; i >= 1; i--) ring[this.length - i] = this.get(i);
    this.ring = ring;
    this.mask = ring.length - 1;
    this.head = this.length;
  }
}

export class HpackDecoder {
  private readonly table = new DynamicTable();
  /** Entries older than all of ours may exist: state from before the attach or a loss. */
  private older: boolean;
  private limit: number;
  private max: number;
  private src: Uint8Array = new Uint8Array(0);
  private pos = 0;

  /**
   * complete: seen from the connection's start (the table starts empty).
   * maxTableSize: the table size in force (4096 unless SETTINGS changed it).
   */
  constructor(
    complete: boolean,
    private readonly stats: HpackStats = { unknownRefs: 0 },
    maxTableSize = 4096,
  ) {
    this.older = !complete;
    this.limit = maxTableSize;
    this.max = maxTableSize;
  }

  /** Some table state is unknown. */
  get partial(): boolean {
    return this.older;
  }

  /** Sum of entry sizes (lower bounds for entries whose name is unknown). */
  get tableSize(): number {
    return this.table.size;
  }

  /** The table's current maximum size (the last size update, or the initial size). */
  get maxTableSize(): number {
    return this.max;
  }

  /** The dynamic table as far as known, newest first. */
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
    // A lost block may have inserted entries, shifting every index of ours: none can be trusted.
    this.table.clear();
    this.older = true;
  }

  /** Decodes one whole header block; on HpackError the decoder has desynced itself. */
  decode(block: Uint8Array): HeaderField[] {
    try {
      return this.decodeBlock(block);
    } catch (e) {
      this.desync();
      throw e;
    } finally {
      this.src = EMPTY; // don't keep the caller's buffer alive
    }
  }

  private decodeBlock(block: Uint8Array): HeaderField[] {
    this.src = block;
    this.pos = 0;
    const out: HeaderField[] = [];
    const end = block.length;
    while (this.pos < end) {
      const b = block[this.pos];
      if (b >= 0x80) {
        // Indexed field (1xxxxxxx).
        const index = this.int(7);
        if (index === 0) throw new HpackError('indexed field with index 0');
        if (index <= STATIC_ENTRIES) {
          out.push({ name: STATIC_NAMES[index], value: STATIC_VALUES[index] });
        } else {
          const e = this.dynamic(index);
          out.push(e === undefined ? { name: undefined, value: undefined } : { name: e.name, value: e.value });
        }
      } else if (b >= 0x40) {
        out.push(this.literal(6, true)); // with incremental indexing (01xxxxxx)
      } else if (b >= 0x20) {
        // RFC 7541 §4.2: size updates only at the start of a block.
        if (out.length > 0) throw new HpackError('dynamic table size update after a header field');
        this.sizeUpdate(this.int(5));
      } else {
        out.push(this.literal(4, false)); // without indexing (0000) or never indexed (0001)
      }
    }
    return out;
  }

  private sizeUpdate(n: number): void {
    // While partial, SETTINGS we never saw may have raised the limit: accept what the encoder says.
    if (n > this.limit && !this.older) throw new HpackError(`table size update to ${n} above the limit ${this.limit}`);
    this.max = n;
    this.evict(0);
  }

  private literal(prefix: number, indexing: boolean): HeaderField {
    const nameIndex = this.int(prefix);
    let name: string | undefined;
    if (nameIndex === 0) {
      name = this.string();
    } else if (nameIndex <= STATIC_ENTRIES) {
      name = STATIC_NAMES[nameIndex];
    } else {
      name = this.dynamic(nameIndex)?.name;
    }
    const value = this.string();
    if (indexing) {
      const size = (name === undefined ? 1 : name.length) + value.length + ENTRY_OVERHEAD;
      this.insert({ name, value, size });
    }
    return { name, value };
  }

  /** Dynamic entry at an index > 61; undefined when it predates what this decoder saw (counted). */
  private dynamic(index: number): Entry | undefined {
    const i = index - STATIC_ENTRIES;
    if (i <= this.table.length) return this.table.get(i);
    if (!this.older) throw new HpackError(`index ${index} past the dynamic table (${this.table.length} entries)`);
    this.stats.unknownRefs++;
    return undefined;
  }

  private insert(e: Entry): void {
    if (e.size > this.max) {
      // RFC 7541 §4.4: an entry larger than the table empties it and is not added.
      // (e.size is exact or a lower bound, so the encoder emptied its table too.)
      this.table.clear();
      this.older = false;
      return;
    }
    this.evict(e.size);
    this.table.add(e);
  }

  /**
   * Evicts our oldest entries until `room` more octets fit.
   *
   * Why ending `older` here is safe: the encoder evicts oldest first, and any
   * entry we never saw is older than all of ours, so it goes before any of
   * ours does. Our sizes are exact or lower bounds, so when our sum forces an
   * eviction, the encoder's real sum forced at least as much: once one of our
   * entries goes, nothing older is left. Likewise every entry takes ≥32
   * octets, so if less than 32 stays free beside ours, no older one fits.
   * Should the real maximum differ from ours (a size update lost or never
   * seen), our table is still a newest-first prefix of the encoder's: we only
   * ever drop entries from the old end, so an index either resolves to the
   * right entry or fails; the cost is an HpackError, never a wrong field.
   */
  private evict(room: number): void {
    const t = this.table;
    while (t.length > 0 && t.size + room > this.max) {
      t.evictOldest();
      this.older = false;
    }
    if (this.older && this.max - t.size - room < ENTRY_OVERHEAD) this.older = false;
  }

  /** RFC 7541 §5.1 integer with an n-bit prefix, at most 2^31-1. */
  private int(prefixBits: number): number {
    const src = this.src;
    let pos = this.pos;
    if (pos >= src.length) throw new HpackError('truncated integer');
    const mask = (1 << prefixBits) - 1;
    let v = src[pos++] & mask;
    if (v === mask) {
      // 2^31-1 needs at most 5 continuation octets; more (even zero-valued padding) is malformed.
      for (let shift = 0; ; shift += 7) {
        if (shift > 28) throw new HpackError('integer with more than 5 continuation octets');
        if (pos >= src.length) throw new HpackError('truncated integer');
        const b = src[pos++];
        v += (b & 0x7f) * 2 ** shift;
        if (v > MAX_INT) throw new HpackError('integer above 2^31-1');
        if (b < 0x80) break;
      }
    }
    this.pos = pos;
    return v;
  }

  /** RFC 7541 §5.2 string literal. */
  private string(): string {
    const src = this.src;
    if (this.pos >= src.length) throw new HpackError('truncated string');
    const huffman = src[this.pos] >= 0x80;
    const len = this.int(7);
    const from = this.pos;
    if (len > src.length - from) throw new HpackError(`string of ${len} octets past the end of the block`);
    this.pos = from + len;
    return huffman ? huffmanDecode(src, from, from + len) : latin1(src, from, from + len);
  }
}

const EMPTY = new Uint8Array(0);
