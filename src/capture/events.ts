// Decoded kernel events (bpf/events.h), as the decoder hands them on.

export interface Endpoint {
  address: string;
  port: number;
}

export interface DataEvent {
  tsNs: bigint;
  tgid: number;
  tid: number;
  connId: number;
  /** Offset of the syscall's first byte in this direction of the stream. */
  streamPos: number;
  /** Bytes the syscall moved (its return value). */
  syscallBytes: number;
  /** Bytes of the syscall captured over all its events. */
  captured: number;
  chunkOffset: number;
  fd: number;
  direction: number;
  syscall: number;
  role: number;
  klass: number;
  /** Captured bytes: a view into the batch, valid only during the call. */
  payload: Uint8Array;
  /** The batch and the record's offset, for fields decoded on demand. */
  batch: Buffer;
  base: number;
}

export interface CloseEvent {
  tsNs: bigint;
  tgid: number;
  connId: number;
  bytesSent: number;
  bytesReceived: number;
  fd: number;
  syscall: number;
  role: number;
}

export interface EventSink {
  onData(ev: DataEvent): void;
  onClose(ev: CloseEvent): void;
}
