// What the agent could load on this kernel, said once at start (log, /stats)
// and on /readyz?verbose: the kernel, where its BTF came from, and which
// programs attached or were left out (and why).
import os from 'node:os';
import type { ProgramBuild, ProgramStatus } from './addon';

/** The one BTF source: libbpf's CO-RE relocations read the running kernel's own. */
export const BTF_SOURCE = '/sys/kernel/btf/vmlinux';

export interface StartupReport {
  kernel: string;
  btf: string;
  /** The build of the programs loaded: fast from 6.2, compat before 5.12 (bpf/Makefile). */
  build: ProgramBuild;
  attached: string[];
  /** Optional programs the kernel did not take, with its reason. */
  skipped: { name: string; hook: string; reason: string }[];
  /** Required programs that did not attach (the agent is then not ready). */
  failed: { name: string; hook: string; reason: string }[];
}

/** Uprobes are attached per TLS library later, not at start: they are reported by the TLS scan. */
const isUprobe = (p: ProgramStatus) => /^u(ret)?probe/.test(p.hook);

export function startupReport(programs: ProgramStatus[], build: ProgramBuild, kernel = os.release()): StartupReport {
  const atStart = programs.filter((p) => !isUprobe(p));
  const entry = (p: ProgramStatus) => ({ name: p.name, hook: p.hook, reason: p.error });
  return {
    kernel,
    btf: BTF_SOURCE,
    build,
    attached: atStart.filter((p) => p.attached).map((p) => p.name),
    skipped: atStart.filter((p) => !p.attached && !p.required).map(entry),
    failed: atStart.filter((p) => !p.attached && p.required).map(entry),
  };
}

/** /readyz?verbose: one line per check, "[+]" passed, "[-]" left out or failed. */
export function verboseReadiness(r: StartupReport): string {
  const build = r.build === 'compat' ? 'compat build (no atomic fetch before 5.12)' : r.build === 'fast' ? 'fast build (bpf_rdonly_cast loads, 6.2 and later)' : 'standard build';
  const lines = [`[+]kernel ${r.kernel}, BTF ${r.btf}, programs: ${build}`];
  for (const name of r.attached) lines.push(`[+]program ${name} attached`);
  for (const s of r.skipped) lines.push(`[-]program ${s.name} (${s.hook}) left out, optional: ${s.reason}`);
  for (const f of r.failed) lines.push(`[-]program ${f.name} (${f.hook}) failed, required: ${f.reason}`);
  return `${lines.join('\n')}\n`;
}
