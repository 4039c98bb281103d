// Runs the real Prometheus server (Debian package `prometheus`) as a child
// process for tests: it scrapes the given HTTP targets and is queried through
// its HTTP API. Each server gets its own temp dir (config + TSDB) and port.
// Prometheus 2.42 (Debian 12) hands discovered targets to the scrape manager
// at most every 5 s, so the first scrape comes about 5 s after /-/ready, plus
// up to one interval of per-target jitter: wait with waitForScrapes().
import type { ChildProcess } from 'node:child_process';
import { spawn } from './children';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './agent';
import { poll, sleep } from './wait';

const BINARY = '/usr/bin/prometheus';
const JOB = 'sidelight-test';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;
const STDERR_KEEP = 16_384;

/** The Prometheus binary, or undefined when the package is not installed. */
export function prometheusBinary(): string | undefined {
  return existsSync(BINARY) ? BINARY : undefined;
}

export interface PrometheusOptions {
  /** Scrape targets as 'host:port'. */
  targets: string[];
  /** Path scraped on every target; default /metrics. */
  metricsPath?: string;
  /** Scrape interval; default 1000 ms. The scrape timeout is the same (capped at 10 s). */
  scrapeIntervalMs?: number;
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface TargetHealth {
  scrapeUrl: string;
  health: string;
  lastError: string;
}

interface ApiResponse<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
}

type QueryData =
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, string] }[] }
  | { resultType: 'matrix'; result: { metric: Record<string, string>; values: [number, string][] }[] }
  | { resultType: 'scalar' | 'string'; result: [number, string] };

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

/** A Go duration Prometheus accepts ("1s", "500ms"). */
function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The config file; strings are JSON-quoted, which YAML reads as the same strings. */
function configYaml(opts: Required<PrometheusOptions>): string {
  const q = (s: string) => JSON.stringify(s);
  const interval = duration(opts.scrapeIntervalMs);
  const timeout = duration(Math.min(opts.scrapeIntervalMs, 10_000));
  return [
    'global:',
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${timeout}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    `  - job_name: ${q(JOB)}`,
    `    scrape_interval: ${interval}`,
    `    scrape_timeout: ${timeout}`,
    `    metrics_path: ${q(opts.metricsPath)}`,
    '    scheme: http',
    '    static_configs:',
    `      - targets: [${opts.targets.map(q).join(', ')}]`,
    '',
  ].join('\n');
}

export class PrometheusServer {
  private stderrText = '';
  private stopped = false;
  private readonly exited: Promise<void>;
  private exitStatus: string | undefined;
  private spawnError: Error | undefined;
  private readonly killOnExit = () => this.child.kill('SIGKILL');

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly targets: string[],
    /** http://127.0.0.1:PORT */
    readonly url: string,
  ) {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderrText = (this.stderrText + d).slice(-STDERR_KEEP);
    });
    child.stdout!.resume();
    child.once('error', (e) => (this.spawnError = e));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitStatus = signal ? `signal ${signal}` : `code ${code}`;
        resolve();
      }),
    );
    // A test that crashes without stop() must not leave the server running.
    process.once('exit', this.killOnExit);
  }

  /** What the server printed on stderr (the last 16 KiB). */
  get stderr(): string {
    return this.stderrText;
  }

  /** Writes a config into a fresh temp dir, starts Prometheus on a free port and waits for /-/ready. */
  static async start(opts: PrometheusOptions): Promise<PrometheusServer> {
    const bin = prometheusBinary();
    if (!bin) throw new Error(`${BINARY} not found: install the Debian package "prometheus"`);
    if (opts.targets.length === 0) throw new Error('PrometheusServer.start: no targets');
    const full: Required<PrometheusOptions> = {
      targets: opts.targets,
      metricsPath: opts.metricsPath ?? '/metrics',
      scrapeIntervalMs: opts.scrapeIntervalMs ?? 1000,
    };
    if (!Number.isInteger(full.scrapeIntervalMs) || full.scrapeIntervalMs <= 0) {
      throw new Error(`PrometheusServer.start: bad scrapeIntervalMs ${full.scrapeIntervalMs}`);
    }
    // The free port can be taken between probing and binding; then try another.
    for (let attempt = 1; ; attempt++) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'sidelight-prometheus-'));
      const config = path.join(dir, 'prometheus.yml');
      writeFileSync(config, configYaml(full));
      const port = await freePort();
      const child = spawn(
        bin,
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${path.join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const server = new PrometheusServer(child, dir, full.targets, `http://127.0.0.1:${port}`);
      try {
        await server.waitReady(READY_TIMEOUT_MS);
        return server;
      } catch (err) {
        await server.stop();
        if (attempt < 3 && /address already in use/.test(server.stderr)) continue;
        throw err;
      }
    }
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const ready = await poll(async () => {
      if (this.spawnError) throw new Error(`prometheus could not start: ${this.spawnError.message}`);
      if (this.exitStatus !== undefined) throw new Error(`prometheus exited (${this.exitStatus}) before ready; stderr:\n${this.stderrText}`);
      return (await get(`${this.url}/-/ready`).catch(() => ({ status: 0 }))).status === 200;
    }, timeoutMs, 100);
    if (!ready) throw new Error(`prometheus not ready at ${this.url} within ${timeoutMs} ms; stderr:\n${this.stderrText}`);
  }

  /** GET an API path; the `data` of a success answer, else an error with the API's own text. */
  private async api<T>(apiPath: string, what: string): Promise<T> {
    const res = await get(`${this.url}${apiPath}`);
    let parsed: ApiResponse<T>;
    try {
      parsed = JSON.parse(res.body) as ApiResponse<T>;
    } catch {
      throw new Error(`prometheus ${what}: HTTP ${res.status}, not JSON: ${res.body.slice(0, 500)}`);
    }
    if (parsed.status !== 'success') {
      throw new Error(`prometheus ${what}: ${parsed.errorType ?? `HTTP ${res.status}`}: ${parsed.error ?? res.body}`);
    }
    return parsed.data as T;
  }

  private raw(promql: string): Promise<QueryData> {
    return this.api<QueryData>(`/api/v1/query?query=${encodeURIComponent(promql)}`, `query ${JSON.stringify(promql)}`);
  }

  /** Instant query at the current time. A scalar comes back as one sample with no labels. */
  async query(promql: string): Promise<Sample[]> {
    const data = await this.raw(promql);
    switch (data.resultType) {
      case 'vector':
        return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
      case 'scalar':
        return [{ metric: {}, value: Number(data.result[1]) }];
      default:
        throw new Error(`prometheus query ${JSON.stringify(promql)}: result type ${data.resultType}, expected vector or scalar`);
    }
  }

  /**
   * Waits until every target has been scraped successfully at least n times
   * by scrapes that started after this call. Counts the committed `up == 1`
   * samples stamped later than the call, so the data of those scrapes is
   * already queryable when this resolves.
   */
  async waitForScrapes(n: number, timeoutMs: number): Promise<void> {
    const sinceMs = Date.now();
    const until = sinceMs + timeoutMs;
    let counts = new Map<string, number>();
    for (;;) {
      const windowS = Math.ceil((Date.now() - sinceMs) / 1000) + 1;
      const data = await this.raw(`up{job=${JSON.stringify(JOB)}}[${windowS}s]`);
      counts = new Map(this.targets.map((t) => [t, 0]));
      if (data.resultType === 'matrix') {
        for (const series of data.result) {
          const instance = series.metric.instance ?? '';
          const ok = series.values.filter(([ts, v]) => Math.round(ts * 1000) > sinceMs && v === '1').length;
          counts.set(instance, (counts.get(instance) ?? 0) + ok);
        }
      }
      if (this.targets.every((t) => (counts.get(t) ?? 0) >= n)) return;
      if (this.exitStatus !== undefined) {
        throw new Error(`prometheus exited (${this.exitStatus}); stderr:\n${this.stderrText}`);
      }
      if (Date.now() >= until) break;
      await sleep(100);
    }
    const seen = this.targets.map((t) => `${t}: ${counts.get(t) ?? 0}`).join(', ');
    const health = await this.targetsHealth().catch((e: Error) => e.message);
    throw new Error(
      `prometheus: fewer than ${n} successful scrapes per target within ${timeoutMs} ms (${seen}); targets: ${JSON.stringify(health)}`,
    );
  }

  /** The active targets as /api/v1/targets reports them. */
  async targetsHealth(): Promise<TargetHealth[]> {
    const data = await this.api<{ activeTargets: TargetHealth[] }>('/api/v1/targets?state=active', 'targets');
    return data.activeTargets.map((t) => ({ scrapeUrl: t.scrapeUrl, health: t.health, lastError: t.lastError }));
  }

  /** SIGTERM (SIGKILL after 10 s), wait for the exit, remove the temp dir. Idempotent. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      if (this.exitStatus === undefined && this.child.exitCode === null && this.child.pid !== undefined) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await this.exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', this.killOnExit);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
