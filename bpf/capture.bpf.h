/* SPDX-License-Identifier: Apache-2.0 */
/* Judging a byte stream and shipping its payload as data events: shared by
 * the socket syscall hooks (data.bpf.c) and the TLS uprobes (tls.bpf.c). */
#ifndef SIDELIGHT_CAPTURE_BPF_H
#define SIDELIGHT_CAPTURE_BPF_H

#include "conn.bpf.h"
#include "protocols/http1.bpf.h"
#include "protocols/http2.bpf.h"
#include "protocols/tls.bpf.h"

/* Payload-bearing syscalls judged before an unrecognised connection is
 * declared "other" and stops being shipped. */
#define SL_CLASSIFY_TRIES 4

/* Ships the scratch event with `len` payload bytes; false if the ring was full. */
static __always_inline bool sl_emit_chunk(struct sl_scratch *s, __u64 offset, __u64 len)
{
	__u64 size;

	len &= SL_LEN_MASK;
	size = sizeof(struct sl_data_event) + len;
	s->ev.hdr.size = size;
	s->ev.chunk_offset = offset;
	s->ev.chunk_len = len;
	if (bpf_ringbuf_output(&sl_events, &s->ev, size, sl_ring_flags(size))) {
		sl_stat_add(SL_STAT_RINGBUF_DROPS, 1);
		sl_stat_add(SL_STAT_RINGBUF_DROP_BYTES, len);
		return false;
	}
	return true;
}

/*
 * Judges a stream from the first bytes of its first payloads (`contig`
 * bytes are contiguous at `first`). Returns false when nothing of it is to
 * be shipped from then on: not HTTP, or (on a socket, `tls_ok`) TLS records.
 * Connections that were running before the agent (role unknown) may be
 * judged HTTP/2 from frame headers: they will never show a preface.
 */
static __always_inline bool sl_judge(struct sl_conn *c, __u64 first, __u64 contig, bool tls_ok)
{
	__u8 head[16] = {};
	__u8 k = SL_CLASS_UNKNOWN;

	if (c->klass != SL_CLASS_UNKNOWN)
		return c->klass != SL_CLASS_OTHER && c->klass != SL_CLASS_TLS;
	if (!bpf_probe_read_user(head, sizeof(head), (void *)first))
		k = sl_is_http1(head, sizeof(head)) ? SL_CLASS_HTTP1
		    : sl_is_http2_preface(head, sizeof(head)) ? SL_CLASS_HTTP2
		    : tls_ok && contig >= 5 && sl_is_tls_record(head, c->role) ? SL_CLASS_TLS
		    : c->role == SL_ROLE_UNKNOWN && sl_is_http2_frames(head, first, contig)
			? SL_CLASS_HTTP2
			: SL_CLASS_UNKNOWN;
	if (k == SL_CLASS_TLS) {
		c->klass = k;
		c->tries = 0;
		sl_stat_add(SL_STAT_CONN_TLS, 1);
		return false;
	}
	if (k) {
		c->klass = k;
	} else if (++c->tries >= SL_CLASSIFY_TRIES) {
		c->klass = SL_CLASS_OTHER;
		sl_stat_add(SL_STAT_CONN_OTHER, 1);
		return false;
	}
	return true;
}

/* Copies `len` bytes at `src` into the scratch payload and ships them. */
static __always_inline bool sl_ship(struct sl_scratch *s, struct sl_conn *c, __u64 src,
				    __u64 offset, __u64 len)
{
	if (bpf_probe_read_user(s->payload, len & SL_LEN_MASK, (void *)src)) {
		sl_stat_add(SL_STAT_READ_FAULTS, 1);
		return false;
	}
	s->ev.klass = c->klass;
	if (!sl_emit_chunk(s, offset, len))
		return false;
	c->shipped = 1;
	return true;
}

/* One buffer: consecutive chunks of sl_chunk_bytes. */
static __always_inline void sl_capture_plain(struct sl_scratch *s, struct sl_conn *c, __u64 buf,
					     __u64 total)
{
	__u32 chunk = sl_chunk_bytes;
	int i;

	for (i = 0; i < SL_MAX_CHUNKS_PER_SYSCALL; i++) {
		__u64 off = (__u64)i * chunk, len;

		if (off >= total)
			break;
		len = total - off < chunk ? total - off : chunk;
		if (!sl_ship(s, c, buf + off, off, len))
			return;
	}
}

/* The scratch event with every field but the tuple and `captured` set. */
static __always_inline struct sl_scratch *sl_event_begin(struct sl_conn *c, __u64 pos,
							 __u64 bytes, __u32 fd, __u8 dir, __u8 sys,
							 __u16 flags)
{
	__u32 zero = 0;
	struct sl_scratch *s = bpf_map_lookup_elem(&sl_scratch, &zero);

	if (!s)
		return NULL;
	/* The size is set per chunk (sl_emit_chunk). */
	sl_header_fill(&s->ev.hdr, SL_EV_DATA, flags, 0);
	s->ev.conn_id = c->id;
	s->ev.stream_pos = pos;
	s->ev.syscall_bytes = bytes;
	s->ev.fd = fd;
	s->ev.direction = dir;
	s->ev.syscall = sys;
	s->ev.role = c->role;
	s->ev.klass = c->klass;
	s->ev._pad = 0;
	bpf_get_current_comm(s->ev.comm, sizeof(s->ev.comm));
	return s;
}

#endif /* SIDELIGHT_CAPTURE_BPF_H */
