// The event layout the decoder reads: its constants from the addon
// (contract.ts), its field offsets checked against what the addon was
// compiled with (bpf/events.h) before any event is decoded, and a
// recording's layout checked against both.
import type { AddonLayout } from './addon';
import { kernelConstant } from './contract';

/** Event types (enum sl_event_type). */
export const EV_DATA = kernelConstant('SL_EV_DATA');
export const EV_CLOSE = kernelConstant('SL_EV_CLOSE');
export const EV_TLS_BIND = kernelConstant('SL_EV_TLS_BIND');
/** sl_header.flags: plaintext read at the TLS library; conn_id names the TLS session. */
export const EV_F_TLS = kernelConstant('SL_EV_F_TLS');
/** sl_header.flags: the syscall's bytes before this payload were skipped on purpose (bodies whose heads were shipped). */
export const EV_F_SKIPPED = kernelConstant('SL_EV_F_SKIPPED');
/** sl_header.flags: the payload is pieces of the syscall's bytes, each an 8-byte header (u32 offset, u32 length) and its bytes padded to 8. */
export const EV_F_PIECES = kernelConstant('SL_EV_F_PIECES');
/** Bytes of a piece's header (struct sl_piece: two u32, read at fixed offsets like the fields below). */
export const PIECE_HEADER = 8;
export const DIR_EGRESS = kernelConstant('SL_DIR_EGRESS');
export const DIR_INGRESS = kernelConstant('SL_DIR_INGRESS');
export const ROLE_UNKNOWN = kernelConstant('SL_ROLE_UNKNOWN');
export const ROLE_CLIENT = kernelConstant('SL_ROLE_CLIENT');
export const ROLE_SERVER = kernelConstant('SL_ROLE_SERVER');

/** Offsets the decoder uses, per struct and field: [offset, size]. */
export const EXPECTED = {
  sl_header: { type: [0, 2], flags: [2, 2], size: [4, 4], ts_ns: [8, 8], tgid: [16, 4], tid: [20, 4] },
  sl_tuple: { saddr: [0, 16], daddr: [16, 16], sport: [32, 2], dport: [34, 2], family: [36, 2] },
  sl_data_event: {
    conn_id: [24, 8], stream_pos: [32, 8], syscall_bytes: [40, 8], tuple: [48, 40], fd: [88, 4],
    captured: [92, 4], chunk_offset: [96, 4], chunk_len: [100, 4], direction: [104, 1],
    syscall: [105, 1], role: [106, 1], klass: [107, 1], comm: [112, 16],
  },
  sl_close_event: {
    conn_id: [24, 8], bytes_sent: [32, 8], bytes_received: [40, 8], fd: [48, 4], syscall: [52, 1],
    role: [53, 1], comm: [56, 16],
  },
  sl_tls_bind_event: {
    tls_id: [24, 8], conn_id: [32, 8], tuple: [40, 40], role: [80, 1], how: [81, 1], filtered: [82, 1],
    comm: [88, 16],
  },
} as const;

export const DATA_EVENT_SIZE = 128;
export const CLOSE_EVENT_SIZE = 72;
export const TLS_BIND_EVENT_SIZE = 104;

/** Added after recordings were first made: a recording without them has none of their events. */
const ADDED_LATER = new Set(['sl_tls_bind_event', 'SL_EV_TLS_BIND', 'SL_EV_F_TLS', 'SL_EV_F_SKIPPED', 'SL_EV_F_PIECES', 'SL_CLASS_OTHER', 'SL_CLASS_TLS', 'SL_SYS_SSL_READ', 'SL_SYS_SSL_WRITE']);

/** Constants a recording must share with this build: what its events mean depends on them. */
const SHARED_CONSTANTS = [
  'SL_EV_DATA', 'SL_EV_CLOSE', 'SL_EV_TLS_BIND', 'SL_EV_F_TLS', 'SL_EV_F_SKIPPED', 'SL_EV_F_PIECES', 'SL_DIR_EGRESS', 'SL_DIR_INGRESS',
  'SL_ROLE_UNKNOWN', 'SL_ROLE_CLIENT', 'SL_ROLE_SERVER', 'SL_CLASS_OTHER', 'SL_CLASS_TLS', 'SL_SYS_SENDFILE', 'SL_SYS_SSL_READ', 'SL_SYS_SSL_WRITE',
];

/** Lists every difference between the addon's layout and the decoder's. */
export function layoutMismatches(actual: AddonLayout): string[] {
  const problems: string[] = [];
  const sizes: Record<string, number> = {
    sl_data_event: DATA_EVENT_SIZE, sl_close_event: CLOSE_EVENT_SIZE, sl_tls_bind_event: TLS_BIND_EVENT_SIZE,
  };
  for (const [name, fields] of Object.entries(EXPECTED)) {
    const s = actual.structs[name];
    if (!s && ADDED_LATER.has(name)) continue;
    if (!s) {
      problems.push(`struct ${name} missing`);
      continue;
    }
    const want = sizes[name];
    if (want !== undefined && s.size !== want) problems.push(`sizeof(${name}) is ${s.size}, decoder expects ${want}`);
    for (const [field, [off, size]] of Object.entries(fields) as [string, readonly [number, number]][]) {
      const got = s.fields[field];
      if (!got) problems.push(`${name}.${field} missing`);
      else if (got[0] !== off || got[1] !== size)
        problems.push(`${name}.${field} at ${got[0]}+${got[1]}, decoder expects ${off}+${size}`);
    }
  }
  for (const name of SHARED_CONSTANTS) {
    if (actual.constants[name] === undefined && ADDED_LATER.has(name)) continue;
    const value = kernelConstant(name);
    if (actual.constants[name] !== value) problems.push(`${name} is ${actual.constants[name]}, decoder expects ${value}`);
  }
  return problems;
}

export function checkLayout(actual: AddonLayout): void {
  const problems = layoutMismatches(actual);
  if (problems.length > 0) {
    throw new Error(`the addon and the decoder disagree on the event layout (${problems.join('; ')}); rebuild with: npm run build`);
  }
}
