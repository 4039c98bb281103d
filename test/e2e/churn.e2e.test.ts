// test-file-bound: 600
// Churn, shortened for the suite (`npm run soak` runs the 10-minute soak):
// 100,000 short-lived connections, 10,000 idle keep-alive ones against a
// 4,096-connection bound, then a minute of cycles of both. See test/soak/churn.ts.
import { describe, it } from 'node:test';
import { checkSoak, runChurn } from '../soak/churn';
import { bpfSkip } from '../support/requirements';

const skip = bpfSkip();

describe('churn', { skip }, () => {
  it('100,000 short connections and 10,000 idle ones: every exchange exact, tracked connections bounded, no leak over a minute of cycles', async (t) => {
    const r = await runChurn({
      shortConnections: 100_000,
      idleConnections: 10_000,
      maxConnections: 4096,
      soakMs: 60_000,
      cycleShort: 5000,
      cycleIdle: 2000,
      log: (l) => t.diagnostic(l),
    });
    t.diagnostic(JSON.stringify(checkSoak(r)));
  });
});
