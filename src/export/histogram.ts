// A labelled histogram for the per-transaction hot path, served by a
// prom-client Registry like its own metrics. prom-client's Histogram
// validates and hashes the label object on every observe (~0.7 µs each,
// three per transaction, bench/RESULTS.md); here the caller passes one key
// per label set, computed once for all its histograms, and the label object
// is built only when a series is first seen.
import type { Registry } from 'prom-client';

type Labels = Record<string, string | number>;

/** What a Registry (and the OTLP bridge) reads: prom-client's own shape, with `type` as it is at run time. */
export interface HistogramSnapshot {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: Array<{ labels: Labels; value: number; metricName: string }>;
}

interface Series {
  labels: Labels;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export interface HistogramOptions {
  name: string;
  help: string;
  buckets: number[];
  registers: Registry[];
}

export class LabeledHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly bounds: number[];
  private readonly series = new Map<string, Series>();

  constructor(opts: HistogramOptions) {
    this.name = opts.name;
    this.help = opts.help;
    this.bounds = [...opts.buckets].sort((a, b) => a - b);
    // The Registry reads any object with get(); its type lists only its own classes.
    for (const r of opts.registers) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** `key` names the label set; `labels` is called only the first time it is seen. */
  observe(key: string, labels: () => Labels, value: number): void {
    let s = this.series.get(key);
    if (!s) {
      s = { labels: labels(), counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  reset(): void {
    this.series.clear();
  }

  /** The exposition values prom-client's Histogram gives: cumulative buckets (le first), then _sum and _count. */
  async get(): Promise<HistogramSnapshot> {
    const values: HistogramSnapshot['values'] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i];
        values.push({ labels: { le: this.bounds[i], ...s.labels }, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
}
