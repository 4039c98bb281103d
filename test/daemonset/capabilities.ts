// The capability set of daemonset/daemonset.yaml, shared by the manifest test
// (which checks the YAML says exactly this) and the end-to-end test (which
// runs the real agent with exactly this and nothing more).

/** What the container adds after dropping ALL, in the manifest's order. */
export const DAEMONSET_CAPABILITIES = ['BPF', 'PERFMON', 'SYS_PTRACE', 'SYS_ADMIN'] as const;

/** Bit numbers from linux/capability.h, for the ones these tests name. */
const CAP_BITS: Record<string, number> = {
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  SYS_RESOURCE: 24,
  PERFMON: 38,
  BPF: 39,
};

/** The /proc/<pid>/status bit mask of a capability list. */
export function capabilityMask(caps: readonly string[]): bigint {
  let mask = 0n;
  for (const c of caps) {
    const bit = CAP_BITS[c];
    if (bit === undefined) throw new Error(`unknown capability ${c}`);
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

/**
 * setpriv arguments that leave a process running as uid 0 with exactly these
 * capabilities, as a container runtime does for the pod: the bounding set is
 * the list (so after exec, root's permitted and effective sets are the list),
 * the inheritable and ambient sets are empty (Kubernetes sets neither), and
 * no_new_privs is on (allowPrivilegeEscalation: false).
 */
export function setprivArgs(caps: readonly string[]): string[] {
  const bounding = ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',');
  return ['--bounding-set', bounding, '--inh-caps', '-all', '--ambient-caps', '-all', '--no-new-privs'];
}

/** A capability set field (CapEff, CapBnd, ...) of a /proc/<pid>/status text. */
export function statusCaps(status: string, field: string): bigint {
  const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc status`);
  return BigInt(`0x${m[1]}`);
}
