// The suite's runner (scripts/test.sh) against test files made to fail: a
// failure with a child still running ends at once and leaves nothing behind;
// a file that hangs for good is stopped at its bound, named, and leaves
// nothing behind either.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../support/agent';
import { processesWithArg } from '../support/children';

const FIXTURES = path.join(ROOT, 'dist', 'test', 'fixtures', 'suite');

/** Pids of processes whose command line holds the mark, zombies too. */
const marked = (mark: string): number[] => processesWithArg(mark).map((p) => p.pid);

function runSuite(fixture: string, boundSec: number): { status: number | null; stderr: string; stdout: string; ms: number; mark: string } {
  const mark = `sidelight-fixture-${process.pid}-${fixture}`;
  const started = Date.now();
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'test.sh'), path.join(FIXTURES, fixture)], {
    encoding: 'utf8',
    env: { ...process.env, SIDELIGHT_TEST_BOUND: String(boundSec), SIDELIGHT_FIXTURE_MARK: mark },
    timeout: 120_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout, ms: Date.now() - started, mark };
}

describe('the suite runner', () => {
  it('a file failing mid-way with a child and a grandchild running ends without waiting for its bound, and kills both', () => {
    const r = runSuite('fails-with-children.fixture.js', 60);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
    assert.match(r.stderr, /tests: 1 passed, 1 failed, 0 cancelled, 0 skipped/);
    assert.match(r.stderr, /sidelight test: FAILED \S*\/fails-with-children\.fixture\.js/);
    assert.doesNotMatch(r.stderr, /OVERRAN|LEFT PROCESSES/);
    assert.deepEqual(marked(r.mark), []);
  });

  it('a file that hangs for good is stopped at its bound, named, and leaves no process behind', () => {
    const bound = 3;
    const r = runSuite('hangs.fixture.js', bound);
    assert.equal(r.status, 1, r.stderr);
    // Node's runner times the file out at the bound; the child holding its
    // stderr keeps it open until `timeout` kills the group (bound + 5 s).
    assert.ok(r.ms >= bound * 1000 && r.ms < (bound + 5) * 1000 + 10_000, `took ${r.ms} ms`);
    assert.match(r.stderr, new RegExp(`sidelight test: OVERRAN \\S*/hangs\\.fixture\\.js: its bound is ${bound}s`));
    assert.doesNotMatch(r.stderr, /FAILED/);
    assert.deepEqual(marked(r.mark), []);
  });
});
