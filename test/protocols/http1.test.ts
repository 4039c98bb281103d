// HTTP/1.x exchange parser: every scenario is replayed whole, with each push
// split in two at every byte boundary, and in random chunk sizes; the
// transactions, counters and upgrade flag must be exactly the expected ones
// in every replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import {
  Http1Exchange,
  looksLikeHttp1Request,
  looksLikeHttp1Response,
  newHttp1Stats,
  type Http1Stats,
  type Http1Transaction,
} from '../../src/protocols/http1';

type Dir = 'req' | 'resp';
type Step =
  | { readonly dir: Dir; readonly data: Uint8Array; readonly ts: bigint }
  | { readonly dir: Dir; readonly skip: number; readonly ts: bigint }
  | { readonly close: bigint };

type Part = string | readonly number[] | Uint8Array;

/** Bytes from latin1 strings and raw byte lists. */
function bytes(...parts: Part[]): Uint8Array {
  const arrays = parts.map((p) =>
    typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : Uint8Array.from(p),
  );
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

const req = (ts: number, ...parts: Part[]): Step => ({ dir: 'req', data: bytes(...parts), ts: BigInt(ts) });
const resp = (ts: number, ...parts: Part[]): Step => ({ dir: 'resp', data: bytes(...parts), ts: BigInt(ts) });
const skipReq = (ts: number, n: number): Step => ({ dir: 'req', skip: n, ts: BigInt(ts) });
const skipResp = (ts: number, n: number): Step => ({ dir: 'resp', skip: n, ts: BigInt(ts) });
const close = (ts: number): Step => ({ close: BigInt(ts) });

function stats(s: Partial<Http1Stats>): Http1Stats {
  return { ...newHttp1Stats(), ...s };
}

interface Outcome {
  txs: Http1Transaction[];
  stats: Http1Stats;
  upgraded: boolean;
  /** Bounds crossed (src/protocols/limits.ts): the exchange stops at the first. */
  limits: string[];
}

/** Chunk lengths for push number `step` of `len` bytes. */
type Chunker = (step: number, len: number) => readonly number[];

const whole: Chunker = (_step, len) => [len];

function splitAt(target: number, k: number): Chunker {
  return (step, len) => (step === target ? [k, len - k] : [len]);
}

function cyclic(sizes: readonly number[]): Chunker {
  let i = 0;
  return (_step, len) => {
    const out: number[] = [];
    for (let left = len; left > 0; ) {
      const n = Math.min(sizes[i++ % sizes.length], left);
      out.push(n);
      left -= n;
    }
    return out;
  };
}

const SCRATCH_OFFSET = 7;

function play(steps: readonly Step[], chunker: Chunker): Outcome {
  const txs: Http1Transaction[] = [];
  const limits: string[] = [];
  const ex = new Http1Exchange({ transaction: (tx) => txs.push(tx), limit: (limit) => limits.push(limit) });
  let max = 0;
  for (const s of steps) if ('data' in s) max = Math.max(max, s.data.length);
  // The agent hands out views of a batch buffer it reuses: do the same,
  // at an odd offset, and clobber the bytes once the call returns.
  const scratch = new Uint8Array(max + SCRATCH_OFFSET);
  steps.forEach((s, i) => {
    if ('close' in s) {
      ex.close(s.close);
    } else if ('skip' in s) {
      if (s.dir === 'req') ex.skipRequest(s.skip, s.ts);
      else ex.skipResponse(s.skip, s.ts);
    } else {
      let off = 0;
      for (const n of chunker(i, s.data.length)) {
        const view = scratch.subarray(SCRATCH_OFFSET, SCRATCH_OFFSET + n);
        view.set(s.data.subarray(off, off + n));
        if (s.dir === 'req') ex.pushRequest(view, s.ts);
        else ex.pushResponse(view, s.ts);
        view.fill(0);
        off += n;
      }
    }
  });
  return { txs, stats: { ...ex.stats }, upgraded: ex.upgraded, limits };
}

// Splitting every push at every offset costs O(bytes^2) per scenario. It
// is done for every push up to 1 KiB; for the few big pushes (the 1 MiB
// body, the oversized header section) both ends are split at every offset
// and the middle at a stride, unless SIDELIGHT_EXHAUSTIVE=1 (about 10 s more).
const EXHAUSTIVE = process.env.SIDELIGHT_EXHAUSTIVE === '1';

function splitOffsets(len: number): number[] {
  const out: number[] = [];
  for (let k = 1; k < len; k++) {
    if (EXHAUSTIVE || len <= 1024 || k <= 128 || k >= len - 128 || k % 61 === 0) out.push(k);
  }
  return out;
}

interface Expected {
  txs: Http1Transaction[];
  stats: Http1Stats;
  upgraded?: boolean;
  limits?: string[];
}

function scenario(name: string, steps: readonly Step[], expected: Expected): void {
  const want: Outcome = { txs: expected.txs, stats: expected.stats, upgraded: expected.upgraded ?? false, limits: expected.limits ?? [] };
  test(name, async (t) => {
    await t.test('whole pushes', () => {
      assert.deepStrictEqual(play(steps, whole), want);
    });
    await t.test('each push split in two at every offset', () => {
      let replays = 0;
      steps.forEach((s, i) => {
        if (!('data' in s)) return;
        for (const k of splitOffsets(s.data.length)) {
          assert.deepStrictEqual(play(steps, splitAt(i, k)), want, `step ${i} split at ${k}`);
          replays++;
        }
      });
      assert.ok(replays > 0);
    });
    await t.test('random chunk sizes', () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 48 }), { minLength: 1, maxLength: 24 }), (sizes) => {
          assert.deepStrictEqual(play(steps, cyclic(sizes)), want);
        }),
        { seed: 1907, numRuns: 100 },
      );
    });
  });
}

// ---------------------------------------------------------------------------
// 1. Keep-alive: two exchanges on one connection.

scenario(
  '1. GET 200 with Content-Length, then a second request on the same connection',
  [
    req(1, 'GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello'),
    req(3, 'GET /second HTTP/1.1\r\nHost: example.com\r\n\r\n'),
    resp(4, 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n'),
    resp(5, 'hello world!'),
    close(6),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/a/b?x=1', host: 'example.com', userAgent: 'curl/8.5.0',
        status: 200, startNs: 1n, endNs: 2n, requestBodyBytes: 0, responseBodyBytes: 5, truncated: false, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/second', host: 'example.com', userAgent: undefined,
        status: 200, startNs: 3n, endNs: 5n, requestBodyBytes: 0, responseBodyBytes: 12, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 2, responses: 2, transactions: 2 }),
  },
);

// ---------------------------------------------------------------------------
// 2. Pipelining.

interface PipeCase {
  method: string;
  target: string;
  reqBody: string;
  status: number;
  respBody: string;
  declaredLength: number;
}

const PIPE: PipeCase[] = Array.from({ length: 10 }, (_, i) => ({
  method: i === 4 ? 'HEAD' : i === 6 ? 'POST' : i === 8 ? 'DELETE' : 'GET',
  target: `/p/${i}`,
  reqBody: i === 6 ? 'abc' : '',
  status: [200, 201, 202, 200, 200, 404, 201, 200, 500, 200][i],
  // A HEAD response announces a length but carries no body (RFC 9112 §6.3).
  respBody: i === 4 ? '' : 'x'.repeat(i + 1),
  declaredLength: i === 4 ? 1000 : i + 1,
}));

function pipeRequest(c: PipeCase): string {
  const len = c.reqBody.length > 0 ? `Content-Length: ${c.reqBody.length}\r\n` : '';
  return `${c.method} ${c.target} HTTP/1.1\r\nHost: pipe.test\r\n${len}\r\n${c.reqBody}`;
}

function pipeResponse(c: PipeCase): string {
  return `HTTP/1.1 ${c.status} Whatever\r\nContent-Length: ${c.declaredLength}\r\n\r\n${c.respBody}`;
}

scenario(
  '2a. ten pipelined requests in one push, ten responses in one push',
  [req(1, PIPE.map(pipeRequest).join('')), resp(2, PIPE.map(pipeResponse).join('')), close(3)],
  {
    txs: PIPE.map((c) => ({
      protocol: 'HTTP/1.1', method: c.method, target: c.target, host: 'pipe.test', userAgent: undefined,
      status: c.status, startNs: 1n, endNs: 2n, requestBodyBytes: c.reqBody.length,
      responseBodyBytes: c.respBody.length, truncated: false, ctx: undefined,
    })),
    stats: stats({ requests: 10, responses: 10, transactions: 10 }),
  },
);

scenario(
  '2b. pipelined requests with responses interleaved',
  [
    req(1, pipeRequest(PIPE[0]), pipeRequest(PIPE[4])),
    resp(2, pipeResponse(PIPE[0])),
    req(3, pipeRequest(PIPE[6])),
    resp(4, pipeResponse(PIPE[4]), 'HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\n0123'),
    resp(5, '456789'),
    req(6, pipeRequest(PIPE[9])),
    resp(7, pipeResponse(PIPE[9])),
    close(8),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/p/0', host: 'pipe.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 2n, requestBodyBytes: 0, responseBodyBytes: 1, truncated: false, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'HEAD', target: '/p/4', host: 'pipe.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 4n, requestBodyBytes: 0, responseBodyBytes: 0, truncated: false, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'POST', target: '/p/6', host: 'pipe.test', userAgent: undefined,
        status: 201, startNs: 3n, endNs: 5n, requestBodyBytes: 3, responseBodyBytes: 10, truncated: false, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/p/9', host: 'pipe.test', userAgent: undefined,
        status: 200, startNs: 6n, endNs: 7n, requestBodyBytes: 0, responseBodyBytes: 10, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 4, responses: 4, transactions: 4 }),
  },
);

// ---------------------------------------------------------------------------
// 3. Request bodies.

scenario(
  '3. POST with Content-Length; POST chunked with extensions and trailers',
  [
    req(
      1,
      'POST /submit HTTP/1.1\r\nHost: api.test\r\nContent-Type: application/x-www-form-urlencoded\r\n',
      'Content-Length: 11\r\n\r\nhello=world',
    ),
    resp(2, 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n'),
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3 (3)).
    req(3, 'POST /chunked HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 999\r\n\r\n'),
    req(4, '5;name=value\r\nhello\r\n1a ; a=1;b="q"\r\nabcdefghijklmnopqrstuvwxyz\r\n'),
    req(5, '0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n'),
    resp(6, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    close(7),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'POST', target: '/submit', host: 'api.test', userAgent: undefined,
        status: 201, startNs: 1n, endNs: 2n, requestBodyBytes: 11, responseBodyBytes: 0, truncated: false, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'POST', target: '/chunked', host: 'api.test', userAgent: undefined,
        status: 200, startNs: 3n, endNs: 6n, requestBodyBytes: 31, responseBodyBytes: 2, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 2, responses: 2, transactions: 2 }),
  },
);

// ---------------------------------------------------------------------------
// 4. Response bodies.

function get(target: string, extra = ''): string {
  return `GET ${target} HTTP/1.1\r\nHost: r.test\r\n${extra}\r\n`;
}

function simple(method: string, target: string, status: number, startNs: number, endNs: number, respBody: number): Http1Transaction {
  return {
    protocol: 'HTTP/1.1', method, target, host: 'r.test', userAgent: undefined, status,
    startNs: BigInt(startNs), endNs: BigInt(endNs), requestBodyBytes: 0, responseBodyBytes: respBody, truncated: false, ctx: undefined,
  };
}

scenario(
  '4. chunked, zero Content-Length, 204, 304 and HEAD responses',
  [
    req(1, get('/chunked')),
    resp(2, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n'),
    req(3, get('/empty')),
    resp(4, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    req(5, 'DELETE /item/7 HTTP/1.1\r\nHost: r.test\r\n\r\n'),
    resp(6, 'HTTP/1.1 204 No Content\r\n\r\n'),
    req(7, get('/cached', 'If-None-Match: "v1"\r\n')),
    resp(8, 'HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: "v1"\r\n\r\n'),
    req(9, 'HEAD /big HTTP/1.1\r\nHost: r.test\r\n\r\n'),
    resp(10, 'HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nContent-Type: application/octet-stream\r\n\r\n'),
    req(11, get('/trailers', 'TE: trailers\r\n')),
    resp(12, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Expires\r\n\r\n'),
    resp(13, 'a\r\n0123456789\r\n'),
    resp(14, '0\r\nExpires: never\r\n\r\n'),
    req(15, get('/last')),
    resp(16, 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'),
    close(17),
  ],
  {
    txs: [
      simple('GET', '/chunked', 200, 1, 2, 23),
      simple('GET', '/empty', 200, 3, 4, 0),
      simple('DELETE', '/item/7', 204, 5, 6, 0),
      simple('GET', '/cached', 304, 7, 8, 0),
      simple('HEAD', '/big', 200, 9, 10, 0),
      simple('GET', '/trailers', 200, 11, 14, 10),
      simple('GET', '/last', 200, 15, 16, 2),
    ],
    stats: stats({ requests: 7, responses: 7, transactions: 7 }),
  },
);

// ---------------------------------------------------------------------------
// 5. Interim responses.

scenario(
  '5. Expect: 100-continue, and 103 Early Hints before the final response',
  [
    req(1, 'PUT /upload HTTP/1.1\r\nHost: files.test\r\nUser-Agent: uploader/2\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n'),
    resp(2, 'HTTP/1.1 100 Continue\r\n\r\n'),
    req(3, '0123456789'),
    resp(4, 'HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\ncreated'),
    req(5, 'GET /page HTTP/1.1\r\nHost: files.test\r\n\r\n'),
    resp(6, 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n'),
    resp(7, 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npage'),
    close(8),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'PUT', target: '/upload', host: 'files.test', userAgent: 'uploader/2',
        status: 201, startNs: 1n, endNs: 4n, requestBodyBytes: 10, responseBodyBytes: 7, truncated: false, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/page', host: 'files.test', userAgent: undefined,
        status: 200, startNs: 5n, endNs: 7n, requestBodyBytes: 0, responseBodyBytes: 4, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 2, responses: 2, transactions: 2 }),
  },
);

// ---------------------------------------------------------------------------
// 6. Bodies that end with the connection.

scenario(
  '6a. HTTP/1.0 response without Content-Length ends at close()',
  [
    req(1, 'GET /index.html HTTP/1.0\r\nUser-Agent: legacy/1.0\r\n\r\n'),
    resp(2, 'HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>'),
    resp(3, '</html>'),
    close(9),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.0', method: 'GET', target: '/index.html', host: undefined, userAgent: 'legacy/1.0',
        status: 200, startNs: 1n, endNs: 3n, requestBodyBytes: 0, responseBodyBytes: 13, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 1, responses: 1, transactions: 1 }),
  },
);

scenario(
  '6b. Connection: close with Content-Length; read-until-close body partly uncaptured',
  [
    req(1, 'GET /bye HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye'),
    close(3),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/bye', host: 'h.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 2n, requestBodyBytes: 0, responseBodyBytes: 3, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 1, responses: 1, transactions: 1 }),
  },
);

scenario(
  '6c. response without length, tail skipped, then close; Transfer-Encoding not chunked also reads until close',
  [
    req(1, 'GET /stream HTTP/1.1\r\nHost: h.test\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'),
    resp(3, 'x'.repeat(100)),
    skipResp(3, 5000),
    close(4),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/stream', host: 'h.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 3n, requestBodyBytes: 0, responseBodyBytes: 5100, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 1, responses: 1, transactions: 1 }),
  },
);

// ---------------------------------------------------------------------------
// 7. Bodies larger than the capture limit.

function bigBody(): Step[] {
  const steps: Step[] = [
    req(1, 'GET /big HTTP/1.1\r\nHost: big.test\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n'),
  ];
  // 64 writes of 16 KiB, of which only the first 4 KiB were captured.
  const captured = 'b'.repeat(4096);
  for (let w = 0; w < 64; w++) {
    steps.push(resp(100 + w, captured), skipResp(100 + w, 12288));
  }
  steps.push(
    req(200, 'POST /upload HTTP/1.1\r\nHost: big.test\r\nContent-Length: 65536\r\n\r\n', 'u'.repeat(1000)),
    skipReq(200, 64536),
    resp(201, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    close(202),
  );
  return steps;
}

scenario('7. 1 MiB body captured 4 KiB of every 16 KiB write, then the next exchange', bigBody(), {
  txs: [
    {
      protocol: 'HTTP/1.1', method: 'GET', target: '/big', host: 'big.test', userAgent: undefined,
      status: 200, startNs: 1n, endNs: 163n, requestBodyBytes: 0, responseBodyBytes: 1048576, truncated: false, ctx: undefined,
    },
    {
      protocol: 'HTTP/1.1', method: 'POST', target: '/upload', host: 'big.test', userAgent: undefined,
      status: 200, startNs: 200n, endNs: 201n, requestBodyBytes: 65536, responseBodyBytes: 2, truncated: false, ctx: undefined,
    },
  ],
  stats: stats({ requests: 2, responses: 2, transactions: 2 }),
});

scenario(
  '7b. chunked bodies whose chunks are larger than the capture: each chunk and its CRLF stepped over by count',
  [
    req(1, 'GET /stream HTTP/1.1\r\nHost: s.test\r\n\r\n'),
    // 64 KiB chunks: each read captured the chunk-size line and 100 bytes.
    resp(2, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n', 'c'.repeat(100)),
    skipResp(3, 65536 - 100 + 2),
    resp(4, '10000\r\n', 'c'.repeat(100)),
    // This time the unseen bytes stop between the CR and the LF.
    skipResp(5, 65536 - 100 + 1),
    resp(6, '\n10000\r\n'),
    skipResp(7, 65536),
    skipResp(8, 1),
    skipResp(9, 1),
    resp(10, '0\r\n\r\n'),
    req(11, 'GET /next HTTP/1.1\r\nHost: s.test\r\n\r\n'),
    resp(12, 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc'),
    close(13),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/stream', host: 's.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 10n, requestBodyBytes: 0, responseBodyBytes: 3 * 65536, truncated: false, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/next', host: 's.test', userAgent: undefined,
        status: 200, startNs: 11n, endNs: 12n, requestBodyBytes: 0, responseBodyBytes: 3, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 2, responses: 2, transactions: 2 }),
  },
);

// ---------------------------------------------------------------------------
// 8. Lost framing.

scenario(
  '8a. response skip hides a chunk-size line: truncated, then resync pairs the next exchange',
  [
    req(1, 'GET /stream HTTP/1.1\r\nHost: s.test\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n'),
    skipResp(3, 100),
    resp(4, 'tail of the stream\r\n0\r\n\r\n'),
    req(5, 'GET /next HTTP/1.1\r\nHost: s.test\r\n\r\n'),
    resp(6, 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc'),
    close(7),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/stream', host: 's.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 4n, requestBodyBytes: 0, responseBodyBytes: 16, truncated: true, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/next', host: 's.test', userAgent: undefined,
        status: 200, startNs: 5n, endNs: 6n, requestBodyBytes: 0, responseBodyBytes: 3, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 2, responses: 2, transactions: 2, parseErrors: 1, discardedBytes: 125 }),
  },
);

scenario(
  '8b. request skip hides a chunk-size line: request truncated, still paired with its response',
  [
    req(1, 'POST /up HTTP/1.1\r\nHost: u.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'),
    skipReq(2, 50),
    req(3, 'world\r\n0\r\n\r\n'),
    resp(4, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    req(5, 'GET /next HTTP/1.1\r\nHost: u.test\r\n\r\n'),
    resp(6, 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'),
    close(7),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'POST', target: '/up', host: 'u.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 4n, requestBodyBytes: 5, responseBodyBytes: 0, truncated: true, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/next', host: 'u.test', userAgent: undefined,
        status: 404, startNs: 5n, endNs: 6n, requestBodyBytes: 0, responseBodyBytes: 0, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 2, responses: 2, transactions: 2, parseErrors: 1, discardedBytes: 62 }),
  },
);

scenario(
  '8c. response skip runs past the end of a body into the next response: pipelined request dropped',
  [
    req(1, 'GET /a HTTP/1.1\r\nHost: p.test\r\n\r\nGET /b HTTP/1.1\r\nHost: p.test\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'x'.repeat(10)),
    skipResp(3, 200), // 90 body bytes, then 110 bytes of the answer to /b
    resp(4, 'y'.repeat(20)),
    req(5, 'GET /c HTTP/1.1\r\nHost: p.test\r\n\r\n'),
    resp(6, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc'),
    close(7),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/a', host: 'p.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 3n, requestBodyBytes: 0, responseBodyBytes: 100, truncated: false, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/c', host: 'p.test', userAgent: undefined,
        status: 200, startNs: 5n, endNs: 6n, requestBodyBytes: 0, responseBodyBytes: 1, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({
      requests: 3, responses: 2, transactions: 2, parseErrors: 1, discardedBytes: 130, unansweredRequests: 1,
    }),
  },
);

scenario(
  '8d. response skip hides a status line: its request is dropped, never paired later',
  [
    req(1, 'GET /x HTTP/1.1\r\nHost: d.test\r\n\r\n'),
    skipResp(2, 60),
    req(3, 'GET /y HTTP/1.1\r\nHost: d.test\r\n\r\n'),
    resp(4, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    close(5),
  ],
  {
    txs: [simpleHost('GET', '/y', 'd.test', 200, 3, 4, 0)],
    stats: stats({
      requests: 2, responses: 1, transactions: 1, parseErrors: 1, discardedBytes: 60, unansweredRequests: 1,
    }),
  },
);

scenario(
  '8e. request skip hides a request head: its late answer is not paired with the next request',
  [
    req(1, 'GET /a HTTP/1.1\r\nHost: g.test\r\n'),
    skipReq(2, 40),
    req(4, 'GET /b HTTP/1.1\r\nHost: g.test\r\n\r\n'),
    // Delivered after /b but moved by an earlier syscall: the answer to /a.
    resp(3, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    resp(5, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    close(6),
  ],
  {
    txs: [simpleHost('GET', '/b', 'g.test', 200, 4, 5, 0)],
    stats: stats({
      requests: 1, responses: 2, transactions: 1, parseErrors: 1, discardedBytes: 71, unmatchedResponses: 1,
    }),
  },
);

scenario(
  '8f. truncated response with a pipelined request behind it: emitted at once, follower dropped',
  [
    req(1, 'GET /a HTTP/1.1\r\nHost: f.test\r\n\r\nGET /b HTTP/1.1\r\nHost: f.test\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n'),
    skipResp(3, 10),
    resp(4, 'zzz'),
    resp(5, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    close(6),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/a', host: 'f.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 3n, requestBodyBytes: 0, responseBodyBytes: 3, truncated: true, ctx: undefined,
      },
    ],
    stats: stats({
      requests: 2, responses: 2, transactions: 1, parseErrors: 1, discardedBytes: 13,
      unmatchedResponses: 1, unansweredRequests: 1,
    }),
  },
);

scenario(
  '8g. a chunk size overflowing 2^53 crosses a bound: the connection stops, the cut response is never reported',
  [
    req(1, 'GET /o HTTP/1.1\r\nHost: o.test\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n'),
    req(3, 'GET /after HTTP/1.1\r\nHost: o.test\r\n\r\n'),
    resp(4, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    close(5),
  ],
  {
    txs: [],
    stats: stats({ requests: 1, responses: 1, unansweredRequests: 1 }),
    limits: ['http1_chunk_size'],
  },
);

scenario(
  '8h. connection closed in the middle of a Content-Length body: truncated, no parse error',
  [
    req(1, 'GET /cut HTTP/1.1\r\nHost: c.test\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n', 'x'.repeat(20)),
    close(3),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/cut', host: 'c.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 2n, requestBodyBytes: 0, responseBodyBytes: 20, truncated: true, ctx: undefined,
      },
    ],
    stats: stats({ requests: 1, responses: 1, transactions: 1 }),
  },
);

function simpleHost(
  method: string, target: string, host: string, status: number, startNs: number, endNs: number, respBody: number,
): Http1Transaction {
  return {
    protocol: 'HTTP/1.1', method, target, host, userAgent: undefined, status,
    startNs: BigInt(startNs), endNs: BigInt(endNs), requestBodyBytes: 0, responseBodyBytes: respBody, truncated: false, ctx: undefined,
  };
}

// ---------------------------------------------------------------------------
// 9. Observation starting in the middle of a connection.

scenario(
  '9a. response with no request: counted as unmatched, nothing emitted',
  [resp(1, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'), close(2)],
  { txs: [], stats: stats({ responses: 1, unmatchedResponses: 1 }) },
);

scenario(
  '9b. both directions first seen mid-message: nothing until a clean request start',
  [
    resp(1, 'ody bytes of a response already under way'),
    req(2, '=1&b=2&c=3'),
    resp(3, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    req(4, 'GET /x HTTP/1.1\r\nHost: m.test\r\n\r\n'),
    resp(5, 'HTTP/1.1 204 No Content\r\n\r\n'),
    close(6),
  ],
  {
    txs: [simpleHost('GET', '/x', 'm.test', 204, 4, 5, 0)],
    stats: stats({
      requests: 1, responses: 2, transactions: 1, parseErrors: 2, discardedBytes: 51, unmatchedResponses: 1,
    }),
  },
);

// ---------------------------------------------------------------------------
// 10. Garbage on the request side.

scenario(
  '10. garbage bytes on the request side, then a valid request at the start of a later push',
  [
    req(1, 'GET /first HTTP/1.1\r\nHost: g.test\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    req(3, [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]),
    req(4, [0x00, 0x01, 0x5b, 0x7b, 0x7d, 0x5d]),
    req(5, 'GET /second HTTP/1.1\r\nHost: g.test\r\n\r\n'),
    resp(6, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'),
    close(7),
  ],
  {
    txs: [simpleHost('GET', '/first', 'g.test', 200, 1, 2, 0), simpleHost('GET', '/second', 'g.test', 200, 5, 6, 2)],
    stats: stats({ requests: 2, responses: 2, transactions: 2, parseErrors: 1, discardedBytes: 17 }),
  },
);

scenario(
  '10b. a header section over 64 KiB crosses a bound: the connection stops, nothing after it is parsed',
  [
    req(1, 'GET /huge HTTP/1.1\r\nHost: big.test\r\nX-Pad: ', 'a'.repeat(70000), '\r\n\r\n'),
    resp(2, 'HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n'),
    req(3, 'GET /small HTTP/1.1\r\nHost: big.test\r\n\r\n'),
    resp(4, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    close(5),
  ],
  {
    txs: [],
    stats: stats({}),
    limits: ['http1_head'],
  },
);

scenario(
  '10c. conflicting Content-Length values and a non-chunked request Transfer-Encoding are parse errors',
  [
    req(1, 'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'),
    resp(2, 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'),
    req(3, 'POST /y HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n'),
    resp(4, 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'),
    req(5, 'POST /dup HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\nhello'),
    resp(6, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    close(7),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'POST', target: '/dup', host: 'h', userAgent: undefined,
        status: 200, startNs: 5n, endNs: 6n, requestBodyBytes: 5, responseBodyBytes: 0, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({
      requests: 1, responses: 3, transactions: 1, parseErrors: 2, discardedBytes: 73 + 54, unmatchedResponses: 2,
    }),
  },
);

// ---------------------------------------------------------------------------
// 11. Protocol switches.

scenario(
  '11a. 101 Switching Protocols: transaction emitted, later bytes ignored',
  [
    req(
      1,
      'GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    ),
    resp(2, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', [0x81, 0x02, 0x68, 0x69]),
    req(3, [0x81, 0x82, 1, 2, 3, 4, 0x69, 0x6b]),
    resp(4, 'HTTP/1.1 200 OK\r\n\r\n'),
    skipReq(5, 100),
    close(6),
  ],
  {
    txs: [simpleHost('GET', '/chat', 'ws.test', 101, 1, 2, 0)],
    stats: stats({ requests: 1, responses: 1, transactions: 1 }),
    upgraded: true,
  },
);

scenario(
  '11b. 2xx answer to CONNECT turns the connection into a tunnel',
  [
    req(1, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nUser-Agent: curl/8.5.0\r\n\r\n'),
    resp(2, 'HTTP/1.1 200 Connection established\r\n\r\n'),
    req(3, [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]),
    resp(4, [0x16, 0x03, 0x03, 0x00, 0x02, 9, 9]),
    close(5),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'CONNECT', target: 'example.com:443', host: 'example.com:443',
        userAgent: 'curl/8.5.0', status: 200, startNs: 1n, endNs: 2n, requestBodyBytes: 0,
        responseBodyBytes: 0, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 1, responses: 1, transactions: 1 }),
    upgraded: true,
  },
);

// ---------------------------------------------------------------------------
// 12. Lenient syntax.

scenario(
  '12. 404 with a small body, bare LF, lowercase names, missing reason, obs-fold',
  [
    req(1, 'GET /missing HTTP/1.1\nhost: example.org\nuser-agent: test/1.0\n\n'),
    resp(2, 'HTTP/1.1 404\ncontent-length: 9\n\nnot found'),
    // A stray CRLF before a request-line is ignored (RFC 9112 §2.2).
    req(3, '\r\nGET /again HTTP/1.1\r\nHOST: example.org\r\nUser-Agent: first\r\n  folded\r\n\r\n'),
    resp(4, 'HTTP/1.1 404 \r\nContent-Length: 4\r\n\r\nnope'),
    close(5),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/missing', host: 'example.org', userAgent: 'test/1.0',
        status: 404, startNs: 1n, endNs: 2n, requestBodyBytes: 0, responseBodyBytes: 9, truncated: false, ctx: undefined,
      },
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/again', host: 'example.org', userAgent: 'first folded',
        status: 404, startNs: 3n, endNs: 4n, requestBodyBytes: 0, responseBodyBytes: 4, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 2, responses: 2, transactions: 2 }),
  },
);

// ---------------------------------------------------------------------------
// 13. Close with requests outstanding.

scenario(
  '13. close with two requests pending counts them as unanswered',
  [
    req(1, get('/1'), get('/2'), get('/3')),
    resp(2, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    close(3),
  ],
  {
    txs: [simple('GET', '/1', 200, 1, 2, 0)],
    stats: stats({ requests: 3, responses: 1, transactions: 1, unansweredRequests: 2 }),
  },
);

// ---------------------------------------------------------------------------
// Timestamps when a message start is split across syscalls.

scenario(
  '14. start lines split across syscalls: startNs is the first byte\'s, in sync and at (re)synchronisation',
  [
    req(1, 'P'), // fresh connection: a prefix of a method is held until it can be judged
    req(2, 'OST /a HTTP/1.1\r\nHost: q.test\r\nContent-Length: 2\r\n\r\nhi'),
    resp(3, 'HT'),
    resp(4, 'TP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    req(5, 'GET /b HT'),
    req(6, 'TP/1.1\r\nHost: q.test\r\n\r\n'),
    resp(7, 'HTTP/1.1 204 No Content\r\n\r\n'),
    resp(8, [0x00, 0x01]),
    req(9, 'G'),
    req(10, 'ET /c HTTP/1.1\r\n\r\n'),
    resp(11, 'H'),
    resp(12, 'TTP/1.1 204 No Content\r\n\r\n'),
    close(13),
  ],
  {
    txs: [
      {
        protocol: 'HTTP/1.1', method: 'POST', target: '/a', host: 'q.test', userAgent: undefined,
        status: 200, startNs: 1n, endNs: 4n, requestBodyBytes: 2, responseBodyBytes: 0, truncated: false, ctx: undefined,
      },
      simpleHost('GET', '/b', 'q.test', 204, 5, 7, 0),
      {
        protocol: 'HTTP/1.1', method: 'GET', target: '/c', host: undefined, userAgent: undefined,
        status: 204, startNs: 9n, endNs: 12n, requestBodyBytes: 0, responseBodyBytes: 0, truncated: false, ctx: undefined,
      },
    ],
    stats: stats({ requests: 3, responses: 3, transactions: 3, parseErrors: 1, discardedBytes: 2 }),
  },
);

// ---------------------------------------------------------------------------
// API details.

test('looksLikeHttp1Request / looksLikeHttp1Response', () => {
  for (const s of ['GET / HTTP/1.1', 'POST ', 'PROPFIND /dav HTTP/1.1', 'CONNECT h:443 HTTP/1.1', 'PATCH x']) {
    assert.equal(looksLikeHttp1Request(bytes(s)), true, s);
  }
  for (const s of ['', 'GET', 'GE', 'get / HTTP/1.1', 'GETX / HTTP/1.1', 'HTTP/1.1 200 OK', '\r\nGET /', 'PRI * HTTP/2.0']) {
    assert.equal(looksLikeHttp1Request(bytes(s)), false, JSON.stringify(s));
  }
  for (const s of ['HTTP/1.1 200 OK', 'HTTP/1.0 404', 'HTTP/1.']) {
    assert.equal(looksLikeHttp1Response(bytes(s)), true, s);
  }
  for (const s of ['', 'HTTP/1', 'HTTP/2 200', 'http/1.1 200', 'GET / HTTP/1.1']) {
    assert.equal(looksLikeHttp1Response(bytes(s)), false, JSON.stringify(s));
  }
});

test('shared stats object, pendingRequests, and no calls after close', () => {
  const shared = newHttp1Stats();
  const txs: Http1Transaction[] = [];
  const a = new Http1Exchange({ transaction: (tx) => txs.push(tx) }, shared);
  const b = new Http1Exchange({ transaction: (tx) => txs.push(tx) }, shared);
  assert.equal(a.stats, shared);
  a.pushRequest(bytes(get('/a1'), get('/a2')), 1n);
  b.pushRequest(bytes(get('/b1')), 2n);
  assert.equal(a.pendingRequests, 2);
  assert.equal(b.pendingRequests, 1);
  b.pushResponse(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), 3n);
  assert.equal(b.pendingRequests, 0);
  a.close(4n);
  a.pushResponse(bytes('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), 5n);
  b.close(6n);
  assert.deepStrictEqual(txs, [simple('GET', '/b1', 200, 2, 3, 0)]);
  assert.deepStrictEqual(shared, stats({ requests: 3, responses: 1, transactions: 1, unansweredRequests: 2 }));
  assert.equal(new Http1Exchange({ transaction: () => undefined }).stats === shared, false);
});

// ---------------------------------------------------------------------------
// Generated conversations. Each response's status code identifies its
// request (target /id/<i>), so a mis-pairing is visible in any transaction.

const STATUS_OF = [200, 201, 202, 203, 400, 401, 403, 404, 500, 503];

interface ExchangeSpec {
  reqKind: 'none' | 'length' | 'chunked';
  reqBody: number;
  respChunked: boolean;
  respBody: number;
  /** Where each message is cut into separate syscalls (fractions of its length). */
  reqCuts: number[];
  respCuts: number[];
}

const exchangeSpec: fc.Arbitrary<ExchangeSpec> = fc.record({
  reqKind: fc.constantFrom<ExchangeSpec['reqKind']>('none', 'length', 'chunked'),
  reqBody: fc.integer({ min: 0, max: 40 }),
  respChunked: fc.boolean(),
  respBody: fc.integer({ min: 0, max: 60 }),
  reqCuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 2 }),
  respCuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 2 }),
});

function body(n: number): string {
  return 'abcdefghijklmnopqrstuvwxyz'.repeat(3).slice(0, n);
}

function chunked(n: number): string {
  // Two chunks when possible, sizes in hex, then the last chunk.
  const first = Math.floor(n / 2);
  let out = '';
  if (first > 0) out += `${first.toString(16)}\r\n${body(first)}\r\n`;
  if (n - first > 0) out += `${(n - first).toString(16)};x=y\r\n${body(n - first)}\r\n`;
  return out + '0\r\n\r\n';
}

function requestText(i: number, e: ExchangeSpec): string {
  const head = `${e.reqKind === 'none' ? 'GET' : 'POST'} /id/${i} HTTP/1.1\r\nHost: gen.test\r\n`;
  if (e.reqKind === 'none') return head + '\r\n';
  if (e.reqKind === 'length') return `${head}Content-Length: ${e.reqBody}\r\n\r\n${body(e.reqBody)}`;
  return `${head}Transfer-Encoding: chunked\r\n\r\n${chunked(e.reqBody)}`;
}

function responseText(i: number, e: ExchangeSpec): string {
  const head = `HTTP/1.1 ${STATUS_OF[i]} Generated\r\n`;
  if (e.respChunked) return `${head}Transfer-Encoding: chunked\r\n\r\n${chunked(e.respBody)}`;
  return `${head}Content-Length: ${e.respBody}\r\n\r\n${body(e.respBody)}`;
}

function cut(text: string, cuts: readonly number[]): string[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * text.length)))].filter((k) => k > 0 && k < text.length);
  at.sort((a, b) => a - b);
  const parts: string[] = [];
  let prev = 0;
  for (const k of [...at, text.length]) {
    parts.push(text.slice(prev, k));
    prev = k;
  }
  return parts;
}

interface Message {
  dir: Dir;
  parts: string[];
}

/** Requests in batches of `batch` (1: no pipelining), each batch followed by its responses. */
function messages(specs: readonly ExchangeSpec[], batch: number): Message[] {
  const out: Message[] = [];
  for (let b = 0; b < specs.length; b += batch) {
    const ids = specs.slice(b, b + batch).map((_, k) => b + k);
    for (const i of ids) out.push({ dir: 'req', parts: cut(requestText(i, specs[i]), specs[i].reqCuts) });
    for (const i of ids) out.push({ dir: 'resp', parts: cut(responseText(i, specs[i]), specs[i].respCuts) });
  }
  return out;
}

type Damage = 'keep' | 'skip' | 'tail' | 'garbage';
const damage: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Damage>('keep') },
  { weight: 1, arbitrary: fc.constantFrom<Damage>('skip', 'tail', 'garbage') },
);

/**
 * Flattens messages into steps with increasing ts. Damage per syscall:
 * uncaptured entirely (skip), captured only in part (tail skipped), or
 * preceded by a few bytes that are not HTTP at all (garbage).
 */
function damaged(msgs: readonly Message[], hits: readonly Damage[], dirs: readonly Dir[]): Step[] {
  const steps: Step[] = [];
  let ts = 1;
  let n = 0;
  for (const m of msgs) {
    for (const p of m.parts) {
      const d = dirs.includes(m.dir) && hits.length > 0 ? hits[n++ % hits.length] : 'keep';
      const push = m.dir === 'req' ? req : resp;
      const skip = m.dir === 'req' ? skipReq : skipResp;
      if (d === 'garbage') steps.push(push(ts++, [0x00, 0x7b, 0x0d]));
      if (d === 'skip') {
        steps.push(skip(ts++, p.length));
      } else if (d === 'tail' && p.length > 1) {
        const k = Math.ceil(p.length / 2);
        steps.push(push(ts, p.slice(0, k)), skip(ts, p.length - k));
        ts++;
      } else {
        steps.push(push(ts++, p));
      }
    }
  }
  steps.push(close(ts));
  return steps;
}

function idOf(target: string): number {
  return Number(target.slice('/id/'.length));
}

test('generated conversations without damage: every exchange exact', () => {
  fc.assert(
    fc.property(
      fc.array(exchangeSpec, { minLength: 1, maxLength: STATUS_OF.length }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.integer({ min: 1, max: 32 }), { minLength: 1, maxLength: 8 }),
      (specs, batch, sizes) => {
        const steps = damaged(messages(specs, batch), [], []);
        // Expected timing: first step of each request, last step of each response.
        const firstReqTs: bigint[] = [];
        const lastRespTs: bigint[] = [];
        let reqSeen = 0;
        let respSeen = 0;
        let ts = 0n;
        for (const m of messages(specs, batch)) {
          const start = ts + 1n;
          ts += BigInt(m.parts.length);
          if (m.dir === 'req') firstReqTs[reqSeen++] = start;
          else lastRespTs[respSeen++] = ts;
        }
        const out = play(steps, cyclic(sizes));
        assert.deepStrictEqual(
          out.txs,
          specs.map((e, i) => ({
            protocol: 'HTTP/1.1', method: e.reqKind === 'none' ? 'GET' : 'POST', target: `/id/${i}`,
            host: 'gen.test', userAgent: undefined, status: STATUS_OF[i], startNs: firstReqTs[i], endNs: lastRespTs[i],
            requestBodyBytes: e.reqKind === 'none' ? 0 : e.reqBody, responseBodyBytes: e.respBody, truncated: false, ctx: undefined,
          })),
        );
        const n = specs.length;
        assert.deepStrictEqual(out.stats, stats({ requests: n, responses: n, transactions: n }));
      },
    ),
    { seed: 7, numRuns: 300 },
  );
});

function assertNeverMispaired(out: Outcome): void {
  for (const tx of out.txs) {
    assert.equal(tx.status, STATUS_OF[idOf(tx.target)], `response paired with the wrong request: ${tx.target}`);
    assert.ok(tx.startNs <= tx.endNs);
  }
  const s = out.stats;
  assert.equal(s.transactions, out.txs.length);
  assert.ok(s.transactions <= s.requests && s.transactions <= s.responses);
  // Every parsed request ends up exactly once: emitted, dropped, or unanswered at close.
  assert.ok(s.requests >= s.transactions + s.unansweredRequests);
}

test('damaged conversations, one request at a time: damage on either side never mis-pairs', () => {
  fc.assert(
    fc.property(
      fc.array(exchangeSpec, { minLength: 1, maxLength: STATUS_OF.length }),
      fc.array(damage, { minLength: 1, maxLength: 16 }),
      fc.array(fc.integer({ min: 1, max: 32 }), { minLength: 1, maxLength: 8 }),
      (specs, hits, sizes) => {
        assertNeverMispaired(play(damaged(messages(specs, 1), hits, ['req', 'resp']), cyclic(sizes)));
      },
    ),
    { seed: 11, numRuns: 500 },
  );
});

test('damaged responses to pipelined requests never mis-pair', () => {
  fc.assert(
    fc.property(
      fc.array(exchangeSpec, { minLength: 2, maxLength: STATUS_OF.length }),
      fc.integer({ min: 2, max: 5 }),
      fc.array(damage, { minLength: 1, maxLength: 16 }),
      fc.array(fc.integer({ min: 1, max: 32 }), { minLength: 1, maxLength: 8 }),
      (specs, batch, hits, sizes) => {
        assertNeverMispaired(play(damaged(messages(specs, batch), hits, ['resp']), cyclic(sizes)));
      },
    ),
    { seed: 13, numRuns: 500 },
  );
});

// A start line that lies whole in one push is read in tight loops, one cut
// by a push byte by byte: both readings must agree on every line, valid or
// not, at the edges of each rule.
test('start lines read whole give what byte-by-byte reading gives, at every edge of the grammar', () => {
  const method32 = 'M'.repeat(32);
  const requestLines = [
    'GET / HTTP/1.1\r\n', 'GET / HTTP/1.0\n', 'GET /a?b=c HTTP/1.9\r\n', `${method32} / HTTP/1.1\r\n`,
    `${method32}X / HTTP/1.1\r\n`, 'GET  / HTTP/1.1\r\n', ' GET / HTTP/1.1\r\n', 'GET /\x7f HTTP/1.1\r\n',
    'GET /\xe9t\xe9 HTTP/1.1\r\n', 'GET / HTTP/2.0\r\n', 'GET / HTTP/1.x\r\n', 'GET / HTTP/1.1\r\r\n',
    'GET / HTTP/1.1 \r\n', 'GET / HTTP/1.\r\n', 'GET /\ta HTTP/1.1\r\n', 'G@T / HTTP/1.1\r\n', 'GET / HTTP/1.1\rX\n',
  ];
  const statusLines = [
    'HTTP/1.1 200 OK\r\n', 'HTTP/1.0 204\r\n', 'HTTP/1.1 404\n', 'HTTP/1.1 200 \r\n', 'HTTP/1.1 200 a\rb\r\n',
    'HTTP/1.1 099 Low\r\n', 'HTTP/1.1 20 OK\r\n', 'HTTP/1.1 2000 OK\r\n', 'HTTP/1.1  200 OK\r\n', 'HTTP/1.1 200\rX\n',
    'HTTP/1.1 2a0 OK\r\n', 'HTTP/2 200 OK\r\n', 'HTTP/1.1 200OK\r\n', 'HTTP/1.1 999 Nine\r\n',
  ];
  // Each line follows a whole exchange on its connection, so the parser is
  // in step when it comes (a connection's first request must also name a
  // known method to be taken for HTTP/1 at all).
  const firstRequest = 'GET /0 HTTP/1.1\r\nHost: h\r\n\r\n';
  const firstResponse = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  let transactions = 0;
  // Cut just before the line's LF, the push holds no whole line: it is read
  // byte by byte (resynchronising happens at push starts, so a cut anywhere
  // else could change what follows an invalid line).
  const check = (steps: Step[], step: number, lf: number, line: string) => {
    const w = play(steps, whole);
    assert.deepEqual(w, play(steps, splitAt(step, lf)), JSON.stringify(line));
    transactions += w.txs.length;
  };
  for (const line of requestLines) {
    const steps = [req(1, firstRequest, line, 'Host: h\r\n\r\n'), resp(2, firstResponse, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')];
    check(steps, 0, firstRequest.length + line.length - 1, line);
  }
  for (const line of statusLines) {
    const steps = [req(1, firstRequest, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n'), resp(2, firstResponse, line, 'Content-Length: 2\r\n\r\nok')];
    check(steps, 1, firstResponse.length + line.length - 1, line);
  }
  // Every first exchange, and the second where its line is valid: 5 request
  // lines (minor versions 0, 1 and 9, the 32-character method, a non-ASCII
  // target) and 6 status lines (no reason, an empty one, one holding a CR,
  // 204, 404, 999).
  assert.equal(transactions, requestLines.length + statusLines.length + 5 + 6);
});
