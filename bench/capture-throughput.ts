// How many events per second the addon delivers into JavaScript: loopback
// TCP floods (bench/load/tcp-writer.py, one per writer) while the capture
// decodes every batch and counts, without parsing. Prints one JSON line.
// Usage: node dist/bench/capture-throughput.js [seconds] [payload bytes] [writers]
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Capture } from '../src/capture/capture';
import { preflight } from '../src/capture/preflight';
import type { EventSink } from '../src/capture/events';

const run = promisify(execFile);

async function main(): Promise<void> {
  preflight(); // the host as the agent prepares it: tracefs mounted when missing
  const seconds = Number(process.argv[2] ?? 10);
  const payload = Number(process.argv[3] ?? 64);
  const writers = Number(process.argv[4] ?? 1);
  const base = 39000 + Math.floor(Math.random() * 1000);
  const ports = Array.from({ length: writers }, (_, i) => base + i);
  let bytes = 0;
  const sink: EventSink = { onData: (e) => (bytes += e.payload.length), onClose: () => {}, onTlsBind: () => {} };
  const capture = new Capture();
  capture.start({ captureBytes: 4096, syscallCapBytes: 16384, ringBytes: 8 << 20, maxConnections: 65536, pids: [], ports: ports.map((p) => [p, p] as const), excludePorts: [] }, sink);
  await new Promise((r) => setTimeout(r, 300));
  const before = capture.stats();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const script = path.join(__dirname, '..', '..', 'bench', 'load', 'tcp-writer.py');
  const outs = await Promise.all(ports.map((port) => run('python3', [script, String(port), String(seconds), String(payload)])));
  await new Promise((r) => setTimeout(r, 200));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const after = capture.stats();
  await capture.stop();
  const events = after.events - before.events;
  console.log(
    JSON.stringify({
      seconds: Number(elapsed.toFixed(2)),
      writers,
      payloadBytes: payload,
      writes: outs.reduce((n, o) => n + Number(o.stdout.trim()), 0),
      eventsPerSec: Math.round(events / elapsed),
      batchesPerSec: Math.round((after.batches - before.batches) / elapsed),
      payloadMBPerSec: Number((bytes / elapsed / 1e6).toFixed(1)),
      kernelDrops: after.kernel.ringbufDrops - before.kernel.ringbufDrops,
      pollerWaits: after.waits - before.waits,
      agentCpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 100),
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
