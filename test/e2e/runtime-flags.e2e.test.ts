// The V8 and Node flags the agent starts again with (bin/sidelight.js): where
// Node can re-execute itself, `run` adds --disable-sigusr1 and caps the young
// generation at 8 MiB per semi-space unless the user chose a size; where it
// cannot (Node 20), it runs as started.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startAgent } from '../support/agent';
import { needBpf } from '../support/requirements';

const CAN_REEXEC = typeof (process as { execve?: unknown }).execve === 'function';

function argsOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter((a) => a !== '');
}

/** The flags between node and the script, as the running agent holds them. */
async function nodeFlags(env: Record<string, string>): Promise<string[]> {
  const agent = await startAgent(['--output', 'none', '--port', '1'], 30_000, env);
  try {
    const args = argsOf(agent.child.pid!);
    return args.slice(1, args.findIndex((a) => a.endsWith('sidelight.js')));
  } finally {
    await agent.stop();
  }
}

describe('runtime flags', () => {
  it('the agent caps the young generation where it can start again, and leaves the flags alone where it cannot', async (t) => {
    if (!needBpf(t)) return;
    const flags = await nodeFlags({ NODE_OPTIONS: '' });
    if (CAN_REEXEC) assert.deepEqual(flags, ['--disable-sigusr1', '--max-semi-space-size=8']);
    else assert.deepEqual(flags, []);
  });

  it('a semi-space size the user gives wins', async (t) => {
    if (!needBpf(t)) return;
    const flags = await nodeFlags({ NODE_OPTIONS: '--max-semi-space-size=2' });
    assert.equal(flags.includes('--max-semi-space-size=8'), false, flags.join(' '));
    if (CAN_REEXEC) assert.deepEqual(flags, ['--disable-sigusr1']);
  });
});
