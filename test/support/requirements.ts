// One rule for every test that needs something of the host (BPF, root, a
// peer binary): in CI a missing need fails the file; elsewhere the test is
// skipped with the reason, so `npm test` on a laptop still says what it left out.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { PreflightError, preflight } from '../../src/capture/preflight';
import { ROOT } from './agent';

/**
 * Why kernel programs cannot load here, or undefined when they can. Prepares
 * the host the way the agent does (the agent's own preflight: tracefs is
 * mounted when missing and allowed), so a test that loads programs itself
 * runs on a fresh machine exactly as the agent would.
 */
export function bpfUnavailable(): string | undefined {
  if (process.platform === 'linux' && process.getuid?.() !== 0) return 'not root';
  try {
    preflight();
  } catch (err) {
    if (err instanceof PreflightError) return err.message;
    throw err;
  }
  if (!existsSync(path.join(ROOT, 'native', 'build', 'Release', 'sidelight.node'))) return 'addon not built (npm run build)';
  return undefined;
}

/**
 * The `skip` option for a describe or it: false when the need is met; the
 * reason otherwise. In CI an unmet need throws instead, failing the file.
 */
export function skipUnless(need: string, why: string | undefined): string | false {
  if (why === undefined) return false;
  if (process.env.CI) throw new Error(`${need} cannot run in CI: ${why}`);
  return `${need}: ${why}`;
}

/** skipUnless for tests that load kernel programs. */
export const bpfSkip = (): string | false => skipUnless('needs BPF', bpfUnavailable());

/** Inside a test: true when the need is met; otherwise skips it (or throws in CI) and returns false. */
export function need(t: TestContext, what: string, why: string | undefined): boolean {
  const skip = skipUnless(what, why);
  if (skip === false) return true;
  t.skip(skip);
  return false;
}

/** need() for kernel programs. */
export const needBpf = (t: TestContext): boolean => need(t, 'needs BPF', bpfUnavailable());

/** Why a test that needs root cannot run here, or undefined. */
export const rootUnavailable = (): string | undefined => (process.getuid?.() === 0 ? undefined : 'not root');
