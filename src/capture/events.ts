// Decoded kernel events (bpf/events.h), as the decoder hands them on.

export interface Endpoint {
  address: string;
  port: number;
}

export interface DataEvent {
  tsNs: bigint;
  tgid: number;
  tid: number;
  /** The socket's connection id; for TLS plaintext (tls), the TLS session's id. */
  connId: number;
  /** Plaintext read at the TLS library (SSL_read/SSL_write), not at a socket syscall. */
  tls: boolean;
  /** The syscall's bytes between the previous range shipped and this payload were skipped on purpose (HTTP/2 DATA payload past the per-syscall cap): a count, not a loss. */
  skippedBefore: boolean;
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

/** A TLS session was matched to the socket under it (bpf/tls.bpf.h). */
export interface TlsBindEvent {
  tsNs: bigint;
  tgid: number;
  /** The session's id: its data events' connId. */
  tlsId: number;
  /** The socket's connection id: its close event's connId. */
  connId: number;
  local: Endpoint;
  peer: Endpoint;
  role: number;
  /** 1: a socket syscall inside an SSL call; 2: the thread's next TLS write (memory-BIO callers). */
  how: number;
  /** The socket is left out by the port filters: so is the session. */
  filtered: boolean;
  /** The process name the kernel saw. */
  comm: string;
}

export interface EventSink {
  onData(ev: DataEvent): void;
  onClose(ev: CloseEvent): void;
  onTlsBind(ev: TlsBindEvent): void;
}
