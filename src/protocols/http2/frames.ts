// HTTP/2 framing (RFC 9113 §4, §6): an incremental reader for one direction
// of a connection. It is fed captured bytes and counts of bytes that were
// not captured; DATA payloads stream through without buffering, every other
// frame is handed over whole. When the frame boundaries are lost it waits
// for a syscall boundary where a chain of sane frame headers starts again.

export const FRAME_HEADER_BYTES = 9;
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const enum FrameType {
  DATA = 0x0,
  HEADERS = 0x1,
  PRIORITY = 0x2,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PUSH_PROMISE = 0x5,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
  CONTINUATION = 0x9,
}

export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

/** Largest non-DATA frame payload kept in memory; bigger ones are stepped over and reported lost. */
export const MAX_BUFFERED_FRAME = 256 * 1024;

export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

/** Flags each frame type may carry; a header with others is not a frame we know. */
const ALLOWED_FLAGS = [0x09, 0x2d, 0x00, 0x00, 0x01, 0x0c, 0x01, 0x00, 0x00, 0x04];

/**
 * Whether 9 bytes can be the header of a frame that a conforming peer sends:
 * a known type, only that type's flags, the reserved bit clear, the stream
 * id rules and fixed lengths of §6. Used to find frame boundaries again.
 */
export function saneFrameHeader(b: Uint8Array, at: number): boolean {
  const length = (b[at] << 16) | (b[at + 1] << 8) | b[at + 2];
  const type = b[at + 3];
  const flags = b[at + 4];
  if (type > FrameType.CONTINUATION || (flags & ~ALLOWED_FLAGS[type]) !== 0 || (b[at + 5] & 0x80) !== 0) return false;
  const stream0 = b[at + 5] === 0 && b[at + 6] === 0 && b[at + 7] === 0 && b[at + 8] === 0;
  switch (type) {
    case FrameType.SETTINGS:
      return stream0 && length % 6 === 0 && (!(flags & FLAG_ACK) || length === 0);
    case FrameType.PING:
      return stream0 && length === 8;
    case FrameType.GOAWAY:
      return stream0 && length >= 8;
    case FrameType.WINDOW_UPDATE:
      return length === 4;
    case FrameType.PRIORITY:
      return !stream0 && length === 5;
    case FrameType.RST_STREAM:
      return !stream0 && length === 4;
    default:
      return !stream0;
  }
}

/**
 * A resync point: a sane header at `at` whose successors inside `b` are sane
 * too, and the first frame ends at or past the end of `b` or on another
 * sane header. One sane header alone is too weak after a loss.
 */
export function frameChainAt(b: Uint8Array, at: number): boolean {
  let p = at;
  let frames = 0;
  while (p + FRAME_HEADER_BYTES <= b.length) {
    if (!saneFrameHeader(b, p)) return false;
    frames++;
    p += FRAME_HEADER_BYTES + ((b[p] << 16) | (b[p + 1] << 8) | b[p + 2]);
  }
  // A partial header at the end cannot be judged: it is not evidence either way.
  return frames > 0;
}

export interface FrameSink {
  /** Payload bytes of a DATA frame (padding excluded); data undefined: n bytes not captured. */
  onData(streamId: number, data: Uint8Array | undefined, n: number, ts: bigint): void;
  /**
   * A whole frame. payload is undefined for DATA (streamed through onData)
   * and for frames whose payload was not (fully) captured or was too big.
   * It may be a view into the pushed bytes: valid only during the call.
   */
  onFrame(h: FrameHeader, payload: Uint8Array | undefined, ts: bigint): void;
  /** Frame boundaries were lost: whatever the lost bytes held is unknown. */
  onDesync(ts: bigint): void;
}

export interface FrameStats {
  frames: number;
  /** Bytes stepped over while frame boundaries were unknown. */
  bytesDesynced: number;
  /** Times the boundaries were lost. */
  desyncs: number;
  /** Times they were found again at a syscall boundary. */
  resyncs: number;
  /** Non-DATA frames stepped over whole because they were bigger than MAX_BUFFERED_FRAME. */
  oversizedFrames: number;
}

export function newFrameStats(): FrameStats {
  return { frames: 0, bytesDesynced: 0, desyncs: 0, resyncs: 0, oversizedFrames: 0 };
}

const enum State {
  Preface,
  Header,
  Payload,
  Desync,
}

export class FrameReader {
  private state: State;
  private readonly head = new Uint8Array(FRAME_HEADER_BYTES);
  private headFill = 0;
  /** Desynced: the first bytes of a syscall, collected until a header can be judged. */
  private readonly probe = new Uint8Array(FRAME_HEADER_BYTES);
  private probeFill = 0;
  private prefaceFill = 0;
  private h: FrameHeader = { length: 0, type: 0, flags: 0, streamId: 0 };
  /** Payload bytes of the current frame still to come. */
  private left = 0;
  /** Buffered payload of a non-DATA frame (undefined: not kept). */
  private buf: Uint8Array | undefined;
  private bufFill = 0;
  private lost = false;
  /** DATA: padding bytes at the end of the frame (-1: pad length not read yet). */
  private pad = 0;

  /**
   * expectPreface: this is the client side of a connection seen from its
   * start. synced: the first byte pushed starts a frame (false when
   * attaching to a running connection).
   */
  constructor(
    private readonly sink: FrameSink,
    readonly stats: FrameStats,
    expectPreface: boolean,
    synced: boolean,
  ) {
    this.state = expectPreface ? State.Preface : synced ? State.Header : State.Desync;
  }

  /** syscallStart: data[0] is the first byte a syscall moved (a place frames may start again). */
  push(data: Uint8Array, ts: bigint, syscallStart: boolean): void {
    let i = 0;
    if (this.state === State.Desync) {
      i = this.resync(data, syscallStart);
      if (i < 0) {
        this.stats.bytesDesynced += data.length;
        return;
      }
    }
    while (i < data.length) {
      switch (this.state) {
        case State.Preface: {
          const n = Math.min(PREFACE.length - this.prefaceFill, data.length - i);
          for (let k = 0; k < n; k++) {
            if (data[i + k] !== PREFACE[this.prefaceFill + k]) {
              this.desync(ts);
              this.stats.bytesDesynced += data.length - i;
              return;
            }
          }
          this.prefaceFill += n;
          i += n;
          if (this.prefaceFill === PREFACE.length) this.state = State.Header;
          break;
        }
        case State.Header: {
          if (this.headFill === 0 && data.length - i >= FRAME_HEADER_BYTES) {
            this.startFrame(data, i, ts);
            i += FRAME_HEADER_BYTES;
          } else {
            const n = Math.min(FRAME_HEADER_BYTES - this.headFill, data.length - i);
            this.head.set(data.subarray(i, i + n), this.headFill);
            this.headFill += n;
            i += n;
            if (this.headFill === FRAME_HEADER_BYTES) {
              this.headFill = 0;
              this.startFrame(this.head, 0, ts);
            }
          }
          break;
        }
        case State.Payload:
          i += this.payload(data, i, ts);
          break;
      }
      // A callback may have lost the frame boundaries (the preface check above returns itself).
      if ((this.state as State) === State.Desync) {
        this.stats.bytesDesynced += data.length - i;
        return;
      }
    }
  }

  /**
   * While desynced: whether frames start again here. Returns how many bytes
   * of data were used to decide (the header is then replayed), or -1. A
   * syscall whose first piece is shorter than a header is judged once the
   * header is complete, on that header alone.
   */
  private resync(data: Uint8Array, syscallStart: boolean): number {
    if (syscallStart) {
      this.probeFill = 0;
      if (data.length >= FRAME_HEADER_BYTES) {
        if (!frameChainAt(data, 0)) return -1;
        this.stats.resyncs++;
        this.state = State.Header;
        return 0;
      }
    } else if (this.probeFill === 0) {
      return -1;
    }
    const n = Math.min(FRAME_HEADER_BYTES - this.probeFill, data.length);
    this.probe.set(data.subarray(0, n), this.probeFill);
    this.probeFill += n;
    if (this.probeFill < FRAME_HEADER_BYTES) return -1;
    this.probeFill = 0;
    if (!saneFrameHeader(this.probe, 0)) return -1;
    this.stats.resyncs++;
    this.stats.bytesDesynced -= FRAME_HEADER_BYTES - n; // counted while probing; they are parsed after all
    this.state = State.Header;
    this.head.set(this.probe);
    this.headFill = FRAME_HEADER_BYTES - n;
    return 0;
  }

  /** n bytes of this direction were not captured. */
  skip(n: number, ts: bigint): void {
    while (n > 0) {
      if (this.state === State.Payload) {
        const k = Math.min(n, this.left);
        this.lost = true;
        if (this.h.type === FrameType.DATA) this.dataSkipped(k, ts);
        this.left -= k;
        n -= k;
        if (this.left === 0) this.endFrame(ts, undefined);
        continue;
      }
      if (this.state !== State.Desync) this.desync(ts);
      this.stats.bytesDesynced += n;
      return;
    }
  }

  private desync(ts: bigint): void {
    this.state = State.Desync;
    this.headFill = 0;
    this.buf = undefined;
    this.stats.desyncs++;
    this.sink.onDesync(ts);
  }

  private startFrame(b: Uint8Array, at: number, ts: bigint): void {
    const length = (b[at] << 16) | (b[at + 1] << 8) | b[at + 2];
    this.h = {
      length,
      type: b[at + 3],
      flags: b[at + 4],
      streamId: ((b[at + 5] & 0x7f) << 24) | (b[at + 6] << 16) | (b[at + 7] << 8) | b[at + 8],
    };
    this.left = length;
    this.lost = false;
    this.bufFill = 0;
    this.buf = undefined;
    if (this.h.type === FrameType.DATA) {
      this.pad = this.h.flags & FLAG_PADDED ? -1 : 0;
    } else if (length > MAX_BUFFERED_FRAME) {
      this.stats.oversizedFrames++;
      this.lost = true;
    }
    if (length === 0) this.endFrame(ts, EMPTY);
    else this.state = State.Payload;
  }

  /** Consumes payload bytes from data[i..]; returns how many. */
  private payload(data: Uint8Array, i: number, ts: bigint): number {
    const n = Math.min(this.left, data.length - i);
    if (this.h.type === FrameType.DATA) {
      this.dataBytes(data, i, n, ts);
    } else if (!this.lost) {
      if (this.bufFill === 0 && n === this.left) {
        // The whole payload is in this push: handed over as a view, no copy
        // (the sink uses it before push returns).
        this.bufFill = n;
        this.left = 0;
        this.endFrame(ts, data.subarray(i, i + n));
        return n;
      }
      (this.buf ??= new Uint8Array(this.h.length)).set(data.subarray(i, i + n), this.bufFill);
    }
    this.bufFill += n;
    this.left -= n;
    if (this.left === 0) this.endFrame(ts, this.buf);
    return n;
  }

  private dataBytes(data: Uint8Array, i: number, n: number, ts: bigint): void {
    let from = i;
    let count = n;
    if (this.pad === -1) {
      this.pad = data[from];
      from++;
      count--;
    }
    // Bytes before the padding: frame length minus pad-length byte and padding.
    const dataEnd = this.h.length - (this.h.flags & FLAG_PADDED ? 1 + this.pad : 0);
    const pos = this.bufFill + (from - i) - (this.h.flags & FLAG_PADDED ? 1 : 0);
    const take = Math.max(0, Math.min(count, dataEnd - pos));
    if (take > 0) this.sink.onData(this.h.streamId, data.subarray(from, from + take), take, ts);
  }

  private dataSkipped(k: number, ts: bigint): void {
    let count = k;
    if (this.pad === -1) {
      // The pad length itself was not captured: the rest counts as data.
      this.pad = 0;
      count--;
    }
    const padded = this.h.flags & FLAG_PADDED ? 1 : 0;
    const dataEnd = this.h.length - (padded ? 1 + this.pad : 0);
    const pos = this.bufFill - padded + (k - count);
    const take = Math.max(0, Math.min(count, dataEnd - pos));
    this.bufFill += k;
    if (take > 0) this.sink.onData(this.h.streamId, undefined, take, ts);
  }

  private endFrame(ts: bigint, payload: Uint8Array | undefined): void {
    this.state = State.Header;
    this.stats.frames++;
    this.buf = undefined;
    this.sink.onFrame(this.h, this.h.type === FrameType.DATA || this.lost ? undefined : payload, ts);
  }
}

const EMPTY = new Uint8Array(0);
