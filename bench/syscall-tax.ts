// The node-wide syscall tax (docs/architecture.md, the cost model): ns per write() on a
// non-socket fd and per unrelated syscall, without and with the capture
// attached, and per captured exchange on a loopback TCP connection (a write
// and a read, two data events); and the floor: every hook attached with this
// process filtered out. Usage: node dist/bench/syscall-tax.js [iterations]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Capture } from '../src/capture/capture';
import { preflight } from '../src/capture/preflight';

const dir = path.join(__dirname, '..', '..', 'bench', 'syscall-tax');
const bin = path.join(dir, 'tax');

interface Tax {
  writeDevNullNs: number;
  getppidNs: number;
  tcpExchangeNs: number;
}

function measure(iterations: string): Tax {
  return JSON.parse(execFileSync(bin, [iterations], { encoding: 'utf8' })) as Tax;
}

async function main(): Promise<void> {
  preflight(); // the host as the agent prepares it: tracefs mounted when missing
  const iterations = process.argv[2] ?? '2000000';
  execFileSync('gcc', ['-O2', '-o', bin, path.join(dir, 'tax.c')]);
  const bare = measure(iterations);
  // Every hook attached but this process left out (pid 1 only): the kernel's
  // tracepoint dispatch plus the programs' first test, the floor of the tax.
  const floor = await attached(iterations, [1]);
  const traced = await attached(iterations, []);
  const added = (t: Tax) => ({
    writeDevNull: Number((t.writeDevNullNs - bare.writeDevNullNs).toFixed(1)),
    getppid: Number((t.getppidNs - bare.getppidNs).toFixed(1)),
    tcpExchange: Number((t.tcpExchangeNs - bare.tcpExchangeNs).toFixed(1)),
  });
  console.log(JSON.stringify({ bare, filteredOut: floor, withAgent: traced, addedNs: added(traced), floorAddedNs: added(floor) }));
}

async function attached(iterations: string, pids: number[]): Promise<Tax> {
  const capture = new Capture();
  capture.start({ captureBytes: 4096, syscallCapBytes: 16384, ringBytes: 8 << 20, maxConnections: 65536, pids, ports: [], excludePorts: [] }, { onData: () => {}, onClose: () => {}, onTlsBind: () => {} });
  try {
    return measure(iterations);
  } finally {
    await capture.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
