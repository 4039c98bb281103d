// Recordings: the file format round-trips raw batches, bad files give one
// clear line, and a checked-in recording replays to exact transactions.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { readRecording, RecordingError, RecordingWriter } from '../../src/capture/recording';
import { CLOSE_EVENT_SIZE, DATA_EVENT_SIZE, EXPECTED, TLS_BIND_EVENT_SIZE } from '../../src/capture/layout';
import { DEFAULTS, type Config } from '../../src/config/config';
import type { JsonTransaction } from '../../src/export/console';
import { createLogger } from '../../src/log';
import { replayRecording } from '../../src/replay';
import { ROOT } from '../support/agent';
import { dataRecord } from '../support/batch';

/** The layout this build decodes, in the addon's shape (sizes from the decoder's constants). */
function layout() {
  const structs: Record<string, { size: number; fields: Record<string, [number, number]> }> = {};
  for (const [name, fields] of Object.entries(EXPECTED)) {
    // A copy: a test changes it.
    const copy = JSON.parse(JSON.stringify(fields)) as Record<string, [number, number]>;
    const sizes: Record<string, number> = { sl_data_event: DATA_EVENT_SIZE, sl_close_event: CLOSE_EVENT_SIZE, sl_tls_bind_event: TLS_BIND_EVENT_SIZE };
    structs[name] = { size: sizes[name] ?? 0, fields: copy };
  }
  return {
    structs,
    constants: {
      SL_EV_DATA: 1, SL_EV_CLOSE: 2, SL_DIR_EGRESS: 0, SL_DIR_INGRESS: 1, SL_ROLE_UNKNOWN: 0, SL_ROLE_CLIENT: 1, SL_ROLE_SERVER: 2, SL_SYS_SENDFILE: 8,
      SL_EV_TLS_BIND: 3, SL_EV_F_TLS: 1, SL_CLASS_OTHER: 3, SL_CLASS_TLS: 4, SL_SYS_SSL_READ: 11, SL_SYS_SSL_WRITE: 12,
    } as Record<string, number>,
  };
}

const HEADER = {
  capture: { captureBytes: 4096, syscallCapBytes: 16384, ringBytes: 8 << 20, pids: [], ports: [8080] },
  layout: layout(),
  clockOffsetNs: '1700000000000000000',
  listeningPorts: [8080],
};

describe('recordings', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-rec-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a recording made before TLS support (no TLS bind event in its layout)', () => {
    const file = path.join(dir, 'pre-tls.slrec');
    const old = layout();
    delete old.structs.sl_tls_bind_event;
    for (const k of ['SL_EV_TLS_BIND', 'SL_EV_F_TLS', 'SL_CLASS_OTHER', 'SL_CLASS_TLS', 'SL_SYS_SSL_READ', 'SL_SYS_SSL_WRITE']) delete old.constants[k];
    const w = new RecordingWriter(file, { ...HEADER, layout: old });
    w.write(dataRecord({ ts: 1n, connId: 1, streamPos: 0, syscallBytes: 3, payload: Buffer.from('GET'), direction: 1 }), 1);
    w.close();
    assert.deepEqual(readRecording(file).batches.map((b) => b.count), [1]);
    // A changed TLS constant is still a mismatch.
    const bad = layout();
    bad.constants.SL_CLASS_TLS = 5;
    const wb = new RecordingWriter(path.join(dir, 'bad-tls.slrec'), { ...HEADER, layout: bad });
    wb.close();
    assert.throws(() => readRecording(path.join(dir, 'bad-tls.slrec')), /SL_CLASS_TLS is 5, decoder expects 4/);
  });

  it('is readable by its owner only: it holds raw payloads', () => {
    const file = path.join(dir, 'private.slrec');
    writeFileSync(file, 'an older file, world-readable');
    chmodSync(file, 0o644);
    new RecordingWriter(file, HEADER).close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const fresh = path.join(dir, 'private-new.slrec');
    new RecordingWriter(fresh, HEADER).close();
    assert.equal(statSync(fresh).mode & 0o777, 0o600);
  });

  it('round-trips the raw batches and the header', () => {
    const file = path.join(dir, 'a.slrec');
    const w = new RecordingWriter(file, HEADER);
    const b1 = Buffer.concat([dataRecord({ ts: 1n, connId: 1, streamPos: 0, syscallBytes: 3, payload: Buffer.from('GET'), direction: 1 })]);
    const b2 = Buffer.alloc(0);
    w.write(b1, 1);
    w.write(b2, 0);
    w.close();
    const r = readRecording(file);
    assert.equal(r.header.format, 'sidelight-recording');
    assert.equal(r.header.version, 1);
    assert.deepEqual(r.header.capture, HEADER.capture);
    assert.deepEqual(r.header.listeningPorts, [8080]);
    assert.equal(r.header.clockOffsetNs, '1700000000000000000');
    assert.deepEqual(r.batches.map((b) => [b.count, b.batch.length]), [[1, b1.length], [0, 0]]);
    assert.ok(r.batches[0].batch.equals(b1));
    assert.equal(w.events, 1);
  });

  it('bad files: one line naming the problem and the fix', () => {
    const notOne = path.join(dir, 'x.slrec');
    writeFileSync(notOne, 'GET / HTTP/1.1\r\n\r\n');
    assert.throws(() => readRecording(notOne), new RecordingError(`${notOne} is not a usable sidelight recording: no SLREC signature; record one with: sidelight record --out FILE`));

    const cut = path.join(dir, 'cut.slrec');
    const w = new RecordingWriter(cut, HEADER);
    w.write(Buffer.alloc(64), 1);
    w.close();
    writeFileSync(cut, readFileSync(cut).subarray(0, -10));
    assert.throws(() => readRecording(cut), /batch 1 cut short; record one with/);

    const other = path.join(dir, 'other.slrec');
    const l = layout();
    l.structs.sl_data_event.fields.klass = [108, 1];
    new RecordingWriter(other, { ...HEADER, layout: l }).close();
    assert.throws(() => readRecording(other), /was recorded with another event layout \(sl_data_event\.klass at 108\+1, decoder expects 107\+1\); replay it with the sidelight version that made it, or record it again/);

    assert.throws(() => readRecording(path.join(dir, 'missing.slrec')), /^RecordingError: cannot read recording .*missing\.slrec: ENOENT/);
  });

  it('the checked-in gRPC recording replays to exactly its calls, on both ends', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const config: Config = { ...DEFAULTS, output: 'json' };
    const r = await replayRecording(path.join(ROOT, 'bench', 'recordings', 'grpc.slrec.gz'), config, createLogger('error'), out);
    const txs = text.trim().split('\n').map((l) => JSON.parse(l) as JsonTransaction);
    assert.equal(r.stats.transactions, 2080);
    assert.equal(txs.length, 2080);
    for (const role of ['server', 'client'] as const) {
      const mine = txs.filter((t) => t.role === role);
      const count = (m: string, code: number, req: number, resp: number) =>
        mine.filter((t) => t.rpcMethod === m && t.grpcStatusCode === code && t.requestMessages === req && t.responseMessages === resp && t.rpcService === 'shop.Catalog').length;
      assert.deepEqual([count('Get', 0, 1, 1), count('Get', 5, 1, 0), count('Watch', 0, 1, 50), count('Chat', 0, 10, 10)], [950, 50, 20, 20], role);
    }
    assert.deepEqual(r.stats.parseErrors, { http1: 0, http2_framing: 0, hpack: 0 });
  });
});
