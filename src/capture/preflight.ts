// Checks the host can run the kernel programs before loading them, so a
// user's mistake gets one line naming the problem and the fix.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';

export class PreflightError extends Error {}

/** bpf_task_pt_regs (arguments read at syscall exit) arrived in 5.15. */
export const MIN_KERNEL: [number, number] = [5, 15];
const CAP_PERFMON = 38;
const CAP_BPF = 39;
const CAP_SYS_ADMIN = 21;

export interface Host {
  platform: string;
  release: string;
  capEff: bigint;
  btf: boolean;
  tracefsEvents: boolean;
  mountTracefs(): boolean;
}

export function parseKernelRelease(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function effectiveCaps(status: string): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

const TRACEFS = '/sys/kernel/tracing';

export function realHost(): Host {
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'latin1');
  } catch {
    // not Linux: the platform check reports it
  }
  return {
    platform: process.platform,
    release: os.release(),
    capEff: effectiveCaps(status),
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
  if (!v || v[0] < MIN_KERNEL[0] || (v[0] === MIN_KERNEL[0] && v[1] < MIN_KERNEL[1])) {
    throw new PreflightError(`kernel ${host.release} is older than ${MIN_KERNEL.join('.')}, which sidelight needs; run it on a newer kernel`);
  }
  const bpfOk = has(host.capEff, CAP_SYS_ADMIN) || (has(host.capEff, CAP_BPF) && has(host.capEff, CAP_PERFMON));
  if (!bpfOk) {
    throw new PreflightError('missing privileges to load eBPF programs: run as root, or grant CAP_BPF and CAP_PERFMON');
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
