// Port ranges (--port, --exclude-port) and the bitmaps the kernel's port
// filter reads: one bit per port, so any set of ranges costs one array lookup.
import { KERNEL } from './contract';

export type PortRange = readonly [low: number, high: number];

/** "8080" or "8000-8100" (inclusive); undefined when malformed or out of 1..65535. */
export function parsePortRange(text: string): PortRange | undefined {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(text);
  if (!m) return undefined;
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  if (low < 1 || high > 65535 || low > high) return undefined;
  return [low, high];
}

/** For logs and recording headers: a port as a number (as before ranges existed), a range as "low-high". */
export function formatPortRanges(ranges: readonly PortRange[]): Array<number | string> {
  return ranges.map(([lo, hi]) => (lo === hi ? lo : `${lo}-${hi}`));
}

export function portInRanges(port: number, ranges: readonly PortRange[]): boolean {
  for (const [lo, hi] of ranges) if (port >= lo && port <= hi) return true;
  return false;
}

/** 65536 bits as little-endian 64-bit words: the layout of one half of the kernel's sl_port_bits. */
export const PORT_BITMAP_BYTES = KERNEL.portWords * 8;

export function portBitmap(ranges: readonly PortRange[]): Buffer {
  const bits = Buffer.alloc(PORT_BITMAP_BYTES);
  for (const [lo, hi] of ranges) for (let p = lo; p <= hi; p++) bits[p >> 3] |= 1 << (p & 7);
  return bits;
}
