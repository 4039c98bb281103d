// test/fixtures/step-writer.py from a test: small HTTP requests on one
// loopback connection, sent when the test says.
import assert from 'node:assert/strict';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, ROOT } from './agent';
import { spawn } from './children';

/** A python writer whose sends the test paces: `send(k)` resolves once k requests are on the wire. */
export async function stepWriter(size: number): Promise<{ pid: number; send: (k: number) => Promise<void>; end: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn('python3', [path.join(ROOT, 'test', 'fixtures', 'step-writer.py'), String(port), String(size)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ready = (await lines.next()).value as string;
  return {
    pid: Number(ready.split(' ')[1]),
    send: async (k) => {
      child.stdin!.write(`${k}\n`);
      assert.equal((await lines.next()).value, `sent ${k}`);
    },
    end: async () => {
      child.stdin!.end('\n');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

