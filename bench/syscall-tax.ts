// The node-wide syscall tax (DESIGN.md, cost model): ns per write() on a
// non-socket fd and per unrelated syscall, without and with the capture
// attached, and per captured exchange on a loopback TCP connection (a write
// and a read, two data events). Usage: node dist/bench/syscall-tax.js [iterations]
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
  const capture = new Capture();
  capture.start({ captureBytes: 4096, syscallCapBytes: 16384, ringBytes: 8 << 20, maxConnections: 65536, pids: [], ports: [], excludePorts: [] }, { onData: () => {}, onClose: () => {}, onTlsBind: () => {} });
  const traced = measure(iterations);
  await capture.stop();
  console.log(
    JSON.stringify({
      bare,
      withAgent: traced,
      addedNs: {
        writeDevNull: Number((traced.writeDevNullNs - bare.writeDevNullNs).toFixed(1)),
        getppid: Number((traced.getppidNs - bare.getppidNs).toFixed(1)),
        tcpExchange: Number((traced.tcpExchangeNs - bare.tcpExchangeNs).toFixed(1)),
      },
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
