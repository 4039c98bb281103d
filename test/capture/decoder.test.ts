import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadAddon } from '../../src/capture/addon';
import { BatchDecoder, commOf, endpointsOf } from '../../src/capture/decoder';
import type { CloseEvent, DataEvent, TlsBindEvent } from '../../src/capture/events';
import { DATA_EVENT_SIZE, layoutMismatches } from '../../src/capture/layout';
import { closeRecord, dataRecord, tlsBindRecord } from '../support/batch';

describe('batch decoder', () => {
  for (const shift of [0, 3]) it(`decodes data and close records back to back (batch at byte offset ${shift})`, () => {
    const seen: unknown[] = [];
    const dec = new BatchDecoder({
      onData: (e: DataEvent) =>
        seen.push({ conn: e.connId, pos: e.streamPos, n: e.syscallBytes, cap: e.captured, dir: e.direction, text: Buffer.from(e.payload).toString(), comm: commOf(e), ...endpointsOf(e) }),
      onClose: (e: CloseEvent) => seen.push({ closed: e.connId, ts: e.tsNs }),
      onTlsBind: (e: TlsBindEvent) => seen.push({ bound: e.tlsId, socket: e.connId, role: e.role, how: e.how, local: e.local, peer: e.peer, comm: e.comm }),
    });
    const v6local = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 7];
    const batch = Buffer.concat([
      dataRecord({ ts: 5n, connId: 2 ** 41 + 3, streamPos: 2 ** 33, syscallBytes: 20000, captured: 4096, payload: Buffer.from('GET / HTTP/1.1\r\n'), direction: 1, comm: 'nginx' }),
      closeRecord(9n, 7),
      dataRecord({ ts: 6n, connId: 1, streamPos: 0, syscallBytes: 3, payload: Buffer.from('abc'), direction: 0, family: 10, local: [v6local, 443], peer: [mapped, 5555] }),
    ]);
    // The addon's batches are 8-aligned; one that is not (a slice of a file) is decoded from an aligned copy.
    const at = Buffer.alloc(batch.length + shift + 8).subarray(shift, shift + batch.length);
    batch.copy(at);
    assert.equal(at.byteOffset % 8, shift);
    dec.decode(at, 3);
    assert.deepEqual(seen, [
      { conn: 2 ** 41 + 3, pos: 2 ** 33, n: 20000, cap: 4096, dir: 1, text: 'GET / HTTP/1.1\r\n', comm: 'nginx', local: { address: '127.0.0.1', port: 8080 }, peer: { address: '127.0.0.1', port: 40000 } },
      { closed: 7, ts: 9n },
      { conn: 1, pos: 0, n: 3, cap: 3, dir: 0, text: 'abc', comm: 'server', local: { address: '2001:db8::1', port: 443 }, peer: { address: '10.0.0.7', port: 5555 } },
    ]);
    assert.deepEqual(dec.stats, { events: 3, malformed: 0, unknownType: 0 });
  });

  it('hands each piece of a pieced record to the sink as an event of its own; a record whose pieces do not fit it is counted malformed, none delivered, and the next one read', () => {
    const seen: unknown[] = [];
    const dec = new BatchDecoder({
      onData: (e: DataEvent) => seen.push([e.chunkOffset, Buffer.from(e.payload).toString(), e.skippedBefore, e.captured, e.syscallBytes]),
      onClose: () => assert.fail('no close expected'),
      onTlsBind: () => assert.fail('no bind expected'),
    });
    const heads: [number, Buffer][] = [[0, Buffer.from('HTTP/1.1 200 OK\r\n\r\n')], [2019, Buffer.from('HTTP/1.1 204 No Content\r\n\r\n')], [4100, Buffer.from('0\r\n\r\n')]];
    // The first piece follows skipped bytes only if the header says so.
    dec.decode(Buffer.concat([dataRecord({ ts: 1n, connId: 4, streamPos: 0, syscallBytes: 5000, direction: 1, pieces: heads }), dataRecord({ ts: 2n, connId: 4, streamPos: 5000, syscallBytes: 9000, direction: 1, flags: 2, pieces: [[700, Buffer.from('x')]] })]), 2);
    assert.deepEqual(seen, [
      [0, 'HTTP/1.1 200 OK\r\n\r\n', false, 4105, 5000],
      [2019, 'HTTP/1.1 204 No Content\r\n\r\n', true, 4105, 5000],
      [4100, '0\r\n\r\n', true, 4105, 5000],
      [700, 'x', true, 701, 9000],
    ]);
    assert.deepEqual(dec.stats, { events: 2, malformed: 0, unknownType: 0 });

    // A piece length past the record, then a pieced record with no piece at all: neither is delivered.
    seen.length = 0;
    const bad = dataRecord({ ts: 3n, connId: 4, streamPos: 14000, syscallBytes: 100, direction: 1, pieces: [[0, Buffer.from('ab')], [50, Buffer.from('cd')]] });
    bad.writeUInt32LE(4000, DATA_EVENT_SIZE + 16 + 4);
    const empty = dataRecord({ ts: 4n, connId: 4, streamPos: 14100, syscallBytes: 10, direction: 1, flags: 4, payload: Buffer.alloc(0) });
    const good = dataRecord({ ts: 5n, connId: 4, streamPos: 14110, syscallBytes: 3, direction: 1, pieces: [[0, Buffer.from('end')]] });
    dec.decode(Buffer.concat([bad, empty, good]), 3);
    assert.deepEqual(seen, [[0, 'end', false, 3, 3]]);
    assert.deepEqual(dec.stats, { events: 3, malformed: 2, unknownType: 0 });
  });

  it('counts a truncated batch instead of reading past it', () => {
    const dec = new BatchDecoder({ onData: () => assert.fail('no event expected'), onClose: () => assert.fail('no event expected'), onTlsBind: () => assert.fail('no event expected') });
    const rec = dataRecord({ ts: 1n, connId: 1, streamPos: 0, syscallBytes: 3, payload: Buffer.from('abc'), direction: 0 });
    dec.decode(rec.subarray(0, 100), 1);
    assert.deepEqual(dec.stats, { events: 0, malformed: 1, unknownType: 0 });
  });

  it('decodes TLS plaintext (flag) and a TLS bind event', () => {
    const seen: unknown[] = [];
    const dec = new BatchDecoder({
      onData: (e: DataEvent) => seen.push({ conn: e.connId, tls: e.tls, text: Buffer.from(e.payload).toString() }),
      onClose: () => assert.fail('no close expected'),
      onTlsBind: (e: TlsBindEvent) => seen.push({ ...e, tsNs: e.tsNs.toString() }),
    });
    const recs = [
      dataRecord({ ts: 1n, connId: 2 ** 41 + 5, streamPos: 0, syscallBytes: 3, payload: Buffer.from('GET'), direction: 1, flags: 1, family: 0 }),
      tlsBindRecord({ ts: 2n, tgid: 42, tlsId: 2 ** 41 + 5, connId: 2 ** 40 + 9, local: [[10, 0, 0, 1], 443], peer: [[10, 0, 0, 2], 51000], role: 2, how: 1, comm: 'nginx' }),
      dataRecord({ ts: 3n, connId: 4, streamPos: 0, syscallBytes: 3, payload: Buffer.from('PUT'), direction: 0 }),
    ];
    dec.decode(Buffer.concat(recs), 3);
    assert.deepEqual(seen, [
      { conn: 2 ** 41 + 5, tls: true, text: 'GET' },
      {
        tsNs: '2', tgid: 42, tlsId: 2 ** 41 + 5, connId: 2 ** 40 + 9, local: { address: '10.0.0.1', port: 443 },
        peer: { address: '10.0.0.2', port: 51000 }, role: 2, how: 1, filtered: false, comm: 'nginx',
      },
      { conn: 4, tls: false, text: 'PUT' },
    ]);
  });

  it('layout check names every difference', () => {
    assert.deepEqual(
      layoutMismatches({ structs: { sl_header: { size: 24, fields: { type: [0, 2], flags: [2, 2], size: [4, 4], ts_ns: [8, 8], tgid: [16, 4], tid: [20, 4] } } }, constants: {} }).slice(0, 3),
      ['struct sl_tuple missing', 'struct sl_data_event missing', 'struct sl_close_event missing'],
    );
  });
});

describe('ABI', () => {
  it('the built addon and the decoder agree on every field', () => {
    assert.deepEqual(layoutMismatches(loadAddon().layout()), []);
  });
});
