// The one sleep and the one polling loop of the test suite.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `pred` every `intervalMs` until it holds (true) or `timeoutMs` passes (false). */
export async function poll(pred: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() >= end) return false;
    await sleep(intervalMs);
  }
}

/** Like poll, but a timeout is an error naming what was awaited. */
export async function waitUntil(what: string, pred: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<void> {
  if (!(await poll(pred, timeoutMs, intervalMs))) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
