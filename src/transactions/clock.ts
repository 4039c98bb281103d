// Maps kernel monotonic timestamps (bpf_ktime_get_ns) to Unix time. The
// offset is measured once and re-measured periodically, so a wall-clock
// step (NTP) moves later spans but never reorders a span's own ends.
export class WallClock {
  private offset: bigint;
  private measuredAt = Date.now();

  constructor(private readonly measure: () => bigint, private readonly resyncMs = 60_000) {
    this.offset = measure();
  }

  toUnixNano(monotonicNs: bigint): bigint {
    const now = Date.now();
    if (now - this.measuredAt >= this.resyncMs) {
      this.offset = this.measure();
      this.measuredAt = now;
    }
    return monotonicNs + this.offset;
  }
}
