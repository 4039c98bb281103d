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

/**
 * The decision of a sampler that needs no trace id: its root decision, and
 * whether a parent's own decision wins (the ParentBased samplers: a sampled
 * parent is followed, an unsampled one too, local or remote alike).
 */
interface FixedDecision {
  root: boolean;
  followParent: boolean;
}

const FIXED: Partial<Record<SamplerName, FixedDecision>> = {
  always_on: { root: true, followParent: false },
  always_off: { root: false, followParent: false },
  parentbased_always_on: { root: true, followParent: true },
  parentbased_always_off: { root: false, followParent: true },
};

export class SpanSampler {
  /**
   * Set when the decision needs no trace id (every sampler but the ratio
   * ones, the default included): decided here, without building the
   * OpenTelemetry context the sampler would read, once per span.
   */
  private readonly fixed: FixedDecision | undefined;

  constructor(private readonly sampler: Sampler, name?: SamplerName) {
    this.fixed = name !== undefined ? FIXED[name] : sampler instanceof AlwaysOnSampler ? FIXED.always_on : undefined;
  }

  /** The sampler the configuration names, with its decision taken directly where it needs no trace id. */
  static named(name: SamplerName, ratio: number): SpanSampler {
    return new SpanSampler(buildSampler(name, ratio), name);
  }

  /** Whether the span with this trace id (and parent, if any) is recorded and exported. */
  sampled(traceId: string, parent: ParentDecision | undefined, name: string, kind: 'server' | 'client'): boolean {
    const fixed = this.fixed;
    if (fixed !== undefined) {
      // A deferred parent decision (B3 without a state) is a root decision.
      return fixed.followParent && parent !== undefined && parent.sampled !== undefined ? parent.sampled : fixed.root;
    }
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

export const ALWAYS_ON = SpanSampler.named('always_on', 1);
