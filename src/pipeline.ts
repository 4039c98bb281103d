// The user-space pipeline of DESIGN.md, from decoded events to exporters:
// conn tracker -> protocol parsers -> transactions (trace links) -> enrich
// (routes, resources) -> console, Prometheus, OTLP. The live agent feeds it
// from the kernel; replay feeds it from a recording.
import { ConnectionTracker, type ListenerLookup } from './conn/tracker';
import type { Config } from './config/config';
import type { SelfStats } from './export/self-metrics';
import type { ProcessWorkloads } from './enrich/k8s/process-workloads';
import type { ProcessInfo } from './enrich/resource';
import { Telemetry } from './export/telemetry';
import type { Logger } from './log';
import type { HttpTransaction } from './transactions/transaction';
import { WallClock } from './transactions/clock';
import { TraceLinker } from './transactions/linker';
import { SpanSampler } from './transactions/sampling';

export interface Pipeline {
  telemetry: Telemetry;
  linker: TraceLinker;
  tracker: ConnectionTracker;
}

/** `tap` sees every transaction after the exporters (the replay benchmark encodes spans there). */
export function buildPipeline(
  config: Config,
  log: Logger,
  processes: ProcessInfo,
  clockOffsetNs: () => bigint,
  listeners: ListenerLookup,
  out: NodeJS.WritableStream = process.stdout,
  tap?: (tx: HttpTransaction) => void,
  workloads?: ProcessWorkloads,
): Pipeline {
  const telemetry = new Telemetry(config, processes, log, out, workloads);
  const linker = new TraceLinker(SpanSampler.named(config.sampler, config.samplerArg));
  const tracker = new ConnectionTracker(
    tap
      ? (tx) => {
          telemetry.export(tx);
          tap(tx);
        }
      : (tx) => telemetry.export(tx),
    new WallClock(clockOffsetNs),
    listeners,
    processes,
    { maxConnections: config.maxConnections, idleTimeoutMs: config.idleTimeoutSec * 1000 },
    linker,
  );
  return { telemetry, linker, tracker };
}

/** What the parsers could not use, and what they rebuilt (the self-metrics' parser part). */
export function parserStats(tracker: ConnectionTracker): Pick<SelfStats, 'bytesUnparsed' | 'parseErrors' | 'http2Unknown' | 'http2Streams' | 'transactions' | 'connectionsLimited'> {
  const t = tracker.stats;
  return {
    bytesUnparsed: {
      lost: t.bytesLost,
      uncaptured: t.bytesUncaptured,
      before_role: t.bytesBeforeRole,
      unclassified: t.bytesUnclassified,
      discarded_http1: t.http1.discardedBytes,
      desynced_http2: t.http2.frames.bytesDesynced,
      tls_unbound: t.bytesTlsUnbound,
      tls_filtered: t.bytesTlsFiltered,
      limit: t.bytesLimited,
    },
    connectionsLimited: { ...t.connectionsLimited },
    parseErrors: { http1: t.http1.parseErrors, http2_framing: t.http2.frames.desyncs, hpack: t.http2.hpackErrors },
    http2Unknown: {
      hpack_refs: t.http2.hpack.unknownRefs,
      transactions: t.http2.transactionsWithUnknownFields,
      header_blocks_lost: t.http2.headerBlocksLost,
    },
    http2Streams: {
      reset: t.http2.streamsReset,
      unanswered: t.http2.unansweredStreams,
      response_without_request: t.http2.responsesWithoutRequest,
    },
    transactions: t.http1.transactions + t.http2.transactions,
  };
}
