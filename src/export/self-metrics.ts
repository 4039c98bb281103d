// The agent's own health at /metrics: what it received, what the kernel
// dropped, what it could not parse, what it exported and dropped. Values are
// read from the stages' counters at scrape time (nothing on the hot path).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConnectionStats } from '../conn/streams';

export interface SelfStats {
  eventsReceived: number;
  kernelDrops: number;
  /** Bytes not parsed, by reason. */
  bytesUnparsed: Record<string, number>;
  /** Parse errors by protocol. */
  parseErrors: Record<string, number>;
  /** HTTP/2 state that could not be known (attached mid-connection, lost bytes), by what. */
  http2Unknown: Record<string, number>;
  /** HTTP/2 streams that did not end in a response, by outcome. */
  http2Streams: Record<string, number>;
  connectionsTracked: number;
  /** Connections skipped after crossing a bound of src/protocols/limits.ts, by limit. */
  connectionsLimited: Record<string, number>;
  transactions: number;
  spansExported: number;
  /** Spans dropped, by reason. */
  spansDropped: Record<string, number>;
  /** Failed export calls, by signal. */
  exportErrors: Record<string, number>;
  routesOverflowed: number;
  routesIgnored: number;
  /** Events of processes the selection left out, dropped in user space (before the kernel filter took over, or while a pod was unknown). */
  eventsDeselected: number;
  /** Processes left out, by the rule that did it. */
  processesExcluded: Record<string, number>;
  kubernetesWatchErrors: number;
  /** TLS library files with the uprobes on them, and those that could not take them (see the log for each file's reason). */
  tlsLibraries: { attached?: number; failed?: number };
}

/** A counter whose value is a running total kept elsewhere. */
function mirrored(registry: Registry, name: string, help: string, labelName: string | undefined, read: (s: SelfStats) => number | Record<string, number>, stats: () => SelfStats): void {
  new Counter({
    name,
    help,
    labelNames: labelName ? [labelName] : [],
    registers: [registry],
    collect() {
      this.reset();
      const v = read(stats());
      if (typeof v === 'number') this.inc(v);
      else for (const [k, n] of Object.entries(v)) this.inc({ [labelName as string]: k }, n);
    },
  });
}

export function registerSelfMetrics(registry: Registry, stats: () => SelfStats): void {
  // One snapshot per scrape, shared by every collector.
  let cached: SelfStats | undefined;
  let at = 0;
  const snap = () => {
    const now = Date.now();
    if (!cached || now - at > 100) {
      cached = stats();
      at = now;
    }
    return cached;
  };
  mirrored(registry, 'sidelight_events_received_total', 'Kernel events delivered to the agent.', undefined, (s) => s.eventsReceived, snap);
  mirrored(registry, 'sidelight_kernel_drops_total', 'Events the kernel could not put in the ring buffer.', undefined, (s) => s.kernelDrops, snap);
  mirrored(registry, 'sidelight_bytes_unparsed_total', 'Payload bytes not parsed, by reason.', 'reason', (s) => s.bytesUnparsed, snap);
  mirrored(registry, 'sidelight_parse_errors_total', 'Parse errors (framing lost), by protocol.', 'protocol', (s) => s.parseErrors, snap);
  mirrored(registry, 'sidelight_http2_unknown_total', 'HTTP/2 header state the agent could not know: HPACK references to entries from before it attached, transactions reported with unknown fields, header blocks lost.', 'what', (s) => s.http2Unknown, snap);
  mirrored(registry, 'sidelight_http2_streams_total', 'HTTP/2 streams by how they ended other than with a response: reset, unanswered (closed, GOAWAY, evicted), response without a seen request.', 'outcome', (s) => s.http2Streams, snap);
  mirrored(registry, 'sidelight_connections_limited_total', 'Connections that crossed a parser bound (hostile or broken input) and were skipped from there on, by limit; their later bytes count as bytes_unparsed reason="limit".', 'limit', (s) => s.connectionsLimited, snap);
  mirrored(registry, 'sidelight_transactions_total', 'Transactions rebuilt.', undefined, (s) => s.transactions, snap);
  mirrored(registry, 'sidelight_spans_exported_total', 'Spans accepted by the OTLP endpoint.', undefined, (s) => s.spansExported, snap);
  mirrored(registry, 'sidelight_spans_dropped_total', 'Spans not exported, by reason.', 'reason', (s) => s.spansDropped, snap);
  mirrored(registry, 'sidelight_export_errors_total', 'Failed OTLP export calls, by signal.', 'signal', (s) => s.exportErrors, snap);
  mirrored(registry, 'sidelight_routes_overflowed_total', 'Requests whose route was replaced by the overflow value (cardinality cap).', undefined, (s) => s.routesOverflowed, snap);
  mirrored(registry, 'sidelight_routes_ignored_total', 'Requests matching an ignore pattern, not exported.', undefined, (s) => s.routesIgnored, snap);
  mirrored(registry, 'sidelight_events_deselected_total', 'Events of processes the selection leaves out, dropped in user space (the kernel filters their new connections).', undefined, (s) => s.eventsDeselected, snap);
  mirrored(registry, 'sidelight_processes_excluded_total', 'Processes the selection left out, by rule.', 'rule', (s) => s.processesExcluded, snap);
  mirrored(registry, 'sidelight_kubernetes_watch_errors_total', 'Failed lists or watches of the Kubernetes API (each is retried).', undefined, (s) => s.kubernetesWatchErrors, snap);
  new Gauge({
    name: 'sidelight_tls_libraries',
    help: 'TLS library files found, by state: attached (uprobes on) or failed (the log names the file and the reason).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, n] of Object.entries(snap().tlsLibraries)) this.set({ state }, n ?? 0);
    },
  });
  new Gauge({
    name: 'sidelight_connections_tracked',
    help: 'Connections the agent is tracking now.',
    registers: [registry],
    collect() {
      this.set(snap().connectionsTracked);
    },
  });
}

/** What the parsers could not use, and what they rebuilt (the self-metrics' parser part). */
export function parserStats(connections: { readonly stats: ConnectionStats }): Pick<SelfStats, 'bytesUnparsed' | 'parseErrors' | 'http2Unknown' | 'http2Streams' | 'transactions' | 'connectionsLimited'> {
  const t = connections.stats;
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
