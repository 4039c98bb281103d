// One capture session: checks the ABI, starts the kernel programs, decodes
// every batch into the sink, and stops after the last batch is delivered.
import { loadAddon, type Addon, type AddonLayout, type AddonStats, type ProgramBuild, type ProgramStatus } from './addon';
import { BatchDecoder, type DecodeStats } from './decoder';
import type { EventSink } from './events';
import { checkLayout } from './layout';
import type { Config } from '../config/config';
import { portBitmap, type PortRange } from './ports';

export interface CaptureOptions {
  captureBytes: number;
  syscallCapBytes: number;
  ringBytes: number;
  maxConnections: number;
  pids: number[];
  ports: readonly PortRange[];
  excludePorts: readonly PortRange[];
  /** Wake-up policy (native/poller.c): the poll thread drains the ring every tickMs while events come, backing off to idleTickMs; an event wakes it early only when it fills the ring past wakeBytes (default: a quarter of the ring). */
  tickMs?: number;
  idleTickMs?: number;
  wakeBytes?: number;
}

/** Drained every 5 ms under load; a lone request leaves within 40 ms of its last byte, and an idle node costs 25 wake-ups a second. */
const TICK_MS = 5;
const IDLE_TICK_MS = 40;

/** The capture settings of a resolved config. */
export function captureOptions(config: Config): CaptureOptions {
  return {
    captureBytes: config.captureBytes,
    syscallCapBytes: config.syscallCapBytes,
    ringBytes: config.ringBytes,
    maxConnections: config.maxConnections,
    pids: config.pids,
    ports: config.ports,
    excludePorts: config.excludePorts,
  };
}

export interface CaptureStats extends AddonStats {
  decode: DecodeStats;
}

export class Capture {
  private decoder: BatchDecoder | undefined;
  private closed: Promise<void> | undefined;
  private running = false;

  constructor(private readonly addon: Addon = loadAddon()) {}

  /**
   * Throws one line saying what went wrong and how to fix it. `tap` sees
   * every raw batch before it is decoded (the recorder writes them).
   */
  start(opts: CaptureOptions, sink: EventSink, tap?: (batch: Buffer, count: number) => void): void {
    checkLayout(this.addon.layout());
    const decoder = new BatchDecoder(sink);
    let resolveClosed: () => void = () => {};
    this.closed = new Promise((resolve) => (resolveClosed = resolve));
    this.addon.start(
      {
        chunkBytes: opts.captureBytes,
        syscallCap: opts.syscallCapBytes,
        ringBytes: opts.ringBytes,
        maxConnections: opts.maxConnections,
        batchBytes: 1 << 20,
        batches: 8,
        tickMs: opts.tickMs ?? TICK_MS,
        idleTickMs: opts.idleTickMs ?? IDLE_TICK_MS,
        ...(opts.wakeBytes !== undefined ? { wakeBytes: opts.wakeBytes } : {}),
        pids: opts.pids,
        portBits: opts.ports.length + opts.excludePorts.length > 0 ? Buffer.concat([portBitmap(opts.ports), portBitmap(opts.excludePorts)]) : undefined,
      },
      tap
        ? (pooled, count, used) => {
            const batch = pooled.subarray(0, used);
            tap(batch, count);
            decoder.decode(batch, count);
          }
        : (pooled, count, used) => decoder.decode(pooled.subarray(0, used), count),
      () => {
        this.running = false;
        resolveClosed();
      },
    );
    this.decoder = decoder;
    this.running = true;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** The event layout the addon was built with (recordings carry it). */
  layout(): AddonLayout {
    return this.addon.layout();
  }

  programs(): ProgramStatus[] {
    return this.addon.programs();
  }

  programBuild(): ProgramBuild {
    return this.addon.programBuild();
  }

  stats(): CaptureStats {
    return { ...this.addon.stats(), decode: this.decoder ? { ...this.decoder.stats } : { events: 0, malformed: 0, unknownType: 0 } };
  }

  clockOffsetNs(): bigint {
    return this.addon.clockOffsetNs();
  }

  /** The kernel stops classifying this process's new connections; false when the map refused (full, or not running). */
  skipProcess(tgid: number, startTicks: number): boolean {
    return this.running && this.addon.skipProcess(tgid, startTicks);
  }

  /** Puts the TLS uprobes on one library file (throws one line when it cannot). */
  attachTls(file: string, memoryBio: boolean): { attached: number; missing: string[] } {
    if (!this.running) throw new Error('the capture is not running');
    return this.addon.attachTls(file, memoryBio);
  }

  unskipProcess(tgid: number): boolean {
    return this.running && this.addon.unskipProcess(tgid);
  }

  /** Whether this HTTP/2 connection (or TLS session) carries gRPC: its DATA payloads then ship within the cap; otherwise only its frame heads. */
  h2Bodies(connId: number, wanted: boolean): boolean {
    return this.running && this.addon.h2Bodies(connId, wanted);
  }

  /** Detaches the programs; resolves once every captured event was decoded. */
  async stop(): Promise<void> {
    if (!this.closed) return;
    this.addon.stop();
    await this.closed;
  }
}
