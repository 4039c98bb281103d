// Spans exported per second per core: the agent's whole export path for
// each transaction (route, metrics into prom-client, span conversion,
// queue, the official OTLP exporter's serialisation and transport) against
// a receiver in another process that decodes every request with the
// official protos. CPU is this process's user+sys time only.
// Usage: node dist/bench/span-export.js [grpc|http/protobuf] [transactions]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { DEFAULTS, type Config } from '../src/config/config';
import { Exporters } from '../src/export/exporters';
import { ProcessResources } from '../src/enrich/resource';
import { createLogger } from '../src/log';
import type { HttpTransaction } from '../src/transactions/transaction';
import { newSpanId, newTraceId } from '../src/transactions/tracecontext';

async function startReceiver(transport: string): Promise<{ endpoint: string; stop: () => void; count: () => Promise<number> }> {
  const script = `
    const { OtlpReceiver } = require(${JSON.stringify(path.join(__dirname, '..', 'test', 'support', 'otlp-receiver'))});
    OtlpReceiver.start({ transport: process.argv[1] }).then((r) => {
      process.stdout.write(r.endpoint + '\\n');
      process.stdin.on('data', () => process.stdout.write(r.spans.length + '\\n'));
    });`;
  const child = spawn(process.execPath, ['-e', script, transport === 'grpc' ? 'grpc' : 'http'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const next = () => new Promise<string>((resolve) => (lines.length ? resolve(lines.shift() as string) : waiters.push(resolve)));
  const endpoint = await next();
  return {
    endpoint,
    stop: () => child.kill(),
    count: async () => {
      child.stdin.write('?\n');
      return Number(await next());
    },
  };
}

function transaction(i: number): HttpTransaction {
  return {
    kind: 'http', role: i % 2 === 0 ? 'server' : 'client', protocol: 'HTTP/1.1', tls: false, pid: 1000 + (i % 8), process: `svc${i % 8}`,
    method: i % 5 === 0 ? 'POST' : 'GET', target: `/api/orders/${i}?expand=items`, host: 'shop.local:8080', userAgent: 'bench/1.0',
    status: i % 50 === 0 ? 503 : 200, startTimeUnixNano: BigInt(Date.now()) * 1_000_000n, durationNs: 1_234_567, requestBytes: 120,
    responseBytes: 2048, local: { address: '10.0.0.1', port: 8080 }, peer: { address: '10.0.0.2', port: 40000 + (i % 1000) },
    truncated: false, traceId: newTraceId(), spanId: newSpanId(), parentSpanId: '', traceState: '', sampled: true, route: undefined, rpc: undefined, unknownFields: [], resetCode: undefined,
  };
}

async function main(): Promise<void> {
  const protocol = (process.argv[2] ?? 'grpc') as Config['otlpProtocol'];
  const total = Number(process.argv[3] ?? 200_000);
  const receiver = await startReceiver(protocol);
  const config: Config = {
    ...DEFAULTS, output: 'json', otlpEndpoint: receiver.endpoint, otlpProtocol: protocol, spanQueueSize: 20_000, spanBatchSize: 512, spanDelayMs: 50,
  };
  const sink = { writable: false } as unknown as NodeJS.WritableStream; // console output off: export path only
  const exporters = new Exporters({ config, log: createLogger('warn'), out: sink });
  const resources = new ProcessResources({ nameOf: (_p, f) => f(), commandLine: () => undefined }, { serviceName: undefined, extra: {}, commandLine: false });
  const txs = Array.from({ length: 4096 }, (_, i) => transaction(i));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let offered = 0;
  // Offer in slices so the queue never overflows: what is measured is throughput, not drops.
  while (offered < total) {
    const q = exporters.spans!.stats;
    if (q.queued + q.inFlight > 15_000) {
      await new Promise((r) => setImmediate(r));
      continue;
    }
    for (let k = 0; k < 1000 && offered < total; k++, offered++) {
      const tx = txs[offered % txs.length];
      exporters.export({ ...tx, spanId: newSpanId() }, resources.of(tx.pid, tx.process));
    }
    await new Promise((r) => setImmediate(r));
  }
  while (exporters.spans!.stats.queued + exporters.spans!.stats.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const s = exporters.spans!.stats;
  const received = await receiver.count();
  await exporters.shutdown(1000);
  receiver.stop();
  console.log(
    JSON.stringify({
      protocol,
      spans: total,
      exported: s.exported,
      received,
      dropped: s.droppedQueueFull,
      exportErrors: s.exportErrors,
      seconds: Number(elapsed.toFixed(2)),
      spansPerSecond: Math.round(s.exported / elapsed),
      cpuSeconds: Number(cpuSec.toFixed(2)),
      spansPerCpuSecond: Math.round(s.exported / cpuSec),
    }),
  );
}

void main();
