// Once its programs are attached the agent gives up every capability it will
// not use again: what it keeps depends only on the work still to come.
import os from 'node:os';
import type { Logger } from '../log';
import { loadAddon, type CapabilityDrop } from './addon';
import { kernelBefore, parseKernelRelease } from './preflight';

/** capability(7) numbers, for the names in logs and /stats. */
const NAMES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE',
  'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE',
  'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
];
export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_ADMIN = 21;
export const CAP_BPF = 39;

/** Before 6.5 every bpf() command, map reads and writes on an fd already held included, needs CAP_BPF while unprivileged BPF is off (the default). */
const FD_BPF_WITHOUT_CAP: [number, number] = [6, 5];

export function capabilityNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if (mask & (1n << BigInt(i))) out.push(`CAP_${NAMES[i] ?? String(i)}`);
  return out;
}

/**
 * What the running agent still needs:
 * - CAP_SYS_PTRACE: /proc/<pid>/exe, /root and /maps of other users' processes (names, selection, TLS libraries);
 * - CAP_SYS_ADMIN with TLS on: uprobes on libraries found later (the kernel asks it of uprobe perf events);
 * - CAP_BPF on kernels before 6.5: reading the stats map and writing the filter maps.
 * Loading programs, mounting tracefs and everything else are done by then.
 */
export function capabilitiesToKeep(opts: { tls: boolean; release: string }): bigint {
  let keep = 1n << BigInt(CAP_SYS_PTRACE);
  if (opts.tls) keep |= 1n << BigInt(CAP_SYS_ADMIN);
  const v = parseKernelRelease(opts.release);
  if (!v || kernelBefore(v, FD_BPF_WITHOUT_CAP)) keep |= 1n << BigInt(CAP_BPF);
  return keep;
}

export interface PrivilegeReport {
  kept: string[];
  bounding: string[];
  boundingDropped: boolean;
  threads: number;
  /** Threads that still held more than the kept set when the agent stopped waiting. */
  failed: number;
  /** Threads that block every signal and so keep their set (Node before 22.14: its SIGUSR1 inspector thread, which only ever waits for that signal). */
  blocked: number;
}

export function dropPrivileges(opts: { tls: boolean; release?: string }, drop: (keep: bigint) => CapabilityDrop = (k) => loadAddon().dropCapabilities(k)): PrivilegeReport {
  const r = drop(capabilitiesToKeep({ tls: opts.tls, release: opts.release ?? os.release() }));
  return { kept: capabilityNames(r.effective), bounding: capabilityNames(r.bounding), boundingDropped: r.boundingDropped, threads: r.threads, failed: r.failed, blocked: r.blocked };
}

/** Drops, then says in the log what was kept and which threads could not follow. */
export function dropPrivilegesLogged(opts: { tls: boolean }, log: Logger): PrivilegeReport {
  const p = dropPrivileges(opts);
  if (p.failed > 0) log.warn({ ...p }, `capabilities: ${p.failed} of ${p.threads} threads still hold more than the kept set`);
  else log.info({ ...p }, 'capabilities dropped');
  if (p.blocked > 0) {
    log.warn({ ...p }, `capabilities: ${p.blocked} thread that blocks every signal (Node's SIGUSR1 inspector thread) keeps its set; Node 22.14 or later runs without it`);
  }
  return p;
}
