// Typed surface of the native addon (native/addon.c).
import path from 'node:path';

export interface AddonStartOptions {
  chunkBytes: number;
  syscallCap: number;
  ringBytes: number;
  maxConnections: number;
  batchBytes: number;
  batches: number;
  /** The poll thread drains the ring this often while records keep coming... */
  tickMs: number;
  /** ...backing off to this when it stays empty (bounds how late a lone request is reported). */
  idleTickMs: number;
  /** Ring occupancy at which a record wakes the poll thread at once (default: a quarter of the ring). */
  wakeBytes?: number;
  pids: number[];
  /** PORT_BITMAP_BYTES of ports to keep, then as many to leave out (src/capture/ports.ts); absent: no port filter. */
  portBits?: Buffer;
}

export interface ProgramStatus {
  name: string;
  hook: string;
  required: boolean;
  attached: boolean;
  error: string;
}

export interface KernelStats {
  ringbufDrops: number;
  ringbufDropBytes: number;
  connectionsOther: number;
  /** Connections left out by the port or process filters. */
  connectionsFiltered: number;
  iovTruncated: number;
  tcpSendmsgBytes: number;
  readFaults: number;
  ringbufCloseDrops: number;
  /** Connections whose bytes are TLS records (their ciphertext is never shipped). */
  connectionsTls: number;
  /** SSL_read/SSL_write calls that moved plaintext, and of those the ones whose session had no socket yet. */
  tlsCalls: number;
  tlsUnboundCalls: number;
  /** Syscalls skipped because their arguments could not be found (kernels before 5.15, where they are probed off the kernel stack). */
  syscallArgsUnread: number;
  /** HTTP/2 directions whose framing the kernel lost: heads past the per-syscall cap are no longer shipped there. */
  h2FramingLost: number;
  /** Syscalls with more head ranges past the cap than the kernel ships (SL_RANGES). */
  headsUnshipped: number;
  /** HTTP/1 walks past the cap that met framing they did not understand (or bytes they did not see): heads past the cap stop shipping there until a message starts a syscall again. */
  h1FramingLost: number;
}

export interface AddonStats {
  events: number;
  batches: number;
  bytes: number;
  waits: number;
  /** Times the poll thread looked at the ring (ticks and watermark wake-ups). */
  rounds: number;
  kernel: KernelStats;
}

export interface CapabilityDrop {
  /** The calling thread's effective and bounding sets afterwards. */
  effective: bigint;
  bounding: bigint;
  /** Threads of the process, and those still holding a capability outside the kept set. */
  threads: number;
  failed: number;
  /** Threads that block every signal, so keep their set (Node before 22.14: its SIGUSR1 inspector thread). */
  blocked: number;
  /** The bounding set could be cut as well (CAP_SETPCAP was held). */
  boundingDropped: boolean;
}

export type ProgramBuild = 'fast' | 'standard' | 'compat';

export interface AddonLayout {
  structs: Record<string, { size: number; fields: Record<string, [number, number]> }>;
  constants: Record<string, number>;
}

export interface Addon {
  /** onBatch gets one of the addon's batch Buffers, reused: its first `used` bytes hold `count` records, valid until onBatch returns. */
  start(opts: AddonStartOptions, onBatch: (batch: Buffer, count: number, used: number) => void, onClosed: () => void): void;
  stop(): boolean;
  stats(): AddonStats;
  /** Leaves a process out of new connections in the kernel (start time in clock ticks tells a reused pid). */
  skipProcess(tgid: number, startTicks: number): boolean;
  unskipProcess(tgid: number): boolean;
  /** Whether this HTTP/2 connection (or TLS session) needs its DATA payloads (it carries gRPC); if not, the kernel ships its frame heads only. */
  h2Bodies(connId: number, wanted: boolean): boolean;
  /** Puts the TLS uprobes on one library file; throws one line when it cannot. */
  attachTls(file: string, memoryBio: boolean): { attached: number; missing: string[] };
  programs(): ProgramStatus[];
  /** The build of the kernel programs this kernel takes: fast from 6.2 (plain loads through bpf_rdonly_cast), compat before 5.12 (no atomic fetch instructions). */
  programBuild(): ProgramBuild;
  /** Keeps only the capabilities whose bits are set, in every thread of the process (see native/privileges.c). */
  dropCapabilities(keep: bigint): CapabilityDrop;
  clockOffsetNs(): bigint;
  layout(): AddonLayout;
}

/** The repository root, from dist/src/capture or src/capture. */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (path.basename(dir) === 'dist') return path.dirname(dir);
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', '..', '..');
}

let cached: Addon | undefined;

export function loadAddon(): Addon {
  if (cached) return cached;
  const file = path.join(packageRoot(), 'native', 'build', 'Release', 'sidelight.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require(file) as Addon;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`the native addon is not built (${reason}); run: npm run build`);
  }
  return cached;
}
