// Head sampling with OpenTelemetry's own samplers, so a trace that crosses
// SDK-instrumented services and sidelight gets the same decision everywhere
// (TraceIdRatioBased hashes the trace id the same way in every SDK).
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace, type Context } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';

export const SAMPLER_NAMES = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

export function buildSampler(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

export interface ParentDecision {
  traceId: string;
  spanId: string;
  /** undefined: the remote side deferred the decision (B3 without a state). */
  sampled: boolean | undefined;
  remote: boolean;
}

export class SpanSampler {
  private readonly alwaysOn: boolean;

  constructor(private readonly sampler: Sampler) {
    this.alwaysOn = sampler instanceof AlwaysOnSampler;
  }

  /** Whether the span with this trace id (and parent, if any) is recorded and exported. */
  sampled(traceId: string, parent: ParentDecision | undefined, name: string, kind: 'server' | 'client'): boolean {
    if (this.alwaysOn) return true;
    let ctx: Context = ROOT_CONTEXT;
    // A deferred decision is a root decision on the parent's trace id.
    if (parent && parent.sampled !== undefined) {
      ctx = trace.setSpanContext(ROOT_CONTEXT, {
        traceId: parent.traceId,
        spanId: parent.spanId,
        traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
        isRemote: parent.remote,
      });
    }
    const r = this.sampler.shouldSample(ctx, traceId, name, kind === 'server' ? SpanKind.SERVER : SpanKind.CLIENT, {}, []);
    return r.decision === SamplingDecision.RECORD_AND_SAMPLED;
  }
}

export const ALWAYS_ON = new SpanSampler(new AlwaysOnSampler());
