import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import { buildSampler, SAMPLER_NAMES, SpanSampler, type ParentDecision } from '../../src/transactions/sampling';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENTS: (ParentDecision | undefined)[] = [undefined];
for (const sampled of [true, false, undefined]) {
  for (const remote of [true, false]) PARENTS.push({ traceId: TRACE, spanId: '00f067aa0ba902b7', sampled, remote });
}

/** The OpenTelemetry sampler itself, hidden behind a plain object so SpanSampler cannot take a shortcut. */
function viaOpenTelemetry(name: (typeof SAMPLER_NAMES)[number], ratio: number): SpanSampler {
  const inner = buildSampler(name, ratio);
  const opaque: Sampler = { shouldSample: (...args) => inner.shouldSample(...args), toString: () => inner.toString() };
  return new SpanSampler(opaque);
}

describe('span sampling', () => {
  it('decides as the OpenTelemetry samplers do, for every sampler, parent and kind', () => {
    let compared = 0;
    for (const name of SAMPLER_NAMES) {
      for (const ratio of [0, 0.5, 1]) {
        const fast = SpanSampler.named(name, ratio);
        const reference = viaOpenTelemetry(name, ratio);
        for (const parent of PARENTS) {
          for (const kind of ['server', 'client'] as const) {
            for (const traceId of [TRACE, 'ffffffffffffffffffffffffffffffff', '00000000000000000000000000000001']) {
              const want = reference.sampled(traceId, parent, 'GET', kind);
              assert.equal(fast.sampled(traceId, parent, 'GET', kind), want, `${name} ratio ${ratio} parent ${JSON.stringify(parent)} ${kind} ${traceId}`);
              compared++;
            }
          }
        }
      }
    }
    assert.equal(compared, SAMPLER_NAMES.length * 3 * PARENTS.length * 2 * 3);
  });

  it('the default sampler follows a parent, sampled or not, and samples roots and deferred decisions', () => {
    const s = SpanSampler.named('parentbased_always_on', 1);
    const parent = (sampled: boolean | undefined, remote: boolean): ParentDecision => ({ traceId: TRACE, spanId: '00f067aa0ba902b7', sampled, remote });
    assert.deepEqual(
      [s.sampled(TRACE, undefined, 'GET', 'server'), s.sampled(TRACE, parent(false, true), 'GET', 'server'), s.sampled(TRACE, parent(false, false), 'GET', 'client'), s.sampled(TRACE, parent(undefined, true), 'GET', 'server')],
      [true, false, false, true],
    );
  });
});
