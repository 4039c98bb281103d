// Added cost per TLS call of the uprobes (the TLS issue's figure): ns per
// SSL_write + SSL_read pair in the system libssl, without and with the
// capture attached and the uprobes on libssl. Same method as the syscall
// tax: one process times a tight loop, bare and then traced.
// Usage: node dist/bench/tls-call-cost.js [iterations] [runs]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Capture } from '../src/capture/capture';
import { preflight } from '../src/capture/preflight';

const SIZES = ['64', '1024', '4096'];
const LIBSSL = ['/usr/lib/x86_64-linux-gnu/libssl.so.3', '/usr/lib/aarch64-linux-gnu/libssl.so.3', '/usr/lib64/libssl.so.3'];
const script = path.join(__dirname, '..', '..', 'bench', 'tls-cost', 'tls_loop.py');

type Timings = Record<string, number>;

function measure(dir: string, iterations: string): Timings {
  return JSON.parse(execFileSync('/usr/bin/python3', [script, `${dir}/cert.pem`, `${dir}/key.pem`, iterations, ...SIZES], { encoding: 'utf8' })) as Timings;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  preflight(); // the host as the agent prepares it: tracefs mounted when missing
  const iterations = process.argv[2] ?? '200000';
  const runs = Number(process.argv[3] ?? '5');
  const libssl = LIBSSL.find((f) => fs.existsSync(f));
  if (!libssl) throw new Error('no system libssl.so.3 found; install libssl3');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidelight-tls-bench-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=bench'], { stdio: 'ignore' });
  const bare: Timings[] = [];
  const traced: Timings[] = [];
  let calls = 0;
  // Alternate bare and traced runs so drift on this VM hits both alike.
  for (let r = 0; r < runs; r++) {
    bare.push(measure(dir, iterations));
    const capture = new Capture();
    capture.start({ captureBytes: 4096, syscallCapBytes: 16384, ringBytes: 8 << 20, maxConnections: 65536, pids: [], ports: [], excludePorts: [] }, { onData: () => {}, onClose: () => {}, onTlsBind: () => {} });
    capture.attachTls(libssl, false);
    traced.push(measure(dir, iterations));
    calls += capture.stats().kernel.tlsCalls;
    await capture.stop();
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const perSize = Object.fromEntries(
    SIZES.map((s) => {
      const b = median(bare.map((t) => t[s]!));
      const t = median(traced.map((x) => x[s]!));
      // Two TLS calls (one write, one read) per pair.
      return [s, { bareNsPerPair: Number(b.toFixed(0)), tracedNsPerPair: Number(t.toFixed(0)), addedNsPerCall: Number(((t - b) / 2).toFixed(0)) }];
    }),
  );
  console.log(JSON.stringify({ libssl, iterations: Number(iterations), runs, tlsCallsCaptured: calls, perMessageBytes: perSize }));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
