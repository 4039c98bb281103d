/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps and load-time settings shared by every program. maps.bpf.c defines
 * them (SL_MAPS_OWNER); the other objects see extern declarations that the
 * BPF static linker (bpftool gen object) resolves to that one definition.
 */
#ifndef SIDELIGHT_MAPS_BPF_H
#define SIDELIGHT_MAPS_BPF_H

#include "events.h"

#ifdef SL_MAPS_OWNER
#define SL_EXTERN
#define SL_SETTING(type, name, value) const volatile type name = value
#else
#define SL_EXTERN extern
#define SL_SETTING(type, name, value) extern const volatile type name
#endif

/* Where one direction's next HTTP/2 frame header starts. */
struct sl_h2_framing {
	__u64 next;   /* stream position of its first byte */
	__u8 head[8]; /* its first `have` bytes, when a syscall ended inside it */
	__u8 have;
	__u8 state;   /* enum sl_h2_state */
	__u8 from_start; /* followed from the stream's first byte, not found mid-stream */
	__u8 _pad[5];
};

enum sl_h2_state {
	SL_H2_UNSET = 0,   /* no HTTP/2 syscall walked yet in this direction */
	SL_H2_WALKING = 1, /* `next` is exact */
	SL_H2_LOST = 2,    /* framing unknown: only the capped prefix is shipped */
};

/* Where one direction's HTTP/1 framing stands, while the kernel follows it
 * (protocols/http1_heads.bpf.h): the message or chunk being read, or the
 * end of the body bytes being stepped over. */
struct sl_h1_framing {
	union {
		__u64 next; /* SL_H1_SKIP: stream position where the skipped bytes end */
		__u64 name; /* reading a field name or coding: its hash so far */
	};
	__u64 value;  /* Content-Length or chunk size read so far */
	__u64 at;     /* stream position the last walk stopped at */
	__u16 status; /* a response's status code read so far */
	__u8 state;   /* enum sl_h1_state */
	__u8 flags;   /* SL_H1_F_* of the message being read */
	__u8 col;     /* column in the start line; progress matching a name or token */
	__u8 pays;    /* the last syscall read skipped far more body than it shipped */
	__u8 probe;   /* syscalls within the cap not read since, to try again */
	__u8 _pad;
};

enum sl_h1_state {
	SL_H1_UNSET = 0,      /* not followed: only the capped prefix is shipped */
	SL_H1_SKIP = 1,       /* stepping over body bytes up to `next` */
	SL_H1_LINE = 2,       /* the start line (col 0: a message starts here) */
	SL_H1_NAME = 3,       /* a field line's first byte (or the head's end) */
	SL_H1_MATCH_CL = 4,   /* a name that may be Content-Length (col bytes matched) */
	SL_H1_MATCH_TE = 5,   /* a name that may be Transfer-Encoding */
	SL_H1_CL_VALUE = 6,
	SL_H1_TE_VALUE = 7,
	SL_H1_OTHER = 8,      /* the rest of a field line that does not matter */
	SL_H1_END_LF = 9,     /* the head's (or trailers') final CR was read */
	SL_H1_CHUNK_SIZE = 10,
	SL_H1_CHUNK_EXT = 11, /* the rest of a chunk-size line */
	SL_H1_BODY_START = 12, /* a response body's first bytes: "HTTP/1." (col matched) means none */
};

#define SL_H1_F_RESPONSE 1 /* the start line is a status line */
#define SL_H1_F_CONNECT 2  /* a CONNECT request: a tunnel follows its head */
#define SL_H1_F_LENGTH 4   /* Content-Length given */
#define SL_H1_F_CHUNKED 8  /* Transfer-Encoding ends in chunked */
#define SL_H1_F_CODING 16  /* Transfer-Encoding given, not ending in chunked */
#define SL_H1_F_TRAILER 32 /* past the last chunk: trailer fields */
#define SL_H1_F_H 64       /* the start line began with 'H' */

/* Kernel-side state of one TCP socket, keyed by its struct sock address. */
struct sl_conn {
	__u64 id;
	__u64 pos[2]; /* bytes moved so far, by enum sl_direction */
	__u8 role;
	__u8 klass;
	__u8 tries;   /* payload-bearing syscalls judged without a verdict; for a
		       * TLS socket, SL_TLS_SOCKET_BOUND once a session is bound to it */
	__u8 shipped; /* at least one event left the kernel: its close matters */
	__u32 ports;  /* skc_portpair as the kernel keeps it: tells a reused struct sock */
	/* Read once when the entry is made, not in every event: a TCP socket's
	 * addresses and ports are fixed by then (connect and accept set them). */
	struct sl_tuple tuple;
	/* Framing by direction, so heads past the per-syscall cap can still
	 * be shipped (protocols/http2_heads.bpf.h, http1_heads.bpf.h). */
	union {
		struct sl_h2_framing h2[2];
		struct sl_h1_framing h1[2];
	};
	__u8 h2_said; /* what user space said of its HTTP/2 bodies (sl_h2_bodies), 0 until it says */
	__u8 _pad2[7];
};

#define SL_TLS_SOCKET_BOUND 1
/* Marks a connection left out by a filter (klass OTHER), so a TLS session
 * over it can still be bound and left out too. */
#define SL_TRIES_FILTERED 0xff

/* One SSL object of one process. */
struct sl_tls_key {
	__u64 ssl;
	__u32 tgid;
	__u32 _pad;
};

/* A TLS session: its plaintext is a byte stream of its own (positions,
 * verdict and role in `c`), laid over the socket it is bound to. */
struct sl_tls_session {
	struct sl_conn c;
	__u64 sk;      /* bound socket (struct sock address), 0 while unbound */
	__u64 sock_id; /* that socket's connection id, to tell a stale binding */
};

/* An SSL_read/SSL_write in progress on a thread, from entry to return. */
struct sl_tls_call {
	__u64 ssl;
	__u64 buf;
	__u64 count_ptr; /* *_ex: where the byte count is written; 0 otherwise */
	__u64 sk;        /* socket of a syscall nested in the call, 0 if none */
	__u64 cookie;    /* the attachment's SL_TLS_COOKIE_* bits */
	__u8 dir;        /* enum sl_direction */
	__u8 _pad[7];
};

/* Set by the loader before load; read-only (and so constant) afterwards. */
SL_SETTING(__u32, sl_agent_tgid, 0);
SL_SETTING(__u32, sl_chunk_bytes, 4096);
SL_SETTING(__u32, sl_syscall_cap, 16384);
SL_SETTING(__u8, sl_filter_pids, 0);
SL_SETTING(__u8, sl_filter_ports, 0);
SL_SETTING(__u8, sl_exclude_ports, 0);
/* Ring occupancy at which a record wakes the consumer (see sl_ring_flags). */
SL_SETTING(__u32, sl_wake_bytes, 1 << 20);

/* Scratch room for one event. Offsets into the payload are masked with
 * SL_FILL_MASK (exact: a chunk is shipped as soon as it is full) and lengths
 * with SL_LEN_MASK (exact up to a whole chunk); the area holds the largest
 * masked offset plus length, so the verifier can prove every copy fits.
 * A per-CPU value must stay under 32 KiB. */
#define SL_FILL_MASK (SL_MAX_CHUNK - 1)
#define SL_LEN_MASK (2 * SL_MAX_CHUNK - 1)
#define SL_SCRATCH_PAYLOAD (3 * SL_MAX_CHUNK)
/* Byte ranges of one syscall to ship: [0] is the capped prefix, the rest
 * are heads past it (a power of two, for masking). */
#define SL_RANGES 64
struct sl_range {
	__u32 off, len;
};
/* The gather over a syscall's buffer (one plain buffer or an iovec array). */
struct sl_gather_cursor {
	__u64 base, left, off, next, fill, r;
	__u64 piece;      /* payload position of the open piece's header, or SL_NO_PIECE */
	__u64 first_off;  /* the event's first piece: its syscall offset */
	__u64 first_flag; /* and SL_EV_F_SKIPPED if bytes were skipped before it */
};
#define SL_NO_PIECE (~0ULL)
/* The buffer entry (plain buffer or iovec element) a walk is in. */
struct sl_buf_entry {
	__u64 base, start, len; /* user address, stream position, length */
	__u64 next;             /* next iovec index */
};
/* The HTTP/2 frame walk: the frame header being read. */
struct sl_h2_walk {
	__u64 at, fill;          /* header's stream position, bytes of it read */
	struct sl_buf_entry e;
	__u8 hdr[32];
};
/* The HTTP/1 walk: its framing (copied back when the walk ends), the run of
 * head bytes it is in, and the block of bytes read into the payload area
 * (free until the gather). */
struct sl_h1_walk {
	struct sl_h1_framing f;
	__u64 at;             /* next byte to read */
	__u64 run;            /* where the current run of head bytes started */
	__u64 bstart, blen;   /* the block read */
	__u64 shipped;        /* head bytes shipped so far */
	struct sl_buf_entry e;
};
struct sl_scratch {
	/* Loop state lives here, not on the stack: the verifier does not track
	 * map contents, so every iteration looks alike and is pruned instead of
	 * explored once per possible value. */
	struct sl_gather_cursor cur;
	struct sl_h2_walk walk;
	struct sl_h1_walk h1;
	__u32 nranges;
	__u16 flags; /* the event's header flags, before per-range ones */
	__u16 _pad;
	struct sl_range ranges[SL_RANGES];
	struct sl_data_event ev;
	__u8 payload[SL_SCRATCH_PAYLOAD];
};

SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} sl_events SEC(".maps");

/* LRU: a socket whose close we never see must not pin an entry forever. */
SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sl_conn);
} sl_conns SEC(".maps");

SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_scratch);
} sl_scratch SEC(".maps");

/*
 * Wake-up policy. A wake-up asked from inside the traced syscall queues an
 * irq_work that the application's thread pays for (a self-interrupt, dear in
 * a VM), and the ring's default asks one whenever the consumer is asleep:
 * nearly every event when the agent keeps up. The consumer polls on a timer
 * instead (native/poller.c), and a record wakes it only when it carries the
 * ring past the watermark, so a burst is drained before it can overflow.
 */
static __always_inline __u64 sl_ring_flags(__u64 size)
{
	__u64 avail = bpf_ringbuf_query(&sl_events, BPF_RB_AVAIL_DATA);

	return avail < sl_wake_bytes && avail + size >= sl_wake_bytes ? BPF_RB_FORCE_WAKEUP
								       : BPF_RB_NO_WAKEUP;
}

SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sl_stats SEC(".maps");

/* Next connection id, per CPU; the CPU number is folded into the id. */
SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sl_id_seq SEC(".maps");

SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_PIDS);
	__type(key, __u32);
	__type(value, __u8);
} sl_pid_filter SEC(".maps");

/* One bit per port, so any set of ranges costs one lookup: words
 * 0..SL_PORT_WORDS-1 are the ports to keep (--port), the next
 * SL_PORT_WORDS the ports to leave out (--exclude-port). */
SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * SL_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} sl_port_bits SEC(".maps");

/* What user space said of an HTTP/2 connection's DATA payloads (by
 * connection id, or TLS session id), from its first request: SL_H2_HEADS,
 * it carries no gRPC and needs none of them; SL_H2_BODIES, it carries gRPC,
 * whose message prefixes may lie anywhere in them. LRU: ids are never
 * reused, and an entry for a closed connection just ages out. */
SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} sl_h2_bodies SEC(".maps");

/* Processes user space has left out (by executable, namespace or pod
 * labels): tgid -> the group leader's start time in clock ticks, as
 * /proc/<pid>/stat gives it, so a reused pid is not left out too. */
SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} sl_pid_skip SEC(".maps");

/* TLS sessions by SSL object; LRU: a session whose SSL_free we never see
 * must not pin an entry. */
SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sl_tls_key);
	__type(value, struct sl_tls_session);
} sl_tls_sessions SEC(".maps");

/* SSL calls in progress, by thread (pid_tgid). */
SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sl_tls_call);
} sl_tls_calls SEC(".maps");

/* Memory-BIO sessions still looking for their socket, by thread: the
 * thread's next write of TLS records on an unbound socket is theirs. */
SL_EXTERN struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sl_tls_key);
} sl_tls_pending SEC(".maps");

#endif /* SIDELIGHT_MAPS_BPF_H */
