// OTLP metrics from the histograms prom-client already aggregates. Recording
// every transaction a second time into the OpenTelemetry metrics SDK cost
// ~14 µs each (bench/RESULTS.md); read at export time instead, they cost
// nothing per transaction. The SDK still schedules, serialises and sends
// (this is a MetricProducer of its PeriodicExportingMetricReader).
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type Histogram as OtelHistogramValue,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Resource } from '@opentelemetry/resources';
import type { HistogramSnapshot } from './histogram';
import { DISTRO_NAME, DISTRO_VERSION } from '../enrich/resource';

/** A prom-client histogram and what it is called over OTLP. */
export interface BridgedHistogram {
  /** Anything a prom-client Registry serves as a histogram. */
  prom: { get(): Promise<Pick<HistogramSnapshot, 'values'>> };
  name: string;
  unit: string;
  description: string;
  boundaries: number[];
}

/** Prometheus label → OTel attribute, and which values are numbers. */
const ATTRIBUTE: Record<string, { key: string; numeric: boolean }> = {
  http_request_method: { key: 'http.request.method', numeric: false },
  http_response_status_code: { key: 'http.response.status_code', numeric: true },
  http_route: { key: 'http.route', numeric: false },
  service_name: { key: 'service.name', numeric: false },
  server_address: { key: 'server.address', numeric: false },
  server_port: { key: 'server.port', numeric: true },
  rpc_system: { key: 'rpc.system', numeric: false },
  rpc_service: { key: 'rpc.service', numeric: false },
  rpc_method: { key: 'rpc.method', numeric: false },
  rpc_grpc_status_code: { key: 'rpc.grpc.status_code', numeric: true },
};

function hrNow(): HrTime {
  const ms = Date.now();
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

interface Series {
  attributes: Attributes;
  cumulative: number[];
  sum: number;
  count: number;
}

export class PromHistogramProducer implements MetricProducer {
  private readonly start = hrNow();

  constructor(
    private readonly histograms: BridgedHistogram[],
    private readonly resource: Resource,
  ) {}

  async collect(): Promise<CollectionResult> {
    const end = hrNow();
    const metrics: MetricData[] = [];
    for (const h of this.histograms) {
      const got = await h.prom.get();
      const index = new Map(h.boundaries.map((b, i) => [b, i] as const));
      const series = seriesOf(got.values as PromValue[], index);
      if (series.length === 0) continue;
      const dataPoints: DataPoint<OtelHistogramValue>[] = series.map((s) => {
        const counts = s.cumulative.map((c, i) => (i === 0 ? c : c - s.cumulative[i - 1]));
        return { startTime: this.start, endTime: end, attributes: s.attributes, value: { buckets: { boundaries: h.boundaries, counts }, sum: s.sum, count: s.count } };
      });
      metrics.push({
        descriptor: { name: h.name, description: h.description, unit: h.unit, valueType: ValueType.DOUBLE },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints,
      });
    }
    return {
      resourceMetrics: { resource: this.resource, scopeMetrics: metrics.length ? [{ scope: { name: DISTRO_NAME, version: DISTRO_VERSION }, metrics }] : [] },
      errors: [],
    };
  }
}

type PromValue = { labels: Record<string, string | number>; value: number; metricName?: string };

/** Groups prom-client's flat values (…_bucket per le, _sum, _count) by label set. */
function seriesOf(values: PromValue[], index: Map<number, number>): Series[] {
  const bucketCount = index.size + 1;
  const out = new Map<string, Series>();
  for (const v of values) {
    const { le, ...labels } = v.labels;
    const key = JSON.stringify(labels);
    let s = out.get(key);
    if (!s) {
      const attributes: Attributes = {};
      for (const [k, raw] of Object.entries(labels)) {
        const a = ATTRIBUTE[k];
        if (!a || raw === '') continue; // an empty route (or an unknown rpc field) is no attribute
        attributes[a.key] = a.numeric ? Number(raw) : String(raw);
      }
      s = { attributes, cumulative: new Array<number>(bucketCount).fill(0), sum: 0, count: 0 };
      out.set(key, s);
    }
    const name = v.metricName ?? '';
    if (name.endsWith('_bucket')) {
      const i = le === '+Inf' ? bucketCount - 1 : index.get(Number(le));
      if (i !== undefined) s.cumulative[i] = v.value;
    } else if (name.endsWith('_sum')) {
      s.sum = v.value;
    } else if (name.endsWith('_count')) {
      s.count = v.value;
    }
  }
  return [...out.values()];
}
