// A test file that loads kernel programs itself (no agent process) passes on a
// host where tracefs is not mounted, as on a fresh machine: the suite's
// requirements helper prepares the host with the agent's own preflight. Run in
// a private mount namespace, so the host's mounts are left as they are.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../support/agent';
import { bpfSkip } from '../support/requirements';

const skip = bpfSkip();

/** Unmounts every tracefs in the namespace, shows there is none, runs the file, then shows tracefs is back. */
const SCRIPT = `
awk '$3 == "tracefs" { print $2 }' /proc/self/mounts | sort -r | while read -r mp; do umount "$mp" || exit 1; done
echo "tracefs before: $(awk '$3 == "tracefs"' /proc/self/mounts | wc -l)"
node --test --test-reporter=tap "$1" || exit 1
echo "tracefs after: $(awk '$3 == "tracefs" { print $2 }' /proc/self/mounts)"
`;

describe('a fresh host', { skip }, () => {
  it('a BPF-loading test file passes with tracefs unmounted, mounting it the way the agent does', () => {
    const file = path.join(ROOT, 'dist', 'test', 'capture', 'backpressure.e2e.test.js');
    const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true' };
    delete env.NODE_TEST_CONTEXT; // a runner of its own, not a report to this one
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', SCRIPT, 'sh', file], { encoding: 'utf8', env, timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^tracefs before: 0$/m);
    assert.match(r.stdout, /^# pass 1$/m);
    assert.match(r.stdout, /^# fail 0$/m);
    assert.match(r.stdout, /^# skipped 0$/m);
    assert.match(r.stdout, /^tracefs after: \/sys\/kernel\/tracing$/m);
  });
});
