// The kernel constants user space needs (event types and flags, directions,
// roles, classes, limits, map sizes), read from the addon, which compiles
// them from bpf/events.h: none is copied by hand. Read once at start-up; a
// build that lacks one fails here, naming it and the fix.
import { loadAddon } from './addon';

const CONSTANTS: Readonly<Record<string, number>> = loadAddon().layout().constants;

/** One constant of bpf/events.h by its C name; throws one line when the addon does not export it. */
export function kernelConstant(name: string, from: Readonly<Record<string, number>> = CONSTANTS): number {
  const v = from[name];
  if (typeof v !== 'number') throw new Error(`the native addon does not export ${name}: it is older than this agent; rebuild with: npm run build`);
  return v;
}

/** The class the kernel gives a protocol's connections (SL_CLASS_<NAME> of bpf/events.h). */
export function kernelClass(protocol: string): number {
  return kernelConstant(`SL_CLASS_${protocol.toUpperCase()}`);
}

export interface KernelContract {
  /** Not judged yet (enum sl_class): its bytes wait for the kernel's verdict. */
  classUnknown: number;
  /** Largest payload of one event (SL_MAX_CHUNK): the most capture-bytes may be. */
  maxChunk: number;
  /** Events one syscall may produce (SL_MAX_CHUNKS_PER_SYSCALL). */
  maxChunksPerSyscall: number;
  /** Entries of the kernel's pid filter (SL_MAX_PIDS). */
  maxPids: number;
  /** 64-bit words of one half of the kernel's port filter (SL_PORT_WORDS). */
  portWords: number;
}

/** The contract from an addon's (or a recording's) constants; throws one line naming what is missing. */
export function kernelContract(constants: Readonly<Record<string, number>>): KernelContract {
  const c = (name: string) => kernelConstant(name, constants);
  return {
    classUnknown: c('SL_CLASS_UNKNOWN'),
    maxChunk: c('SL_MAX_CHUNK'),
    maxChunksPerSyscall: c('SL_MAX_CHUNKS_PER_SYSCALL'),
    maxPids: c('SL_MAX_PIDS'),
    portWords: c('SL_PORT_WORDS'),
  };
}

export const KERNEL: Readonly<KernelContract> = Object.freeze(kernelContract(CONSTANTS));
