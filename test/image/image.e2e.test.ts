// test-file-bound: 1800
// The container image, built here by scripts/image.sh: its own Node runs the
// agent (chroot into the mounted image, with the host's /proc, /sys and
// tracefs bound in: what a pod sharing the host's PID namespace sees), the
// agent sees HTTP between host processes, and the image carries the app but no
// compiler or npm. chroot rather than podman run: no OCI runtime is needed.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { JsonTransaction } from '../../src/export/console';
import { ROOT, freePort, httpGet, kernelObjectsAfterExit } from '../support/agent';
import { spawn } from '../support/children';
import { poll } from '../support/wait';
import { bpfUnavailable, skipUnless } from '../support/requirements';

const run = promisify(execFile);
const IMAGE = 'localhost/sidelight:dev';
// Measured at 326 MB (Debian base 82 MB, Node 24 121 MB, production
// node_modules 140 MB); the bound leaves room for dependency growth only.
const MAX_IMAGE_BYTES = 400e6;

// The host is prepared as the agent would prepare it (tracefs mounted), since
// the image's agent sees the host's tracefs through a bind mount.
const skip = skipUnless(
  'the image test',
  bpfUnavailable() ?? (spawnSync('sh', ['-c', 'command -v podman || command -v apt-get'], { stdio: 'ignore' }).status !== 0 ? 'no podman, and no apt-get to install it' : undefined),
);

/** Present in the image's root, as a file, directory or (even dangling) link. */
function present(root: string, p: string): boolean {
  try {
    lstatSync(path.join(root, p));
    return true;
  } catch {
    return false;
  }
}

/** Mount points at or under dir, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

interface ImageInfo {
  Size: number;
  Config: { Entrypoint?: string[]; Cmd?: string[]; WorkingDir?: string; User?: string; Labels?: Record<string, string> };
}

describe('the container image', { skip }, () => {
  it('builds, and its own Node runs the agent, which sees HTTP on the host', { timeout: 30 * 60_000 }, async (t) => {
    // Build (or find in podman's layer cache) the image.
    const started = Date.now();
    const build = spawnSync('bash', [path.join(ROOT, 'scripts', 'image.sh')], { encoding: 'utf8', maxBuffer: 256 << 20 });
    const log = `${build.stdout}${build.stderr}`;
    assert.equal(build.status, 0, `scripts/image.sh failed:\n${log.split('\n').slice(-40).join('\n')}`);
    t.diagnostic(`scripts/image.sh took ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const [info] = JSON.parse((await run('podman', ['image', 'inspect', IMAGE])).stdout) as ImageInfo[];
    t.diagnostic(`${IMAGE} is ${(info!.Size / 1e6).toFixed(1)} MB (podman image inspect .Size: ${info!.Size} bytes)`);
    assert.ok(info!.Size < MAX_IMAGE_BYTES, `image is ${info!.Size} bytes, over ${MAX_IMAGE_BYTES}`);
    assert.deepEqual(info!.Config.Entrypoint, ['node', '/opt/sidelight/bin/sidelight.js']);
    assert.deepEqual(info!.Config.Cmd, ['run']);
    assert.equal(info!.Config.WorkingDir, '/opt/sidelight');
    assert.equal(info!.Config.Labels?.['org.opencontainers.image.title'], 'sidelight');

    const root = (await run('podman', ['image', 'mount', IMAGE])).stdout.trim();
    assert.ok(root.startsWith('/') && existsSync(path.join(root, 'opt', 'sidelight')), `podman image mount gave ${root}`);
    const binds: string[] = [];
    const srv = http.createServer((_req, res) => res.writeHead(200, { 'content-length': 2 }).end('ok'));
    let agent: ReturnType<typeof spawn> | undefined;
    let exited: Promise<number | null> = Promise.resolve(null);
    try {
      // Binds a crashed earlier run left behind.
      for (const m of mountsUnder(root).filter((m) => m !== root)) spawnSync('umount', ['-l', m]);

      // The runtime image: the app, Node 24, no toolchain, no dev-only files.
      for (const p of ['usr/bin/gcc', 'usr/bin/cc', 'usr/bin/c++', 'usr/bin/clang', 'usr/bin/ld', 'usr/bin/make', 'usr/sbin/bpftool', 'usr/local/bin/npm', 'usr/local/bin/npx', 'usr/local/include/node']) {
        assert.equal(present(root, p), false, `${p} is in the runtime image`);
      }
      for (const p of ['dist/test', 'dist/bench', 'bpf', 'src', 'node_modules/typescript', 'node_modules/fast-check', 'node_modules/@types/picomatch']) {
        assert.equal(present(root, `opt/sidelight/${p}`), false, `/opt/sidelight/${p} is in the runtime image`);
      }
      for (const p of ['bin/sidelight.js', 'dist/src/cli.js', 'native/build/Release/sidelight.node', 'package.json', 'node_modules/commander']) {
        assert.ok(present(root, `opt/sidelight/${p}`), `/opt/sidelight/${p} is missing from the image`);
      }
      const version = (await run('chroot', [root, '/usr/local/bin/node', '--version'])).stdout.trim();
      assert.match(version, /^v24\./);
      t.diagnostic(`the image's node is ${version}`);

      // What a DaemonSet mounts: the host's /proc, /sys (kernel BTF is part of
      // it) and tracefs, which the host must have mounted.
      for (const dir of ['/proc', '/sys', '/sys/kernel/tracing']) {
        const target = path.join(root, dir);
        await run('mount', ['--bind', dir, target]);
        binds.push(target);
      }
      assert.ok(existsSync(path.join(root, 'sys/kernel/btf/vmlinux')), 'kernel BTF not visible in the image root');

      const port = await freePort();
      await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
      const adminPort = await freePort();
      agent = spawn(
        'chroot',
        [root, '/usr/local/bin/node', '/opt/sidelight/bin/sidelight.js', 'run', '--output', 'json', '--port', String(port), '--admin-port', String(adminPort), '--admin-host', '127.0.0.1', '--duration', '5'],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } },
      );
      let stdout = '';
      let stderr = '';
      agent.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      agent.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      let code: number | null | undefined;
      exited = new Promise<number | null>((r) => agent!.once('exit', (c) => r((code = c))));

      await poll(() => code !== undefined || httpGet(adminPort, '/readyz').then((r) => r.status === 200, () => false), 30_000, 100);
      assert.equal(code, undefined, `agent exited with ${code} before ready: ${stderr}`);
      assert.deepEqual(await httpGet(adminPort, '/healthz'), { status: 200, body: 'ok\n' });
      for (let i = 0; i < 3; i++) {
        const { stdout: status } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/image/${i}?n=${i}`]);
        assert.equal(status, '200');
      }

      // --duration ends the run by itself.
      const timer = setTimeout(() => agent!.kill('SIGKILL'), 30_000);
      assert.equal(await exited, 0, stderr);
      clearTimeout(timer);
      const txs = stdout.trim().split('\n').map((l) => JSON.parse(l) as JsonTransaction);
      assert.equal(txs.length, 6, stdout);
      assert.deepEqual(
        txs.map((tx) => [tx.role, tx.method, tx.path, tx.status]).sort(),
        [0, 1, 2].flatMap((i) => [['client', 'GET', `/image/${i}`, 200], ['server', 'GET', `/image/${i}`, 200]]).sort(),
      );
      // The host's /proc names the processes: this test serves, curl asks.
      assert.deepEqual([...new Set(txs.filter((tx) => tx.role === 'server').map((tx) => tx.pid))], [process.pid]);
      assert.deepEqual([...new Set(txs.filter((tx) => tx.role === 'client').map((tx) => tx.process))], ['curl']);
      const logs = stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; transactions?: number; kernelDrops?: number });
      const stopped = logs.find((l) => l.msg === 'stopped');
      assert.equal(stopped?.transactions, 6);
      assert.equal(stopped?.kernelDrops, 0);
      assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 });

      // A container runtime stops the entrypoint with SIGTERM (podman stop,
      // the kubelet), a terminal with SIGINT: either stops the agent cleanly.
      for (const sig of ['SIGTERM', 'SIGINT'] as const) {
        const admin = await freePort();
        const a = spawn('chroot', [root, '/usr/local/bin/node', '/opt/sidelight/bin/sidelight.js', 'run', '--output', 'json', '--port', String(port), '--admin-port', String(admin), '--admin-host', '127.0.0.1'], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
        });
        agent = a;
        let err = '';
        a.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
        exited = new Promise<number | null>((r) => a.once('exit', (c) => r(c)));
        assert.ok(await poll(() => httpGet(admin, '/readyz').then((r) => r.status === 200, () => false), 30_000, 100), `not ready: ${err}`);
        a.kill(sig);
        assert.equal(await exited, 0, err);
        const msgs = err.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; signal?: string });
        assert.equal(msgs.find((l) => l.msg === 'stopping')?.signal, sig);
        assert.ok(msgs.some((l) => l.msg === 'stopped'), err);
        assert.deepEqual(await kernelObjectsAfterExit(), { progs: [], links: 0 }, `after ${sig}`);
      }
    } finally {
      // The agent holds the binds until it is gone.
      if (agent && agent.exitCode === null && agent.signalCode === null) {
        agent.kill('SIGKILL');
        await exited;
      }
      srv.close();
      for (const target of binds.reverse()) spawnSync('umount', [target]);
      spawnSync('podman', ['image', 'unmount', IMAGE]);
    }
    assert.deepEqual(mountsUnder(root).filter((m) => m !== root), [], 'binds left under the image root');
  });
});
