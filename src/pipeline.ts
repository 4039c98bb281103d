// The user-space pipeline, composed in one place. Data flows down:
//
//   capture                 kernel ring buffer (agent) or a recording (replay)
//     │  decoded events
//   selection               process rules the kernel cannot apply (select/)
//     │
//   connection streams      placement, early bytes, TLS binding (conn/streams.ts)
//     │  bytes in stream order, by direction
//   protocol sessions       HTTP/1, HTTP/2 and gRPC (protocols/registry.ts)
//     │  exchanges
//   transaction assembly    + trace linking (transactions/assembler.ts)
//     │  transactions
//   enrichment              routes, resources, pods (enrich/enricher.ts)
//     │  enriched transactions
//   exporters               console, Prometheus, OTLP (export/exporters.ts)
//
// Each stage sees only the one below it. Stages start from the exporters up
// (a sink is ready before anything reaches it) and stop in reverse, from the
// source down, so what is in flight drains into stages still running.
import type { CloseEvent, DataEvent, EventSink, TlsBindEvent } from './capture/events';
import type { Config } from './config/config';
import { ConnectionStreams, type ConnectionStats, type ListenerLookup, type ProcessLookup } from './conn/streams';
import { Enricher } from './enrich/enricher';
import type { ProcessWorkloads } from './enrich/k8s/process-workloads';
import type { ProcessInfo } from './enrich/resource';
import { Exporters } from './export/exporters';
import type { Logger } from './log';
import { selectionGate, type ProcessFilter } from './select/gate';
import { TransactionAssembler } from './transactions/assembler';
import { WallClock } from './transactions/clock';
import type { RequestContext } from './transactions/linker';
import { TraceLinker } from './transactions/linker';
import { SpanSampler } from './transactions/sampling';
import type { HttpTransaction } from './transactions/transaction';

/** A process not seen this long is forgotten by the name and metadata caches. */
export const PROCESS_MAX_IDLE_MS = 60_000;

/** A stage's life: what it does at start, at each sweep and at stop (each optional). */
export interface Stage {
  readonly name: string;
  start?(): void | Promise<void>;
  sweep?(now: number): void;
  /** timeoutMs: how long what it holds may take to leave; the rest is counted as dropped. */
  stop?(timeoutMs: number): void | Promise<void>;
}

export interface PipelineOptions {
  config: Config;
  log: Logger;
  /** Process names and identities (live: /proc; replay: the recorded names). */
  processes: ProcessInfo & { sweep?(maxIdleMs: number): void };
  /** Kernel clock to wall clock. */
  clockOffsetNs: () => bigint;
  /** Listening ports, to tell a server from a client on connections opened before the agent. */
  listeners: ListenerLookup;
  /** The selection stage; none: every process. */
  selection?: ProcessFilter;
  /** Pod metadata, when Kubernetes metadata is on, and the watch that fills it (started and stopped with the enrichment stage). */
  workloads?: ProcessWorkloads;
  metadata?: { start(): Promise<void>; stop(): Promise<void> };
  /** Tells the kernel whether a connection's bodies matter (the capture's; replay: none). */
  bodiesWanted?: (connId: number, wanted: boolean) => void;
  /** Where transaction lines go (stdout by default). */
  out?: NodeJS.WritableStream;
  /** Sees every reported transaction after the exporters (the replay benchmark encodes spans there). */
  tap?: (tx: HttpTransaction) => void;
}

export interface Pipeline {
  /** Where the capture's decoded events enter (the selection stage when there is one). */
  readonly input: EventSink;
  /** Connection streams, protocol sessions, transaction assembly and trace linking. */
  readonly connections: ConnectionStages;
  readonly enricher: Enricher;
  readonly exporters: Exporters;
  /** In the order data flows (the capture stage, the caller's, goes in front). */
  readonly stages: readonly Stage[];
}

export interface ConnectionStagesOptions {
  /** Where each transaction goes (the enrichment stage in the pipeline). */
  emit: (tx: HttpTransaction) => void;
  clock: WallClock;
  listeners: ListenerLookup;
  processes: ProcessLookup;
  maxConnections: number;
  idleTimeoutMs: number;
  linker?: TraceLinker;
  bodiesWanted?: (connId: number, wanted: boolean) => void;
}

/**
 * The stages from decoded events to transactions: connection streams,
 * protocol sessions and transaction assembly with trace linking, as one
 * event sink (what tests and the parse benchmark drive directly).
 */
export class ConnectionStages implements EventSink {
  readonly streams: ConnectionStreams<RequestContext>;
  readonly assembler: TransactionAssembler;
  readonly linker: TraceLinker;
  private readonly idleNs: bigint;

  constructor(o: ConnectionStagesOptions) {
    this.linker = o.linker ?? new TraceLinker();
    this.idleNs = BigInt(o.idleTimeoutMs) * 1_000_000n;
    const assembler = (this.assembler = new TransactionAssembler(o.clock, this.linker, o.emit));
    this.streams = new ConnectionStreams<RequestContext>({
      maxConnections: o.maxConnections,
      idleTimeoutMs: o.idleTimeoutMs,
      listeners: o.listeners,
      processes: o.processes,
      observe: (c) => assembler.observe(c),
      bodiesWanted: o.bodiesWanted,
    });
  }

  onData(ev: DataEvent): void {
    this.streams.onData(ev);
  }

  onClose(ev: CloseEvent): void {
    this.streams.onClose(ev);
  }

  onTlsBind(ev: TlsBindEvent): void {
    this.streams.onTlsBind(ev);
  }

  get stats(): ConnectionStats {
    return this.streams.stats;
  }

  /** Connections tracked. */
  get size(): number {
    return this.streams.size;
  }

  /** Drops idle and excess connections, then linking state idle as long (by the kernel clock). */
  sweep(now = Date.now()): void {
    this.streams.sweep(now);
    this.assembler.sweep(this.streams.latestTs, this.idleNs);
  }
}

export function buildPipeline(o: PipelineOptions): Pipeline {
  const { config } = o;
  const exporters = new Exporters({ config, log: o.log, out: o.out });
  const enricher = new Enricher({ config, processes: o.processes, workloads: o.workloads });
  const tap = o.tap;
  const enriched = (tx: HttpTransaction): void => {
    const proc = enricher.enrich(tx);
    if (proc === undefined) return;
    exporters.export(tx, proc);
    tap?.(tx);
  };
  const connections = new ConnectionStages({
    emit: enriched,
    clock: new WallClock(o.clockOffsetNs),
    listeners: o.listeners,
    processes: o.processes,
    maxConnections: config.maxConnections,
    idleTimeoutMs: config.idleTimeoutSec * 1000,
    linker: new TraceLinker(SpanSampler.named(config.sampler, config.samplerArg)),
    bodiesWanted: o.bodiesWanted,
  });
  const input = o.selection ? selectionGate(o.selection, connections) : connections;
  const metadata = o.metadata;
  const stages: Stage[] = [
    { name: 'connections, sessions and transactions', sweep: (now) => connections.sweep(now) },
    {
      name: 'enrichment',
      // Capture starts at once; until this node's pods are listed, processes stay unnamed (readiness says so).
      start: () => void metadata?.start().catch((err: Error) => o.log.error(err.message)),
      sweep: () => {
        o.processes.sweep?.(PROCESS_MAX_IDLE_MS);
        o.workloads?.sweep(PROCESS_MAX_IDLE_MS);
      },
      stop: () => metadata?.stop(),
    },
    { name: 'exporters', stop: (timeoutMs) => exporters.shutdown(timeoutMs) },
  ];
  return { input, connections, enricher, exporters, stages };
}

/** Starts the stages sinks first: from the last (exporters) to the first (the source). If one fails, those started are stopped. */
export async function startStages(stages: readonly Stage[], timeoutMs: number): Promise<void> {
  for (let i = stages.length - 1; i >= 0; i--) {
    try {
      await stages[i].start?.();
    } catch (err) {
      await stopStages(stages.slice(i + 1), timeoutMs);
      throw err;
    }
  }
}

/** Stops the stages in reverse of their start: the source first, the exporters last. Returns each stage's ms. */
export async function stopStages(stages: readonly Stage[], timeoutMs: number): Promise<Record<string, number>> {
  const took: Record<string, number> = {};
  for (const s of stages) {
    const t0 = Date.now();
    await s.stop?.(timeoutMs);
    took[s.name] = Date.now() - t0;
  }
  return took;
}

export function sweepStages(stages: readonly Stage[], now = Date.now()): void {
  for (const s of stages) s.sweep?.(now);
}
