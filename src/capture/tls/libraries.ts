// Finds the TLS libraries processes use and puts the uprobes on each file
// once (the kernel keys uprobes by inode: every process mapping the file,
// now or later, is covered). At start: the host's libssl files, then every
// running process's mappings; then, every SCAN_INTERVAL_MS, processes not
// seen before, and each of them once more RESCAN_AFTER_MS later (a library
// loaded after start-up, e.g. python's `import ssl`).
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../log';
import { exportedSymbols } from './elf';
import { executableMappings, type MappedFile } from './proc-maps';

export const SCAN_INTERVAL_MS = 500;
export const RESCAN_AFTER_MS = 2_000;

/** Where the host's shared libraries live (seen through /proc/1/root, so a DaemonSet pod sees the host's). */
const HOST_LIB_DIRS = [
  '/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu',
  '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib',
];
const LIBSSL = /^libssl\.so(\.|$)/;

export interface TlsAttachResult {
  attached: number;
  /** Optional symbols the file lacks (e.g. SSL_read_ex before OpenSSL 1.1.1). */
  missing: string[];
}

/** The kernel side: puts the uprobes on one file (throws one line when it cannot). */
export interface TlsProbeTarget {
  attachTls(file: string, memoryBio: boolean): TlsAttachResult;
}

export interface TlsLibrary {
  /** "major:minor inode" of the file. */
  key: string;
  path: string;
  /** A process it was found in (0: found on the host's library path). */
  pid: number;
  /** The file's callers use memory BIOs (node): sessions bind to the thread's next TLS write. */
  memoryBio: boolean;
  attached: boolean;
  missing: string[];
  error: string | undefined;
}

export interface TlsLibraryStats {
  attached: number;
  failed: number;
  processesScanned: number;
}

export class TlsLibraries {
  /** Every TLS library file judged, by key. */
  readonly libraries = new Map<string, TlsLibrary>();
  /** Executables judged not to carry TLS. */
  private readonly plain = new Set<string>();
  /** pid -> when first seen, and whether rescanned. */
  private readonly pids = new Map<number, { seen: number; rescanned: boolean }>();
  private timer: NodeJS.Timeout | undefined;
  private scanned = 0;

  constructor(
    private readonly target: TlsProbeTarget,
    private readonly log: Logger,
    private readonly proc = '/proc',
    private readonly selfPid = process.pid,
  ) {}

  start(): void {
    this.scanHostLibraries();
    this.tick(Date.now());
    this.timer = setInterval(() => this.tick(Date.now()), SCAN_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  stats(): TlsLibraryStats {
    let attached = 0;
    for (const l of this.libraries.values()) if (l.attached) attached++;
    return { attached, failed: this.libraries.size - attached, processesScanned: this.scanned };
  }

  /** New processes, and the rescan of those seen RESCAN_AFTER_MS ago. */
  tick(now: number): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.proc);
    } catch {
      return;
    }
    const alive = new Set<number>();
    for (const name of names) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 0 || pid === this.selfPid) continue;
      alive.add(pid);
      const seen = this.pids.get(pid);
      if (!seen) {
        this.pids.set(pid, { seen: now, rescanned: false });
        this.scanProcess(pid);
      } else if (!seen.rescanned && now - seen.seen >= RESCAN_AFTER_MS) {
        seen.rescanned = true;
        this.scanProcess(pid);
      }
    }
    for (const pid of this.pids.keys()) if (!alive.has(pid)) this.pids.delete(pid);
  }

  scanProcess(pid: number): void {
    const root = `${this.proc}/${pid}`;
    let maps: string;
    let exe = '';
    try {
      maps = fs.readFileSync(`${root}/maps`, 'utf8');
    } catch {
      return; // gone, or a kernel thread
    }
    try {
      exe = fs.readlinkSync(`${root}/exe`).replace(/ \(deleted\)$/, '');
    } catch {
      // no exe link: only libraries are judged
    }
    this.scanned++;
    for (const file of executableMappings(maps)) {
      if (this.libraries.has(file.key) || this.plain.has(file.key)) continue;
      this.judge(pid, file, file.path === exe);
    }
  }

  private judge(pid: number, file: MappedFile, isExe: boolean): void {
    const seenAt = `${this.proc}/${pid}/root${file.path}`;
    let memoryBio = false;
    if (!LIBSSL.test(path.basename(file.path))) {
      // Only a process's own executable is read for exported OpenSSL (node links it statically).
      if (!isExe || file.deleted) {
        this.plain.add(file.key);
        return;
      }
      let syms: Set<string>;
      try {
        syms = exportedSymbols(seenAt, ['SSL_read', 'SSL_write', 'napi_module_register']);
      } catch {
        this.plain.add(file.key);
        return;
      }
      if (!syms.has('SSL_read') || !syms.has('SSL_write')) {
        this.plain.add(file.key);
        return;
      }
      // Node feeds OpenSSL through memory BIOs: its SSL calls never touch the socket.
      memoryBio = syms.has('napi_module_register');
    }
    this.attach({ key: file.key, path: file.path, pid, memoryBio, attached: false, missing: [], error: undefined }, file.deleted ? undefined : seenAt);
  }

  private attach(lib: TlsLibrary, file: string | undefined): void {
    this.libraries.set(lib.key, lib);
    const where = lib.pid ? `${lib.path} (pid ${lib.pid})` : lib.path;
    if (file === undefined) {
      lib.error = 'the file was replaced or removed on disk after the process mapped it; restart the process to capture its TLS';
      this.log.warn({ library: lib.path, pid: lib.pid }, `TLS: cannot attach to ${where}: ${lib.error}`);
      return;
    }
    try {
      const r = this.target.attachTls(file, lib.memoryBio);
      lib.attached = true;
      lib.missing = r.missing;
      this.log.info({ library: lib.path, pid: lib.pid, probes: r.attached, missing: r.missing, memoryBio: lib.memoryBio }, `TLS: uprobes on ${where}`);
    } catch (err) {
      lib.error = err instanceof Error ? err.message : String(err);
      this.log.warn({ library: lib.path, pid: lib.pid }, `TLS: cannot attach to ${where}: ${lib.error}`);
    }
  }

  /** The host's libssl files, covered before any process that loads them starts: through
   * init's root (the host's, from a DaemonSet pod with hostPID), and through the agent's own
   * (where init's is out of reach; the same files on a VM). */
  private scanHostLibraries(): void {
    for (const dir of HOST_LIB_DIRS.flatMap((d) => [`${this.proc}/1/root${d}`, d])) {
      const seen = dir;
      let names: string[];
      try {
        names = fs.readdirSync(seen);
      } catch {
        continue;
      }
      for (const name of names) {
        if (!LIBSSL.test(name) || name === 'libssl.so') continue; // the dev symlink names the same file
        let st: fs.Stats;
        try {
          st = fs.statSync(`${seen}/${name}`);
        } catch {
          continue;
        }
        if (!st.isFile()) continue;
        const key = `${devString(st.dev)} ${st.ino}`;
        if (this.libraries.has(key)) continue;
        this.attach({ key, path: `${dir.replace(/^.*\/root\//, '/')}/${name}`, pid: 0, memoryBio: false, attached: false, missing: [], error: undefined }, `${seen}/${name}`);
      }
    }
  }
}

/** A device number as /proc/<pid>/maps prints it ("%02x:%02x", major:minor). */
export function devString(dev: number): string {
  const major = Number((BigInt(dev) >> 8n) & 0xfffn) | Number((BigInt(dev) >> 32n) & ~0xfffn & 0xffffffffn);
  const minor = Number(BigInt(dev) & 0xffn) | Number((BigInt(dev) >> 12n) & ~0xffn & 0xffffffffn);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}
