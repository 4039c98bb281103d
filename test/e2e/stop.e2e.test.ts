// test-file-bound: 600
// Stopping the agent never leaves it behind, whichever way the README starts
// it: SIGTERM or SIGINT to the process the user started (npm, npx, the
// installed bin, the systemd unit's command) stops the agent, and when npm is
// killed outright the agent notices and stops too. Afterwards no process of it
// is left and no program or link of ours is loaded. (The image's entrypoint is
// stopped the same way in test/image/image.e2e.test.ts.)
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, RunningAgent, freePort, kernelObjectsAfterExit } from '../support/agent';
import { processesWithArg, spawn } from '../support/children';
import { bpfSkip } from '../support/requirements';
import { poll } from '../support/wait';

const skip = bpfSkip();

/** Pids of live processes whose command line holds this argument (npm and sh hold it inside one longer word). */
const processesWith = (arg: string): number[] => processesWithArg(arg).filter((p) => p.state !== 'Z').map((p) => p.pid);

/** The systemd unit of the README: its ExecStart words and its capabilities. */
function readmeUnit(): { execStart: string[]; caps: string[] } {
  const unit = /```ini\n# \/etc\/systemd\/system\/sidelight\.service\n([\s\S]*?)```/.exec(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  assert.ok(unit, 'the README has the systemd unit');
  const key = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(unit[1])?.[1] ?? assert.fail(`no ${k} in the unit`);
  const caps = key('AmbientCapabilities').split(/\s+/).map((c) => c.replace(/^CAP_/, ''));
  assert.deepEqual(key('CapabilityBoundingSet').split(/\s+/).map((c) => c.replace(/^CAP_/, '')), caps);
  return { execStart: key('ExecStart').split(/\s+/), caps };
}

interface StartPath {
  name: string;
  /** Starts the agent; the returned process is the one the user started. */
  start(agentArgs: string[]): ChildProcess;
  /** Longest wait for /readyz (npm start builds first). */
  readyMs: number;
  /** npm stands between the user and the agent. */
  underNpm: boolean;
  /** npm's default shell (dash) between npm and the agent: it holds a signal back, so the agent stops on its exit. */
  viaShell?: boolean;
}

describe('stopping the agent, however it was started', { skip }, () => {
  let tmp = '';
  let prefix = '';
  let configFile = '';
  const paths: StartPath[] = [
    { name: 'npm start', readyMs: 180_000, underNpm: true, start: (a) => spawn('npm', ['start', '--', ...a], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }) },
    { name: 'npx sidelight run', readyMs: 60_000, underNpm: true, start: (a) => spawn('npx', ['sidelight', 'run', ...a], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_yes: 'true' } }) },
    {
      name: "npx sidelight run under npm's default shell, sh",
      readyMs: 60_000,
      underNpm: true,
      viaShell: true,
      start: (a) => spawn('npx', ['sidelight', 'run', ...a], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_yes: 'true', npm_config_script_shell: '/bin/sh' } }),
    },
    { name: 'the installed bin', readyMs: 30_000, underNpm: false, start: (a) => spawn(path.join(prefix, 'bin', 'sidelight'), ['run', ...a], { stdio: ['ignore', 'pipe', 'pipe'] }) },
    {
      name: "the systemd unit's command",
      readyMs: 30_000,
      underNpm: false,
      start: (a) => {
        // systemd execs ExecStart with the unit's capabilities and signals that process.
        const { execStart, caps } = readmeUnit();
        const cmd = execStart.map((w) => (w === '/usr/bin/node' ? process.execPath : w.replace(/^\/opt\/sidelight\//, `${ROOT}/`).replace('/etc/sidelight/config.yaml', configFile)));
        const list = caps.map((c) => `+${c.toLowerCase()}`).join(',');
        // CapabilityBoundingSet, AmbientCapabilities (which need the same inheritable ones), NoNewPrivileges.
        const unitPrivileges = ['--bounding-set', `-all,${list}`, '--inh-caps', list, '--ambient-caps', list, '--no-new-privs'];
        return spawn('setpriv', [...unitPrivileges, '--', ...cmd, ...a], { stdio: ['ignore', 'pipe', 'pipe'] });
      },
    },
  ];

  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sl-stop-'));
    prefix = path.join(tmp, 'prefix');
    configFile = path.join(tmp, 'config.yaml');
    writeFileSync(configFile, 'log-level: info\n');
    // What `npm install -g` of this checkout makes: a bin on PATH linked to bin/sidelight.js.
    execFileSync('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', ROOT], { stdio: 'ignore' });
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  async function startAndStop(p: StartPath, how: 'SIGTERM' | 'SIGINT' | 'SIGKILL'): Promise<void> {
    const adminPort = await freePort();
    const quietPort = await freePort(); // nobody talks on it: only the lifecycle is under test
    const launcher = p.start(['--output', 'json', '--port', String(quietPort), '--admin-port', String(adminPort), '--admin-host', '127.0.0.1']);
    // The started process, watched as an agent: its stderr carries the agent's, its exit is the launcher's.
    const started = new RunningAgent(launcher, adminPort);
    // The agent holds the pipes after the launcher dies: their end is the agent's exit.
    const pipesClosed = new Promise((r) => launcher.stderr!.once('close', r));
    const mark = String(adminPort);
    try {
      await started.ready(p.readyMs);
      const agents = processesWithArg(mark).filter((a) => a.state !== 'Z' && a.argv.some((w) => w.endsWith('sidelight') || w.endsWith('sidelight.js')));
      assert.ok(agents.length >= 1, 'the agent runs');

      launcher.kill(how);
      await started.exited;
      const gone = await poll(() => processesWith(mark).length === 0, 20_000, 100);
      assert.ok(gone, `${p.name}, ${how} to pid ${launcher.pid}: still running: ${processesWith(mark).join(', ')}`);
      await pipesClosed;
      const stderr = started.stderr;
      const logs = stderr.split('\n').filter((l) => l.startsWith('{"level"')).map((l) => JSON.parse(l) as { msg: string; signal?: string });
      // A clean stop, for the reason expected: the signal itself (npm hands
      // it to the agent, which bash made its direct child), or npm's death.
      const why = logs.filter((l) => l.msg.startsWith('stopping')).map((l) => (l.signal ? `${l.msg} (${l.signal})` : l.msg));
      assert.deepEqual(why, [how === 'SIGKILL' || p.viaShell ? 'stopping: the npm launcher exited' : `stopping (${how})`], stderr);
      assert.equal(logs.filter((l) => l.msg === 'stopped').length, 1, stderr);
      const left = await kernelObjectsAfterExit();
      assert.deepEqual(left, { progs: [], links: 0 }, `${p.name}, ${how}: left in the kernel`);
    } finally {
      for (const pid of processesWith(mark)) process.kill(pid, 'SIGKILL');
    }
  }

  for (const p of paths) {
    // dash holds a SIGINT until its child exits, and npm stays: nothing reaches
    // or ends around the agent then (README: Stopping). The checkout's .npmrc
    // makes bash npm's shell for that reason.
    for (const how of p.viaShell ? (['SIGTERM'] as const) : (['SIGTERM', 'SIGINT'] as const)) {
      it(`${p.name}: ${how} to the started process stops the agent and detaches everything`, () => startAndStop(p, how));
    }
    if (p.underNpm) {
      it(`${p.name}: npm killed outright (SIGKILL): the agent sees its launcher gone and stops`, () => startAndStop(p, 'SIGKILL'));
    }
  }
});
