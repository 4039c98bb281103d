// Replay benchmark (no root): the checked-in recordings through the
// user-space pipeline on one core, in three depths —
//   decode:  batches → events (the decoder alone);
//   parse:   + connection tracking and the HTTP/1, HTTP/2, gRPC parsers → transactions;
//   export:  + trace links, routes, resources, RED metrics,
//            and OTLP protobuf encoding in batches of 512 (no network), by the
//            encoder the agent's trace exporter uses.
// Each depth replays the recording `rounds` times with fresh state.
// Usage: node dist/bench/replay.js [rounds] [recording names...]
import path from 'node:path';
import { BatchDecoder } from '../src/capture/decoder';
import { readRecording, type RecordedBatch, type RecordingHeader } from '../src/capture/recording';
import { ConnectionStages } from '../src/pipeline';
import { DEFAULTS, type Config } from '../src/config/config';
import { RecordedProcessNames } from '../src/enrich/process';
import { OtlpTraceEncoder } from '../src/export/otlp-trace-encoder';
import type { SpanRecord } from '../src/export/spans';
import { createLogger } from '../src/log';
import { replayPipeline } from '../src/replay';
import { WallClock } from '../src/transactions/clock';

interface Depth {
  cpuSeconds: number;
  perSecond: number;
}

function timed(rounds: number, once: () => number): Depth & { units: number } {
  once(); // warm-up
  const cpu0 = process.cpuUsage();
  let units = 0;
  for (let r = 0; r < rounds; r++) units += once();
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { units, cpuSeconds: +cpuSeconds.toFixed(3), perSecond: Math.round(units / cpuSeconds) };
}

function decodeOnly(batches: RecordedBatch[]): number {
  let n = 0;
  const d = new BatchDecoder({ onData: () => n++, onClose: () => n++, onTlsBind: () => n++ });
  for (const b of batches) d.decode(b.batch, b.count);
  return n;
}

function parse(header: RecordingHeader, batches: RecordedBatch[]): number {
  let n = 0;
  const listening = new Set(header.listeningPorts);
  const offset = BigInt(header.clockOffsetNs);
  const tracker = new ConnectionStages({
    emit: () => n++,
    clock: new WallClock(() => offset),
    listeners: { has: (p) => listening.has(p) },
    processes: new RecordedProcessNames(),
    maxConnections: DEFAULTS.maxConnections,
    idleTimeoutMs: DEFAULTS.idleTimeoutSec * 1000,
  });
  const d = new BatchDecoder(tracker);
  for (const b of batches) d.decode(b.batch, b.count);
  return n;
}

const CONFIG: Config = { ...DEFAULTS, output: 'none' };
const log = createLogger('error');

function exportAll(header: RecordingHeader, batches: RecordedBatch[]): number {
  let encoded = 0;
  let pending: SpanRecord[] = [];
  const encoder = new OtlpTraceEncoder(CONFIG.redactQuery);
  const flush = () => {
    if (pending.length === 0) return;
    const bytes = encoder.encode(pending);
    if (!bytes || bytes.length === 0) throw new Error('encoder produced nothing');
    encoded += pending.length;
    pending = [];
  };
  // After the pipeline's own exporters: what the span queue would hand the OTLP exporter.
  const p = replayPipeline(header, CONFIG, log, undefined, (tx) => {
    if (tx.route === undefined && !tx.unknownFields.includes('path')) return; // ignored route
    pending.push({ tx, resource: p.enricher.resources.of(tx.pid, tx.process).resource });
    if (pending.length === 512) flush();
  });
  const d = new BatchDecoder(p.input);
  for (const b of batches) d.decode(b.batch, b.count);
  flush();
  return encoded;
}

function main(): void {
  const rounds = Number(process.argv[2] ?? 20);
  const names = process.argv.length > 3 ? process.argv.slice(3) : ['http1', 'http2', 'grpc'];
  const results: Record<string, unknown> = {};
  for (const name of names) {
    const file = path.join(__dirname, '..', '..', 'bench', 'recordings', `${name}.slrec.gz`);
    const { header, batches } = readRecording(file);
    const events = decodeOnly(batches);
    const decode = timed(rounds, () => decodeOnly(batches));
    const parsed = timed(rounds, () => parse(header, batches));
    const exported = timed(rounds, () => exportAll(header, batches));
    const mem = process.memoryUsage();
    results[name] = {
      recording: { events, batches: batches.length, transactions: parsed.units / rounds },
      eventsDecodedPerCpuSecond: decode.perSecond,
      transactionsParsedPerCpuSecond: parsed.perSecond,
      spansEncodedPerCpuSecond: exported.perSecond,
      cpuSeconds: { decode: decode.cpuSeconds, parse: parsed.cpuSeconds, export: exported.cpuSeconds },
      heapUsedMiB: +(mem.heapUsed / 2 ** 20).toFixed(1),
      rssMiB: +(mem.rss / 2 ** 20).toFixed(1),
    };
  }
  process.stdout.write(`${JSON.stringify({ node: process.version, rounds, results }, null, 2)}\n`);
}

main();
