// Runs the real agent (bin/sidelight.js) as a child process for end-to-end
// tests, and reads what it left in the kernel.
import { spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { JsonTransaction } from '../../src/export/console';
import { spawn } from './children';
import { poll } from './wait';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const BIN = path.join(ROOT, 'bin', 'sidelight.js');

/** The build of the kernel programs the loader should pick on this kernel (bpf/Makefile): by version, independently of the loader's own probes. */
export function expectedBuild(release = os.release()): 'fast' | 'standard' | 'compat' {
  const [major = 0, minor = 0] = release.split('.').map((n) => parseInt(n, 10));
  const v = major * 1000 + minor;
  return v >= 6002 ? 'fast' : v >= 5012 ? 'standard' : 'compat';
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
    await poll(() => this.transactions().filter(match).length >= n, timeoutMs);
  }

  /** Resolves once /readyz answers 200; throws if the agent exits first or the timeout passes (and kills it). */
  async ready(timeoutMs = 30_000): Promise<void> {
    let exitCode: number | null | undefined;
    void this.exited.then((c) => (exitCode = c));
    const ok = await poll(async () => {
      if (exitCode !== undefined) throw new Error(`agent exited with ${exitCode} before ready: ${this.stderr}`);
      return (await httpGet(this.adminPort, '/readyz').catch(() => ({ status: 0 }))).status === 200;
    }, timeoutMs, 100);
    if (!ok) {
      this.child.kill('SIGKILL');
      throw new Error(`agent not ready within ${timeoutMs} ms: ${this.stderr}`);
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
  await agent.ready(timeoutMs);
  return agent;
}

/** Waits (the kernel frees tracing programs after an RCU grace period) until
 * no program or link of ours is loaded, or the timeout passes; returns what is left. */
export async function kernelObjectsAfterExit(timeoutMs = 5000): Promise<{ progs: string[]; links: number }> {
  let left = ourKernelObjects();
  await poll(() => {
    left = ourKernelObjects();
    return left.progs.length === 0 && left.links === 0;
  }, timeoutMs, 100);
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
