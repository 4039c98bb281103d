// Which launchers the agent watches (npm and the shells it starts, nothing
// else), and that their exit is seen, from a made-up process table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { npmLaunchers, readProcess, watchLaunchers, type ProcessInfo } from '../../src/launcher';
import { spawn } from '../support/children';
import { poll, sleep } from '../support/wait';

const proc = (pid: number, ppid: number, argv: string[], state = 'S', startTime = `${pid}00`): ProcessInfo => ({ pid, ppid, state, startTime, argv });

function table(...ps: ProcessInfo[]): (pid: number) => ProcessInfo | undefined {
  const m = new Map(ps.map((p) => [p.pid, p]));
  return (pid) => m.get(pid);
}

const UNDER_NPM = { npm_lifecycle_event: 'npx' };
const AGENT = 500;

describe('npm launchers', () => {
  it('npx: the shell npm started and npm itself (its title rewritten), nearest first', () => {
    const read = table(
      proc(10, 1, ['-bash']),
      proc(100, 10, ['npm exec sidelight run --output json']),
      proc(200, 100, ['sh', '-c', 'sidelight run --output json']),
      proc(AGENT, 200, ['node', '/usr/lib/node_modules/sidelight/bin/sidelight.js', 'run']),
    );
    assert.deepEqual(npmLaunchers(UNDER_NPM, AGENT, read).map((p) => p.pid), [200, 100]);
  });

  it('npm start, whose script execs the agent: npm alone', () => {
    const read = table(proc(100, 10, ['npm start']), proc(AGENT, 100, ['node', 'bin/sidelight.js', 'run']));
    assert.deepEqual(npmLaunchers({ npm_lifecycle_event: 'start' }, AGENT, read).map((p) => p.pid), [100]);
  });

  it('npm by its script path, when its title was not rewritten', () => {
    const read = table(proc(100, 10, ['/usr/bin/node', '/usr/lib/node_modules/npm/bin/npm-cli.js', 'start']), proc(AGENT, 100, ['node']));
    assert.deepEqual(npmLaunchers(UNDER_NPM, AGENT, read).map((p) => p.pid), [100]);
  });

  it('nothing outside npm: a shell, nohup or a service manager is not a launcher to follow', () => {
    const read = table(proc(200, 10, ['sh', '-c', 'node bin/sidelight.js run &']), proc(AGENT, 200, ['node']));
    assert.deepEqual(npmLaunchers({}, AGENT, read), []);
  });

  it('nothing when something other than a `sh -c` stands between npm and the agent (a script npm ran that started it)', () => {
    const read = table(
      proc(100, 10, ['npm run serve']),
      proc(150, 100, ['sh', '-c', 'bash scripts/serve.sh']),
      proc(200, 150, ['bash', 'scripts/serve.sh']),
      proc(AGENT, 200, ['node']),
    );
    assert.deepEqual(npmLaunchers(UNDER_NPM, AGENT, read), []);
  });

  it('nothing when the chain cannot be read to npm (a parent gone already, or init reached)', () => {
    assert.deepEqual(npmLaunchers(UNDER_NPM, AGENT, table(proc(AGENT, 200, ['node']))), []);
    assert.deepEqual(npmLaunchers(UNDER_NPM, AGENT, table(proc(AGENT, 1, ['node']))), []);
  });

  it('reads a process from /proc: its command line, parent, state and start time', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await poll(() => readProcess(child.pid!)?.argv[0] === 'sleep', 5000, 10);
      const p = readProcess(child.pid!);
      assert.ok(p);
      assert.deepEqual({ pid: p.pid, ppid: p.ppid, argv: p.argv }, { pid: child.pid, ppid: process.pid, argv: ['sleep', '30'] });
      assert.match(p.state, /^[RS]$/);
      assert.match(p.startTime, /^\d+$/);
      assert.ok(Number(p.startTime) >= Number(readProcess(process.pid)!.startTime));
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(readProcess(0x3fffffff), undefined);
  });
});

describe('watching the launchers', () => {
  const launchers = [proc(200, 100, ['sh', '-c', 'sidelight run']), proc(100, 10, ['npm exec sidelight run'])];

  for (const [what, after] of [
    ['the shell exits and is reaped', table(launchers[1])],
    ['the shell exits, not reaped yet', table({ ...launchers[0], state: 'Z' }, launchers[1])],
    ['npm is killed and its pid is taken by another process', table(launchers[0], proc(100, 10, ['other'], 'S', '999'))],
  ] as const) {
    it(`calls back once when ${what}`, async () => {
      let read = table(...launchers);
      const gone: number[] = [];
      const stop = watchLaunchers(launchers, (p) => gone.push(p.pid), 5, (pid) => read(pid));
      await sleep(30);
      assert.deepEqual(gone, []);
      read = after;
      await sleep(50);
      stop();
      assert.equal(gone.length, 1);
    });
  }

  it('watches nothing when there is no launcher', () => {
    const stop = watchLaunchers([], () => assert.fail('no launcher to lose'), 1);
    stop();
  });
});
