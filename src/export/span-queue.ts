// Spans on their way to an OTLP endpoint: a bounded queue, batches, one
// export in flight, and retry with exponential backoff while the endpoint is
// down. Memory is bounded by the queue size; every span that cannot be kept
// is counted as dropped, never lost silently. When full, the oldest span
// goes: after an outage the spans of the recovery are the ones people need.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';

/** What the queue hands its batches to (the OTLP trace exporter; test doubles). */
export interface BatchExporter<T> {
  export(batch: T[], done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

export interface SpanQueueOptions {
  maxQueueSize: number;
  maxBatchSize: number;
  /** Longest a span waits before its batch is sent. */
  delayMs: number;
  /** Backoff after a failed export: doubles from min to max. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface SpanQueueStats {
  /** Spans the endpoint accepted. */
  exported: number;
  /** Spans dropped because the queue was full (endpoint slow or down), or left when the agent stopped. */
  droppedQueueFull: number;
  /** Failed export calls (each retried, batch kept while there is room). */
  exportErrors: number;
  queued: number;
  /** Spans in the export call under way. */
  inFlight: number;
}

export class SpanQueue<T> {
  readonly stats: SpanQueueStats = { exported: 0, droppedQueueFull: 0, exportErrors: 0, queued: 0, inFlight: 0 };
  private queue: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private backoffMs = 0;
  private lastError = '';
  /** Failed calls since the last success, for the recovery message. */
  private outageErrors = 0;
  /** shutdown() has begun: only it starts exports now. */
  private closing = false;
  private stopped = false;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;

  constructor(
    private readonly exporter: BatchExporter<T>,
    private readonly opts: SpanQueueOptions,
    private readonly onError: (message: string) => void = () => undefined,
  ) {
    this.minBackoff = opts.minBackoffMs ?? 1000;
    this.maxBackoff = opts.maxBackoffMs ?? 30_000;
  }

  offer(span: T): void {
    if (this.stopped) {
      this.stats.droppedQueueFull++;
      return;
    }
    if (this.queue.length >= this.opts.maxQueueSize) {
      this.queue.shift();
      this.stats.droppedQueueFull++;
    }
    this.queue.push(span);
    this.stats.queued = this.queue.length;
    if (this.queue.length >= this.opts.maxBatchSize && this.backoffMs === 0) this.kick();
    else this.arm(this.backoffMs || this.opts.delayMs);
  }

  /**
   * Exports what it can until timeoutMs has passed, never longer (a hung
   * endpoint cannot hang the agent's exit), then counts the rest as dropped.
   * An export still under way when time is up is counted when it settles.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const untilDeadline = <T>(p: Promise<T>) => {
      let t: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (t = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
      return Promise.race([p, timeout]).finally(() => clearTimeout(t));
    };
    while (Date.now() < deadline) {
      if (this.inFlight) {
        await untilDeadline(this.inFlight);
        continue;
      }
      if (this.queue.length === 0 || this.backoffMs > 0) break;
      this.kick();
    }
    this.stopped = true;
    this.stats.droppedQueueFull += this.queue.length;
    this.queue = [];
    this.stats.queued = 0;
    await untilDeadline(this.exporter.shutdown());
  }

  private arm(ms: number): void {
    if (this.timer || this.inFlight || this.closing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, ms);
    this.timer.unref();
  }

  private kick(): void {
    if (this.inFlight || this.queue.length === 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue.splice(0, this.opts.maxBatchSize);
    this.stats.queued = this.queue.length;
    this.stats.inFlight = batch.length;
    this.inFlight = this.send(batch).finally(() => {
      this.inFlight = undefined;
      this.stats.inFlight = 0;
      if (this.closing) return; // shutdown() decides what is sent next
      if (this.backoffMs > 0) this.arm(this.backoffMs);
      else if (this.queue.length >= this.opts.maxBatchSize) this.kick();
      else if (this.queue.length > 0) this.arm(this.opts.delayMs);
    });
  }

  private async send(batch: T[]): Promise<void> {
    const result = await new Promise<ExportResult>((resolve) => {
      try {
        this.exporter.export(batch, resolve);
      } catch (err) {
        resolve({ code: ExportResultCode.FAILED, error: err as Error });
      }
    });
    if (result.code === ExportResultCode.SUCCESS) {
      this.stats.exported += batch.length;
      if (this.outageErrors > 0) this.onError(`OTLP trace export recovered after ${this.outageErrors} failed attempt(s)`);
      this.outageErrors = 0;
      this.backoffMs = 0;
      this.lastError = '';
      return;
    }
    this.stats.exportErrors++;
    this.outageErrors++;
    if (this.stopped) {
      // Too late to retry: the agent has stopped.
      this.stats.droppedQueueFull += batch.length;
      return;
    }
    const message = result.error?.message ?? 'unknown error';
    if (message !== this.lastError) this.onError(`OTLP trace export failed (${message}); retrying with backoff, spans kept up to the queue size`);
    this.lastError = message;
    this.backoffMs = this.backoffMs === 0 ? this.minBackoff : Math.min(this.backoffMs * 2, this.maxBackoff);
    // Back ahead of newer spans while there is room; its oldest go first, counted.
    const room = this.opts.maxQueueSize - this.queue.length;
    const kept = batch.slice(Math.max(0, batch.length - room));
    this.stats.droppedQueueFull += batch.length - kept.length;
    this.queue = kept.concat(this.queue);
    this.stats.queued = this.queue.length;
  }
}
