// Runs the real agent (bin/sidelight.js) as a child process for end-to-end
// tests, and decides whether BPF tests can run here.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { JsonTransaction } from '../../src/export/console';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const BIN = path.join(ROOT, 'bin', 'sidelight.js');

/** Why BPF tests cannot run here, or undefined when they can. */
export function bpfUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'no kernel BTF';
  if (!existsSync(path.join(ROOT, 'native', 'build', 'Release', 'sidelight.node'))) return 'addon not built (npm run build)';
  return undefined;
}

/** In CI a BPF test fails when BPF cannot load; elsewhere it skips with the reason. */
export function needBpf(t: TestContext): boolean {
  const why = bpfUnavailable();
  if (!why) return true;
  if (process.env.CI) throw new Error(`BPF tests cannot run: ${why}`);
  t.skip(`needs BPF: ${why}`);
  return false;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET on loopback: status, body and response headers. */
export function httpGetWithHeaders(port: number, urlPath: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}

export async function httpGet(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  const { status, body } = await httpGetWithHeaders(port, urlPath);
  return { status, body };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RunningAgent {
  private stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess, readonly adminPort: number) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Everything printed on stdout so far. */
  output(): string {
    return this.stdout;
  }

  /** Transactions printed so far (whole lines only: the last may still be arriving). */
  transactions(): JsonTransaction[] {
    return this.stdout
      .slice(0, this.stdout.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as JsonTransaction);
  }

  /** Waits until at least n transactions match, or the timeout passes. */
  async waitFor(n: number, match: (tx: JsonTransaction) => boolean, timeoutMs = 15_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.transactions().filter(match).length >= n) return;
      await sleep(50);
    }
  }

  /** SIGTERM, then every transaction it printed before exiting. */
  async stop(): Promise<{ code: number | null; transactions: JsonTransaction[] }> {
    this.child.kill('SIGTERM');
    const code = await this.exited;
    return { code, transactions: this.transactions() };
  }
}

export async function startAgent(args: string[], timeoutMs = 30_000, env: Record<string, string> = {}): Promise<RunningAgent> {
  const adminPort = await freePort();
  const child = spawn(process.execPath, [BIN, 'run', '--output', 'json', '--admin-port', String(adminPort), '--admin-host', '127.0.0.1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const agent = new RunningAgent(child, adminPort);
  const until = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void agent.exited.then((c) => (exitCode = c));
  while (Date.now() < until) {
    if (exitCode !== undefined) throw new Error(`agent exited with ${exitCode} before ready: ${agent.stderr}`);
    try {
      const r = await httpGet(adminPort, '/readyz');
      if (r.status === 200) return agent;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`agent not ready within ${timeoutMs} ms: ${agent.stderr}`);
}

/** Waits (the kernel frees tracing programs after an RCU grace period) until
 * no program or link of ours is loaded, or the timeout passes; returns what is left. */
export async function kernelObjectsAfterExit(timeoutMs = 5000): Promise<{ progs: string[]; links: number }> {
  const until = Date.now() + timeoutMs;
  let left = ourKernelObjects();
  while ((left.progs.length > 0 || left.links > 0) && Date.now() < until) {
    await sleep(100);
    left = ourKernelObjects();
  }
  return left;
}

/** Names of loaded BPF programs and links that are ours (sl_*). */
export function ourKernelObjects(): { progs: string[]; links: number } {
  const progs = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  const list = JSON.parse(progs.stdout || '[]') as { name?: string; id: number }[];
  const ours = list.filter((p) => p.name?.startsWith('sl_')).map((p) => p.name!);
  const links = spawnSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' });
  const linkList = JSON.parse(links.stdout || '[]') as { prog_id: number }[];
  const ids = new Set(list.filter((p) => p.name?.startsWith('sl_')).map((p) => p.id));
  return { progs: ours, links: linkList.filter((l) => ids.has(l.prog_id)).length };
}
