// HPACK decoding: RFC 7541 Appendix C, table size updates and eviction, the
// unknown-state rules of a decoder that attached mid-connection, malformed
// input, and Huffman round trips.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { HpackDecoder, HpackError, huffmanCodes, huffmanDecode, type HeaderField } from '../../src/protocols/http2/hpack';
import { block } from '../support/h2';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const f = (name: string | undefined, value: string | undefined): HeaderField => ({ name, value });
const fields = (pairs: Array<[string, string]>) => pairs.map(([n, v]) => f(n, v));

/** Decodes each block in turn with one decoder, checking the fields, the table and its size after each. */
function sequence(d: HpackDecoder, steps: Array<{ block: string; fields: Array<[string, string]>; table: Array<[string, string]>; size: number }>): void {
  for (const [i, step] of steps.entries()) {
    assert.deepEqual(d.decode(hex(step.block)), fields(step.fields), `block ${i + 1}`);
    assert.deepEqual(d.tableEntries(), fields(step.table), `table after block ${i + 1}`);
    assert.equal(d.tableSize, step.size, `table size after block ${i + 1}`);
  }
}

const REQUESTS = [
  { fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']], table: [[':authority', 'www.example.com']], size: 57 },
  {
    fields: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
    table: [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
    size: 110,
  },
  {
    fields: [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
    table: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
    size: 164,
  },
] as Array<{ fields: Array<[string, string]>; table: Array<[string, string]>; size: number }>;

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOC = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSES = [
  {
    fields: [[':status', '302'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]],
    table: [['location', LOC], ['date', DATE1], ['cache-control', 'private'], [':status', '302']],
    size: 222,
  },
  {
    fields: [[':status', '307'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]],
    table: [[':status', '307'], ['location', LOC], ['date', DATE1], ['cache-control', 'private']],
    size: 222,
  },
  {
    fields: [[':status', '200'], ['cache-control', 'private'], ['date', DATE2], ['location', LOC], ['content-encoding', 'gzip'], ['set-cookie', COOKIE]],
    table: [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE2]],
    size: 215,
  },
] as Array<{ fields: Array<[string, string]>; table: Array<[string, string]>; size: number }>;

describe('HPACK: RFC 7541 Appendix C', () => {
  it('C.2.1 literal with indexing', () => {
    sequence(new HpackDecoder(true), [
      { block: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', fields: [['custom-key', 'custom-header']], table: [['custom-key', 'custom-header']], size: 55 },
    ]);
  });
  it('C.2.2 literal without indexing', () => {
    sequence(new HpackDecoder(true), [{ block: '040c 2f73 616d 706c 652f 7061 7468', fields: [[':path', '/sample/path']], table: [], size: 0 }]);
  });
  it('C.2.3 literal never indexed', () => {
    sequence(new HpackDecoder(true), [{ block: '1008 7061 7373 776f 7264 0673 6563 7265 74', fields: [['password', 'secret']], table: [], size: 0 }]);
  });
  it('C.2.4 indexed', () => {
    sequence(new HpackDecoder(true), [{ block: '82', fields: [[':method', 'GET']], table: [], size: 0 }]);
  });
  it('C.3 requests without Huffman, one context', () => {
    const blocks = [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ];
    sequence(new HpackDecoder(true), REQUESTS.map((r, i) => ({ ...r, block: blocks[i] })));
  });
  it('C.4 requests with Huffman, one context', () => {
    const blocks = ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'];
    sequence(new HpackDecoder(true), REQUESTS.map((r, i) => ({ ...r, block: blocks[i] })));
  });
  it('C.5 responses without Huffman, table size 256: evictions', () => {
    const blocks = [
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    ];
    sequence(new HpackDecoder(true, undefined, 256), RESPONSES.map((r, i) => ({ ...r, block: blocks[i] })));
  });
  it('C.6 responses with Huffman, table size 256: evictions', () => {
    const blocks = [
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ];
    sequence(new HpackDecoder(true, undefined, 256), RESPONSES.map((r, i) => ({ ...r, block: blocks[i] })));
  });
});

describe('HPACK: table size updates', () => {
  it('an update to 0 empties the table; later inserts start afresh', () => {
    const d = new HpackDecoder(true);
    d.decode(block({ name: 'a', value: '1', indexing: true }, { name: 'b', value: '2', indexing: true }));
    assert.equal(d.tableSize, 68);
    assert.deepEqual(d.decode(block({ sizeUpdate: 0 }, { sizeUpdate: 4096 }, { name: 'c', value: '3', indexing: true }, { index: 62 })), [f('c', '3'), f('c', '3')]);
    assert.deepEqual(d.tableEntries(), [f('c', '3')]);
    assert.throws(() => d.decode(block({ index: 63 })), HpackError);
  });
  it('a smaller size evicts the oldest entries', () => {
    const d = new HpackDecoder(true);
    d.decode(block({ name: 'a', value: '1', indexing: true }, { name: 'b', value: '2', indexing: true }, { name: 'c', value: '3', indexing: true }));
    d.decode(block({ sizeUpdate: 70 }));
    assert.deepEqual(d.tableEntries(), [f('c', '3'), f('b', '2')]);
    assert.equal(d.tableSize, 68);
    // An entry bigger than the whole table empties it and is not added (§4.4).
    assert.deepEqual(d.decode(block({ name: 'long', value: 'x'.repeat(40), indexing: true })), [f('long', 'x'.repeat(40))]);
    assert.deepEqual(d.tableEntries(), []);
  });
  it('an update after a field, or above the SETTINGS limit, is an error', () => {
    assert.throws(() => new HpackDecoder(true).decode(block({ index: 2 }, { sizeUpdate: 100 })), /after a header field/);
    const d = new HpackDecoder(true);
    d.setLimit(1024);
    assert.throws(() => d.decode(block({ sizeUpdate: 2048 })), /above the limit/);
  });
});

describe('HPACK: attached mid-connection', () => {
  it('static and literal fields decode; entries inserted after the attach resolve; older ones are unknown and counted', () => {
    const stats = { unknownRefs: 0 };
    const d = new HpackDecoder(false, stats);
    assert.equal(d.partial, true);
    assert.deepEqual(d.decode(block({ index: 3 }, { nameIndex: 4, value: '/a.B/C' }, { name: 'x-new', value: 'v' })), [f(':method', 'POST'), f(':path', '/a.B/C'), f('x-new', 'v')]);
    assert.deepEqual(d.decode(block({ nameIndex: 1, value: 'svc:50051', indexing: true }, { index: 62 }, { index: 63 })), [
      f(':authority', 'svc:50051'),
      f(':authority', 'svc:50051'),
      f(undefined, undefined),
    ]);
    // A literal naming a pre-attach entry keeps its value; if indexed, the entry's name stays unknown.
    assert.deepEqual(d.decode(block({ nameIndex: 64, value: 'x', indexing: true }, { index: 62 }, { index: 63 })), [f(undefined, 'x'), f(undefined, 'x'), f(':authority', 'svc:50051')]);
    assert.equal(stats.unknownRefs, 2);
  });
  it('once our own entries fill the table, no older entry can remain: an index past them is an error again', () => {
    const d = new HpackDecoder(false, { unknownRefs: 0 }, 256);
    d.decode(block({ name: 'a', value: 'x'.repeat(100), indexing: true }, { name: 'b', value: 'y'.repeat(100), indexing: true }));
    assert.equal(d.partial, false, '256 - 2×133 leaves no room for a 32-octet entry');
    assert.throws(() => d.decode(block({ index: 63 })), HpackError);
  });
  it('desync(): everything in the table becomes unknown, even what was decoded before', () => {
    const d = new HpackDecoder(true);
    d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'));
    assert.deepEqual(d.decode(block({ index: 62 })), [f(':authority', 'www.example.com')]);
    d.desync();
    assert.deepEqual(d.decode(block({ index: 62 })), [f(undefined, undefined)]);
  });
});

describe('HPACK: malformed input', () => {
  const cases: Array<[string, Buffer]> = [
    ['index 0', hex('80')],
    ['index past the table', hex('be')],
    ['truncated integer', hex('ff')],
    ['integer overflow', hex('ff ff ff ff ff ff 0f')],
    ['integer with 6 continuation octets (overlong zeros)', hex('ff 80 80 80 80 80 80 00')],
    ['string length of 200 zero continuation octets (would reach NaN)', hex(`0001 617f ${'80'.repeat(200)} 01`)],
    ['string past the end', hex('0005 61')],
    ['Huffman padding of zeros', hex('0081 00')],
    ['Huffman padding longer than 7 bits', hex('0082 1fff')],
    ['EOS inside a string', hex('0084 ffff ffff')],
  ];
  for (const [what, bytes] of cases) {
    it(what, () => {
      assert.throws(() => new HpackDecoder(true).decode(bytes), HpackError);
    });
  }
  it('random bytes: only HpackError, never a hang or another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, complete) => {
        const d = new HpackDecoder(complete);
        try {
          d.decode(bytes);
        } catch (e) {
          if (!(e instanceof HpackError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('Huffman', () => {
  const codes = huffmanCodes();
  function encode(s: Buffer): Buffer {
    let bits = 0n;
    let n = 0;
    for (const b of s) {
      const [code, len] = codes[b];
      bits = (bits << BigInt(len)) | BigInt(code);
      n += len;
    }
    const pad = (8 - (n % 8)) % 8;
    bits = (bits << BigInt(pad)) | ((1n << BigInt(pad)) - 1n);
    n += pad;
    const out = Buffer.alloc(n / 8);
    for (let i = out.length - 1; i >= 0; i--) {
      out[i] = Number(bits & 0xffn);
      bits >>= 8n;
    }
    return out;
  }
  it('the code table: 257 canonical codes, "www.example.com" encodes as the RFC says', () => {
    assert.equal(codes.length, 257);
    assert.deepEqual(codes[256], [0x3fffffff, 30]);
    assert.equal(encode(Buffer.from('www.example.com')).toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff');
  });
  it('every byte value round-trips', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const e = encode(all);
    assert.equal(huffmanDecode(e, 0, e.length), all.toString('latin1'));
  });
  it('random strings round-trip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const b = Buffer.from(bytes);
        const e = encode(b);
        assert.equal(huffmanDecode(e, 0, e.length), b.toString('latin1'));
      }),
      { numRuns: 500 },
    );
  });
});
