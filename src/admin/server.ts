// Admin endpoints: liveness, readiness (every required program attached),
// Prometheus metrics and the agent's own counters as JSON.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectGarbage } from './collect-garbage';

export interface AdminHooks {
  /** true, or why not (one line). */
  ready(): true | string;
  /** The checks behind readiness, one per line, for /readyz?verbose. */
  readyDetail?(): string;
  stats(): unknown;
  metrics?(): Promise<{ contentType: string; body: string }>;
}

export async function startAdminServer(host: string, port: number, hooks: AdminHooks): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const [path, query = ''] = (req.url ?? '/').split('?');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const r = hooks.ready();
      const detail = hooks.readyDetail && query.split('&').includes('verbose') ? hooks.readyDetail() : '';
      res.writeHead(r === true ? 200 : 503, { 'content-type': 'text/plain' }).end(`${detail}${r === true ? 'ready\n' : `not ready: ${r}\n`}`);
    } else if (path === '/metrics' && hooks.metrics) {
      hooks.metrics().then(
        (m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.body),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
      );
    } else if (path === '/stats') {
      // ?gc: a full collection first, so memory.heapUsed is live data (for leak hunts).
      const gc = query.split('&').includes('gc') ? collectGarbage() : true;
      if (gc !== true) res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '1' }).end(`${gc}\n`);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(hooks.stats())}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /healthz, /readyz, /metrics or /stats\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${host}:${port} for the admin server (${err.code ?? err.message}); pick another --admin-port or 0 to disable`)),
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}

export function boundPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
