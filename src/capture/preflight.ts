// Checks the host can run the kernel programs before loading them, so a
// user's mistake gets one line naming the problem and the fix.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';

export class PreflightError extends Error {}

/**
 * Syscall arguments are read at exit: through bpf_task_pt_regs (5.15), or on
 * x86-64 off the top of the task's kernel stack, which the oldest kernel
 * tested (Debian 11's 5.10, under qemu by npm run test:kernels) allows.
 */
export function minKernel(arch: string): [number, number] {
  return arch === 'x64' ? [5, 10] : [5, 15];
}
const CAP_PERFMON = 38;
const CAP_BPF = 39;
const CAP_SYS_ADMIN = 21;
const CAP_SYS_RESOURCE = 24;

export interface Host {
  platform: string;
  arch: string;
  release: string;
  capEff: bigint;
  /** Hard RLIMIT_MEMLOCK in bytes, undefined when unlimited. */
  memlockHard: number | undefined;
  btf: boolean;
  tracefsEvents: boolean;
  mountTracefs(): boolean;
}

export function parseKernelRelease(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** The hard "Max locked memory" of /proc/self/limits; undefined when unlimited. */
export function memlockHard(limits: string): number | undefined {
  const m = /^Max locked memory\s+\S+\s+(\S+)/m.exec(limits);
  return !m || m[1] === 'unlimited' ? undefined : Number(m[1]);
}

/** Whether a kernel version comes before major.minor. */
export function kernelBefore(v: [number, number], [major, minor]: [number, number]): boolean {
  return v[0] < major || (v[0] === major && v[1] < minor);
}

export function effectiveCaps(status: string): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

const TRACEFS = '/sys/kernel/tracing';

export function realHost(): Host {
  let status = '';
  let limits = '';
  try {
    status = readFileSync('/proc/self/status', 'latin1');
    limits = readFileSync('/proc/self/limits', 'latin1');
  } catch {
    // not Linux: the platform check reports it
  }
  return {
    platform: process.platform,
    arch: process.arch,
    release: os.release(),
    capEff: effectiveCaps(status),
    memlockHard: memlockHard(limits),
    btf: existsSync('/sys/kernel/btf/vmlinux'),
    tracefsEvents: existsSync(`${TRACEFS}/events/syscalls`) || existsSync('/sys/kernel/debug/tracing/events/syscalls'),
    mountTracefs(): boolean {
      try {
        execFileSync('mount', ['-t', 'tracefs', 'tracefs', TRACEFS], { stdio: 'ignore' });
      } catch {
        return false;
      }
      return existsSync(`${TRACEFS}/events/syscalls`);
    },
  };
}

const has = (caps: bigint, cap: number): boolean => (caps & (1n << BigInt(cap))) !== 0n;

/** Throws a PreflightError for the first problem found; returns notes for the log. */
export function preflight(host: Host = realHost()): string[] {
  const notes: string[] = [];
  if (host.platform !== 'linux') throw new PreflightError(`sidelight needs Linux (this is ${host.platform})`);
  const v = parseKernelRelease(host.release);
  const min = minKernel(host.arch);
  if (!v || kernelBefore(v, min)) {
    throw new PreflightError(`kernel ${host.release} is older than ${min.join('.')}, which sidelight needs on ${host.arch}; run it on a newer kernel`);
  }
  const bpfOk = has(host.capEff, CAP_SYS_ADMIN) || (has(host.capEff, CAP_BPF) && has(host.capEff, CAP_PERFMON));
  if (!bpfOk) {
    throw new PreflightError('missing privileges to load eBPF programs: run as root, or grant CAP_BPF and CAP_PERFMON');
  }
  // Before 5.11 eBPF maps count against RLIMIT_MEMLOCK; libbpf lifts it to
  // unlimited, which needs CAP_SYS_RESOURCE unless the hard limit already is.
  if (kernelBefore(v, [5, 11]) && host.memlockHard !== undefined && !has(host.capEff, CAP_SYS_RESOURCE)) {
    throw new PreflightError(
      `kernel ${host.release} charges eBPF maps to the locked-memory limit (before 5.11), capped here at ${Math.floor(host.memlockHard / 1024)} KiB: grant CAP_SYS_RESOURCE, or raise it (ulimit -l unlimited, LimitMEMLOCK=infinity)`,
    );
  }
  if (!host.btf) {
    throw new PreflightError('no kernel BTF at /sys/kernel/btf/vmlinux: use a kernel built with CONFIG_DEBUG_INFO_BTF=y');
  }
  if (!host.tracefsEvents) {
    if (!host.mountTracefs()) {
      throw new PreflightError(`tracefs is not mounted and could not be mounted: run mount -t tracefs tracefs ${TRACEFS} (or mount /sys/kernel/tracing into the container)`);
    }
    notes.push(`mounted tracefs at ${TRACEFS}`);
  }
  return notes;
}
