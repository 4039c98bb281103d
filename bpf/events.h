/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ABI between the kernel programs, the native addon and the TypeScript
 * decoder. Every struct here exists once; the addon exports offsetof/sizeof
 * of each field so the decoder can refuse to start on a mismatch.
 */
#ifndef SIDELIGHT_EVENTS_H
#define SIDELIGHT_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SL_COMM_LEN 16
/* Largest payload one event may carry; the runtime chunk size is <= this. */
#define SL_MAX_CHUNK 8192
/* Events one syscall may produce: bounds the per-syscall capture loop. */
#define SL_MAX_CHUNKS_PER_SYSCALL 16
/* Process ids the kernel's pid filter holds (--pid). */
#define SL_MAX_PIDS 1024
/* One bit per port in 64-bit words: the kernel's port filter is two such halves (keep, leave out). */
#define SL_PORT_WORDS (65536 / 64)
/* iovec entries inspected per readv/writev/sendmsg/recvmsg (a power of two).
 * HTTP/2 servers write many frames in one writev: Node answers ten streams
 * with some 40 entries. */
#define SL_MAX_IOV 128

enum sl_event_type {
	SL_EV_DATA = 1,  /* bytes moved by one socket syscall (one chunk of them) */
	SL_EV_CLOSE = 2, /* the connection was closed (close() or TCP_CLOSE) */
	SL_EV_TLS_BIND = 3, /* a TLS session was matched to its socket */
};

/* sl_header.flags */
#define SL_EV_F_TLS 1 /* plaintext read at the TLS library: conn_id names the TLS session */
/* The syscall's bytes between the previous range shipped and this event's
 * payload were skipped on purpose: body bytes past the per-syscall cap
 * (HTTP/2 DATA payload, HTTP/1 bodies and chunk data) whose heads were
 * shipped (heads, not bodies). */
#define SL_EV_F_SKIPPED 2
/* The payload is pieces of the syscall's bytes, back to back: each a
 * struct sl_piece, then its bytes, padded to 8. Several ranges of one
 * syscall (heads apart, bodies skipped between them) so cost one event.
 * SL_EV_F_SKIPPED then concerns the first piece; each later piece follows
 * bytes skipped on purpose. chunk_offset is the first piece's. */
#define SL_EV_F_PIECES 4

/* Values of sl_h2_bodies (maps.bpf.h), written by the loader. */
#define SL_H2_HEADS 1  /* the connection carries no gRPC: its DATA payloads matter to nobody */
#define SL_H2_BODIES 2 /* it carries gRPC: message prefixes may lie anywhere in them */

struct sl_piece {
	__u32 offset; /* within the syscall's bytes */
	__u32 len;    /* bytes that follow */
};

enum sl_direction {
	SL_DIR_EGRESS = 0,  /* this process sent the bytes */
	SL_DIR_INGRESS = 1, /* this process received the bytes */
};

enum sl_role {
	SL_ROLE_UNKNOWN = 0, /* opened before the agent started */
	SL_ROLE_CLIENT = 1,  /* seen at connect() */
	SL_ROLE_SERVER = 2,  /* seen at accept() */
};

/*
 * What the kernel judged a connection to carry: one line per protocol
 * (bpf/protocols/registry.bpf.h tells them apart; src/protocols/registry.ts
 * names each by its class). The addon exports every SL_CLASS_* from this list.
 *   UNKNOWN  no payload judged yet: payload is shipped
 *   OTHER    not a protocol sidelight reads: only counted, never shipped
 *   TLS      TLS records: the ciphertext is never shipped; the plaintext
 *            comes from the TLS library's uprobes
 */
#define SL_CLASSES(X)        \
	X(SL_CLASS_UNKNOWN, 0) \
	X(SL_CLASS_HTTP1, 1)   \
	X(SL_CLASS_HTTP2, 2)   \
	X(SL_CLASS_OTHER, 3)   \
	X(SL_CLASS_TLS, 4)

enum sl_class {
#define SL_CLASS_ENUM(name, value) name = value,
	SL_CLASSES(SL_CLASS_ENUM)
#undef SL_CLASS_ENUM
};

enum sl_syscall {
	SL_SYS_READ = 0,
	SL_SYS_WRITE = 1,
	SL_SYS_READV = 2,
	SL_SYS_WRITEV = 3,
	SL_SYS_RECVFROM = 4,
	SL_SYS_SENDTO = 5,
	SL_SYS_RECVMSG = 6,
	SL_SYS_SENDMSG = 7,
	SL_SYS_SENDFILE = 8,
	SL_SYS_CLOSE = 9,
	SL_SYS_TCP_STATE = 10, /* close seen at sock:inet_sock_set_state */
	SL_SYS_SSL_READ = 11,  /* SSL_read or SSL_read_ex returned plaintext */
	SL_SYS_SSL_WRITE = 12, /* SSL_write or SSL_write_ex took plaintext */
};

/* How a TLS session found its socket (sl_tls_bind_event.how). */
enum sl_tls_bind_how {
	SL_TLS_BY_SYSCALL = 1, /* a socket syscall nested in one of its SSL calls */
	SL_TLS_BY_NEXT_WRITE = 2, /* memory-BIO library: the thread's next TLS write after its SSL call */
};

/* Uprobe attach cookie bits. */
#define SL_TLS_COOKIE_MEMORY_BIO 1 /* the library's callers feed it through memory BIOs (Node) */

/* Indexes of the per-CPU counter array `sl_stats`. */
enum sl_stat {
	SL_STAT_RINGBUF_DROPS = 0,     /* events lost: ring buffer full */
	SL_STAT_RINGBUF_DROP_BYTES = 1, /* payload bytes in those events */
	SL_STAT_CONN_OTHER = 2,        /* connections classified as not HTTP */
	SL_STAT_IOV_TRUNCATED = 3,     /* iovec syscalls with more than SL_MAX_IOV entries */
	SL_STAT_TCP_SENDMSG_BYTES = 4, /* egress bytes of shipped connections seen by tcp_sendmsg_locked */
	SL_STAT_READ_FAULTS = 5,       /* payload copies that failed (bytes then count as uncaptured) */
	SL_STAT_RINGBUF_CLOSE_DROPS = 6, /* of SL_STAT_RINGBUF_DROPS, close events */
	SL_STAT_CONN_FILTERED = 7,     /* connections left out by the port or process filters */
	SL_STAT_CONN_TLS = 8,          /* connections whose bytes are TLS records */
	SL_STAT_TLS_CALLS = 9,         /* SSL_read/SSL_write calls that moved plaintext */
	SL_STAT_TLS_UNBOUND_CALLS = 10, /* of those, calls whose session had no socket yet */
	SL_STAT_SYSCALL_ARGS_UNREAD = 11, /* syscalls skipped: arguments not found (kernels before 5.15) */
	SL_STAT_H2_FRAMING_LOST = 12,  /* HTTP/2 directions whose framing the kernel lost: no heads past the cap from then on */
	SL_STAT_HEADS_UNSHIPPED = 13,  /* syscalls with more head ranges past the cap than SL_RANGES */
	SL_STAT_H1_FRAMING_LOST = 14,  /* HTTP/1 walks that stopped before the syscall's end: framing not understood */
	SL_STAT_MAX = 15,
};

struct sl_header {
	__u16 type;  /* enum sl_event_type */
	__u16 flags; /* reserved */
	__u32 size;  /* bytes of this record, payload included */
	__u64 ts_ns; /* bpf_ktime_get_ns() at the syscall's exit */
	__u32 tgid;
	__u32 tid;
};

/* Addresses are IPv6-sized; IPv4 uses the first 4 bytes with family AF_INET. */
struct sl_tuple {
	__u8 saddr[16]; /* local */
	__u8 daddr[16]; /* peer */
	__u16 sport;    /* local port, host order */
	__u16 dport;    /* peer port, host order */
	__u16 family;   /* AF_INET or AF_INET6 (v4-mapped stays AF_INET6) */
	__u16 _pad;
};

struct sl_data_event {
	struct sl_header hdr;
	__u64 conn_id;       /* unique per socket, stable across fd reuse */
	__u64 stream_pos;    /* byte offset of the syscall's first byte in this direction */
	__u64 syscall_bytes; /* bytes the syscall moved (its return value) */
	struct sl_tuple tuple;
	__u32 fd;
	__u32 captured;      /* bytes of this syscall captured over all its events */
	__u32 chunk_offset;  /* offset of this event's payload within the syscall's bytes */
	__u32 chunk_len;     /* payload bytes that follow this struct */
	__u8 direction;      /* enum sl_direction */
	__u8 syscall;        /* enum sl_syscall */
	__u8 role;           /* enum sl_role */
	__u8 klass;          /* enum sl_class, as judged so far */
	__u32 _pad;
	char comm[SL_COMM_LEN];
	/* chunk_len payload bytes follow */
};

struct sl_close_event {
	struct sl_header hdr;
	__u64 conn_id;
	__u64 bytes_sent;
	__u64 bytes_received;
	__u32 fd;     /* (__u32)-1 when the close came from the TCP state machine */
	__u8 syscall; /* SL_SYS_CLOSE or SL_SYS_TCP_STATE */
	__u8 role;
	__u16 _pad;
	char comm[SL_COMM_LEN];
};

/* A TLS session (one SSL object of one process) was matched to the TCP
 * socket under it: its plaintext events (SL_EV_F_TLS, conn_id = tls_id)
 * belong to that socket's connection, and the socket's close ends it. */
struct sl_tls_bind_event {
	struct sl_header hdr;
	__u64 tls_id;  /* the session's id, as in its data events' conn_id */
	__u64 conn_id; /* the socket's connection id, as in its close event */
	struct sl_tuple tuple;
	__u8 role;     /* the socket's enum sl_role */
	__u8 how;      /* enum sl_tls_bind_how */
	__u8 filtered; /* the socket is left out by the port filters: drop the session */
	__u8 _pad;
	__u32 _pad2;
	char comm[SL_COMM_LEN];
};

#endif /* SIDELIGHT_EVENTS_H */
