// Recordings: the raw batches exactly as the addon delivered them, behind a
// small JSON header (kernel, capture settings, event layout, clock offset),
// so a capture can be replayed offline through the whole pipeline — for
// benchmarks and for bug reports.
//
// File: "SLREC\0" + u16 version, u32 header length, header JSON, then per
// batch u32 byte length, u32 event count and the bytes (little-endian).
import { closeSync, fchmodSync, openSync, readFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import { gunzipSync } from 'node:zlib';
import type { AddonLayout } from './addon';
import { aligned } from './decoder';
import { layoutMismatches } from './layout';

const MAGIC = Buffer.from('SLREC\0', 'latin1');
const VERSION = 1;

export interface RecordingHeader {
  format: 'sidelight-recording';
  version: number;
  createdAt: string;
  kernel: string;
  node: string;
  /** Capture settings the kernel programs ran with. */
  capture: { captureBytes: number; syscallCapBytes: number; ringBytes: number; pids: number[]; ports: Array<number | string>; excludePorts?: Array<number | string> };
  layout: AddonLayout;
  /** Unix time minus monotonic time at the start, in ns (decimal string): maps kernel timestamps to wall time. */
  clockOffsetNs: string;
  /** Local ports listening at the start: the role of connections older than the recording. */
  listeningPorts: number[];
}

export interface RecordedBatch {
  batch: Buffer;
  count: number;
}

export class RecordingWriter {
  private readonly fd: number;
  batches = 0;
  events = 0;
  bytes = 0;

  constructor(file: string, header: Omit<RecordingHeader, 'format' | 'version' | 'createdAt' | 'kernel' | 'node'>) {
    const full: RecordingHeader = {
      format: 'sidelight-recording',
      version: VERSION,
      createdAt: new Date().toISOString(),
      kernel: os.release(),
      node: process.version,
      ...header,
    };
    const json = Buffer.from(JSON.stringify(full), 'utf8');
    const head = Buffer.alloc(MAGIC.length + 2 + 4);
    MAGIC.copy(head);
    head.writeUInt16LE(VERSION, MAGIC.length);
    head.writeUInt32LE(json.length, MAGIC.length + 2);
    // Raw payloads (credentials, cookies, bodies): readable by the owner only, even over an existing file.
    this.fd = openSync(file, 'w', 0o600);
    fchmodSync(this.fd, 0o600);
    writeSync(this.fd, head);
    writeSync(this.fd, json);
  }

  /** Writes one batch now: the addon reuses its buffer after the callback returns. */
  write(batch: Buffer, count: number): void {
    const frame = Buffer.alloc(8);
    frame.writeUInt32LE(batch.length, 0);
    frame.writeUInt32LE(count, 4);
    writeSync(this.fd, frame);
    writeSync(this.fd, batch);
    this.batches++;
    this.events += count;
    this.bytes += batch.length;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export class RecordingError extends Error {
  override name = 'RecordingError';
}

/** Reads a whole recording (gzip-compressed or not); throws one line naming the problem and the fix. */
export function readRecording(file: string): { header: RecordingHeader; batches: RecordedBatch[] } {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw new RecordingError(`cannot read recording ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data.length > 2 && data[0] === 0x1f && data[1] === 0x8b) {
    try {
      data = gunzipSync(data);
    } catch (err) {
      throw new RecordingError(`cannot decompress recording ${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const bad = (why: string) => new RecordingError(`${file} is not a usable sidelight recording: ${why}; record one with: sidelight record --out FILE`);
  if (data.length < MAGIC.length + 6 || !data.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('no SLREC signature');
  const version = data.readUInt16LE(MAGIC.length);
  if (version !== VERSION) throw bad(`format version ${version}, this build reads ${VERSION}`);
  const headerLen = data.readUInt32LE(MAGIC.length + 2);
  let at = MAGIC.length + 6;
  if (at + headerLen > data.length) throw bad('header cut short');
  let header: RecordingHeader;
  try {
    header = JSON.parse(data.toString('utf8', at, at + headerLen)) as RecordingHeader;
  } catch {
    throw bad('header is not JSON');
  }
  if (header.format !== 'sidelight-recording') throw bad('header names another format');
  if (typeof header.layout?.structs !== 'object' || typeof header.layout?.constants !== 'object') throw bad('header has no event layout');
  const mismatches = layoutMismatches(header.layout);
  if (mismatches.length > 0) {
    throw new RecordingError(
      `${file} was recorded with another event layout (${mismatches[0]}); replay it with the sidelight version that made it, or record it again`,
    );
  }
  at += headerLen;
  const batches: RecordedBatch[] = [];
  while (at < data.length) {
    if (at + 8 > data.length) throw bad(`batch ${batches.length + 1} cut short`);
    const len = data.readUInt32LE(at);
    const count = data.readUInt32LE(at + 4);
    at += 8;
    if (at + len > data.length) throw bad(`batch ${batches.length + 1} cut short`);
    batches.push({ batch: aligned(data.subarray(at, at + len)), count });
    at += len;
  }
  return { header, batches };
}
