// A full garbage collection on request, for /stats?gc: memory read right after
// it is live data, not live data plus whatever the collector has not reached
// yet, which is what a leak hunt needs. Node hides gc() unless started with
// --expose-gc; V8 lets the flag be set late and hands gc() to a new context.
import v8 from 'node:v8';
import vm from 'node:vm';

/** At most one forced collection this often: a full pause is not free. */
export const GC_MIN_INTERVAL_MS = 1000;

let gc: (() => void) | undefined;
let lastAt = -Infinity;

function collector(): () => void {
  if (!gc) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') gc = exposed;
    else {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    }
  }
  return gc;
}

/** Runs a full collection, or says in one line why not (too soon after the last). */
export function collectGarbage(now = Date.now()): true | string {
  if (now - lastAt < GC_MIN_INTERVAL_MS) return `a collection ran under ${GC_MIN_INTERVAL_MS} ms ago; retry in a second`;
  lastAt = now;
  collector()();
  return true;
}
