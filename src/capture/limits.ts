// Kernel constants user space needs (classes, limits, map sizes), read from
// the addon, which compiles them from bpf/events.h: none is copied by hand.
// Read once at start-up; a build that lacks one fails here with the fix.
import { loadAddon } from './addon';

export interface KernelContract {
  /** Protocol classes the kernel gives a connection (enum sl_class). */
  classUnknown: number;
  classHttp1: number;
  classHttp2: number;
  classOther: number;
  classTls: number;
  /** Largest payload of one event (SL_MAX_CHUNK): the most capture-bytes may be. */
  maxChunk: number;
  /** Events one syscall may produce (SL_MAX_CHUNKS_PER_SYSCALL). */
  maxChunksPerSyscall: number;
  /** Entries of the kernel's pid filter (SL_MAX_PIDS). */
  maxPids: number;
  /** 64-bit words of one half of the kernel's port filter (SL_PORT_WORDS). */
  portWords: number;
}

const NAMES: Record<keyof KernelContract, string> = {
  classUnknown: 'SL_CLASS_UNKNOWN', classHttp1: 'SL_CLASS_HTTP1', classHttp2: 'SL_CLASS_HTTP2', classOther: 'SL_CLASS_OTHER', classTls: 'SL_CLASS_TLS',
  maxChunk: 'SL_MAX_CHUNK', maxChunksPerSyscall: 'SL_MAX_CHUNKS_PER_SYSCALL', maxPids: 'SL_MAX_PIDS', portWords: 'SL_PORT_WORDS',
};

/** The contract from an addon's (or a recording's) constants; throws one line naming what is missing. */
export function kernelContract(constants: Record<string, number>): KernelContract {
  const missing = Object.values(NAMES).filter((n) => typeof constants[n] !== 'number');
  if (missing.length > 0) throw new Error(`the native addon does not export ${missing.join(', ')}: it is older than this agent; rebuild with: npm run build`);
  return Object.fromEntries(Object.entries(NAMES).map(([k, n]) => [k, constants[n]])) as unknown as KernelContract;
}

export const KERNEL_LIMITS: Readonly<KernelContract> = Object.freeze(kernelContract(loadAddon().layout().constants));
