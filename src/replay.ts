// `sidelight replay FILE`: a recording through the whole user-space
// pipeline, offline — decode, connection streams, protocol sessions, trace
// links, enrichment and the configured exporters (src/pipeline.ts).
import { BatchDecoder } from './capture/decoder';
import { readRecording, type RecordingHeader } from './capture/recording';
import type { Config } from './config/config';
import { RecordedProcessNames } from './enrich/process';
import type { Logger } from './log';
import { parserStats } from './export/self-metrics';
import { buildPipeline, stopStages, type Pipeline } from './pipeline';
import type { HttpTransaction } from './transactions/transaction';

export interface ReplayResult {
  header: RecordingHeader;
  batches: number;
  events: number;
  stats: ReturnType<typeof parserStats>;
}

/** A pipeline that knows only what the recording carries: its clock offset and listening ports. */
export function replayPipeline(
  header: RecordingHeader,
  config: Config,
  log: Logger,
  out?: NodeJS.WritableStream,
  tap?: (tx: HttpTransaction) => void,
): Pipeline {
  const listening = new Set(header.listeningPorts ?? []);
  const offset = BigInt(header.clockOffsetNs);
  return buildPipeline({
    config,
    log,
    processes: new RecordedProcessNames(),
    clockOffsetNs: () => offset,
    listeners: { has: (port) => listening.has(port) },
    out,
    tap,
  });
}

export async function replayRecording(file: string, config: Config, log: Logger, out?: NodeJS.WritableStream): Promise<ReplayResult> {
  const { header, batches } = readRecording(file);
  const pipeline = replayPipeline(header, config, log, out);
  const decoder = new BatchDecoder(pipeline.input);
  let events = 0;
  for (const b of batches) {
    decoder.decode(b.batch, b.count);
    events += b.count;
  }
  await stopStages(pipeline.stages, 5_000);
  return { header, batches: batches.length, events, stats: parserStats(pipeline.connections) };
}
