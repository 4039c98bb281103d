/* SPDX-License-Identifier: Apache-2.0 */
/* Judging a byte stream and shipping its payload as data events: shared by
 * the socket syscall hooks (data.bpf.c) and the TLS uprobes (tls.bpf.c). */
#ifndef SIDELIGHT_CAPTURE_BPF_H
#define SIDELIGHT_CAPTURE_BPF_H

#include "conn.bpf.h"
#include "protocols/registry.bpf.h"

/* Payload-bearing syscalls judged before an unrecognised connection is
 * declared "other" and stops being shipped. */
#define SL_CLASSIFY_TRIES 4

/* Bounds the gather: each step finishes a range, loads an iovec entry, steps
 * over bytes between ranges, or copies (at most up to the chunk's end). */
#define SL_GATHER_STEPS (3 * SL_MAX_IOV + 3 * SL_RANGES + SL_MAX_CHUNKS_PER_SYSCALL)
/* Without bpf_loop, only the capped prefix: an entry load and a copy per
 * iovec entry, plus one per chunk. */
#define SL_GATHER_STEPS_UNROLLED (2 * SL_MAX_IOV + SL_MAX_CHUNKS_PER_SYSCALL)

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
		k = sl_classify(head, sizeof(head), first, contig, c->role, tls_ok);
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

/* Closes the open piece: its length goes in its header, and the payload
 * is padded to 8 for the next one. */
static __always_inline void sl_piece_close(struct sl_scratch *s)
{
	struct sl_gather_cursor *cur = &s->cur;
	struct sl_piece *p;

	if (cur->piece == SL_NO_PIECE)
		return;
	p = (struct sl_piece *)(s->payload + (cur->piece & SL_FILL_MASK));
	p->len = cur->fill - cur->piece - sizeof(*p);
	cur->fill = (cur->fill + 7) & ~7ULL;
	cur->piece = SL_NO_PIECE;
}

/* Ships the gathered pieces as one event. */
static __always_inline bool sl_emit_gathered(struct sl_scratch *s, struct sl_conn *c)
{
	struct sl_gather_cursor *cur = &s->cur;

	sl_piece_close(s);
	s->ev.hdr.flags = s->flags | SL_EV_F_PIECES | cur->first_flag;
	s->ev.klass = c->klass;
	if (!sl_emit_chunk(s, cur->first_off, cur->fill))
		return false;
	c->shipped = 1;
	cur->fill = 0;
	return true;
}

/* Opens a piece at the cursor, in a new event if this one has no room for
 * a header and a byte. */
static __always_inline bool sl_piece_open(struct sl_scratch *s, struct sl_conn *c, struct sl_range *rg)
{
	struct sl_gather_cursor *cur = &s->cur;
	struct sl_piece *p;

	if (cur->fill + sizeof(*p) >= sl_chunk_bytes && !sl_emit_gathered(s, c))
		return false;
	if (cur->fill == 0) {
		cur->first_off = cur->off;
		cur->first_flag = cur->r > 0 && cur->off == rg->off ? SL_EV_F_SKIPPED : 0;
	}
	cur->piece = cur->fill;
	p = (struct sl_piece *)(s->payload + (cur->piece & SL_FILL_MASK));
	p->offset = cur->off;
	p->len = 0;
	cur->fill += sizeof(*p);
	return true;
}

/*
 * One step of the gather of s->ranges (increasing, apart) from one plain
 * buffer (iov NULL) or an iovec array: finishes a range, loads an iovec
 * entry, steps over bytes between ranges, or copies up to a chunk's end.
 * The ranges are packed as pieces into events of up to sl_chunk_bytes, so
 * a syscall of many small heads apart costs few events. Returns 1 when
 * done.
 */
static __always_inline long sl_gather_step(struct sl_loop_ctx *x)
{
	struct sl_scratch *s = x->s;
	struct sl_gather_cursor *cur = &s->cur;
	__u32 chunk = sl_chunk_bytes;
	struct sl_range *rg;
	struct iovec v;
	__u64 len, end;

	if (cur->r >= s->nranges || cur->r >= SL_RANGES)
		return 1;
	rg = &s->ranges[cur->r & (SL_RANGES - 1)];
	end = (__u64)rg->off + rg->len;
	if (cur->off >= end) {
		sl_piece_close(s);
		cur->r++;
		return 0;
	}
	if (cur->left == 0) {
		if (!x->iov || cur->next >= SL_MAX_IOV ||
		    bpf_probe_read_user(&v, sizeof(v), &x->iov[cur->next & (SL_MAX_IOV - 1)]))
			return 1;
		cur->next++;
		cur->base = (__u64)v.iov_base;
		cur->left = v.iov_len < x->total - cur->off ? v.iov_len : x->total - cur->off;
		return 0;
	}
	if (cur->off < rg->off) {
		/* Bytes between ranges: stepped over, never copied. */
		len = cur->left < rg->off - cur->off ? cur->left : rg->off - cur->off;
		cur->base += len;
		cur->left -= len;
		cur->off += len;
		return 0;
	}
	if (cur->piece == SL_NO_PIECE && !sl_piece_open(s, x->c, rg)) {
		x->failed = true;
		return 1;
	}
	len = cur->left < chunk - cur->fill ? cur->left : chunk - cur->fill;
	if (len > end - cur->off)
		len = end - cur->off;
	if (bpf_probe_read_user(s->payload + (cur->fill & SL_FILL_MASK), len & SL_LEN_MASK,
				(void *)cur->base)) {
		sl_stat_add(SL_STAT_READ_FAULTS, 1);
		x->failed = true;
		return 1;
	}
	cur->fill += len;
	cur->base += len;
	cur->left -= len;
	cur->off += len;
	if (cur->fill >= chunk && !sl_emit_gathered(s, x->c)) {
		x->failed = true;
		return 1;
	}
	return 0;
}

#if SL_BPF_LOOP
static long sl_gather_cb(__u32 i, void *ctx)
{
	return sl_gather_step(ctx);
}
#endif

/* The byte ranges of s->ranges, gathered from `buf` (`total` bytes) or from
 * an iovec array, with the bytes between them stepped over. */
static __always_inline void sl_capture_ranges(struct sl_scratch *s, struct sl_conn *c, __u64 buf,
					      struct iovec *iov, __u64 total)
{
	struct sl_gather_cursor *cur = &s->cur;
	struct sl_loop_ctx x = { .s = s, .c = c, .iov = iov, .total = total };
	int step;

	cur->base = buf;
	cur->left = iov ? 0 : total;
	cur->off = cur->next = cur->fill = cur->r = 0;
	cur->piece = SL_NO_PIECE;
	s->flags = s->ev.hdr.flags;
	if (SL_HAS_LOOP()) {
		SL_LOOP(SL_GATHER_STEPS, sl_gather_cb, &x);
	} else {
		/* Kernels without bpf_loop: a bounded loop the verifier unrolls,
		 * enough for the capped prefix alone (no heads there). The barrier
		 * keeps clang from sharing the stores above with the body's last
		 * one: the loop would then close through a fall-through edge,
		 * which verifiers before 6.4 reject as a back-edge (seen on 6.1). */
		asm volatile("" ::: "memory");
		for (step = 0; step < SL_GATHER_STEPS_UNROLLED; step++)
			if (sl_gather_step(&x))
				break;
	}
	/* The last event, or the buffer ended inside a range (a short iovec
	 * array). */
	if (cur->fill && !x.failed)
		sl_emit_gathered(s, c);
}

/*
 * Ships one syscall's bytes (stream positions [pos, pos + ret)): the capped
 * prefix of `want` bytes, and on HTTP/2 the heads past it; or, where the
 * kernel reads the stream itself (HTTP/2 for user space that needs no
 * bodies, HTTP/1 past SL_H1_FOLLOW_BYTES), the heads alone. The buffer is
 * one plain buffer `buf` or an iovec array; `first` holds `contig`
 * contiguous bytes at its start.
 */
static __always_inline void sl_capture(struct sl_scratch *s, struct sl_conn *c, __u8 dir, __u64 pos,
				       __u64 ret, __u64 want, __u64 buf, struct iovec *iov,
				       __u64 first, __u64 contig)
{
	struct sl_range *last;

	s->nranges = 1;
	s->ranges[0].off = 0;
	s->ranges[0].len = want;
	sl_protocol_heads(s, c, dir, pos, ret, want, buf, iov, first, contig);
	last = &s->ranges[(s->nranges - 1) & (SL_RANGES - 1)];
	/* The extent shipped: user space steps over the rest by count. */
	s->ev.captured = last->off + last->len;
	if (!s->ev.captured) {
		/* Nothing but body: the bytes still travel as a count. */
		if (sl_emit_chunk(s, 0, 0))
			c->shipped = 1;
	} else if (!iov && s->nranges == 1 && s->ev.captured <= want) {
		/* One range from the start, within the cap: the capped prefix
		 * alone, or the heads alone of a syscall that has one. */
		sl_capture_plain(s, c, buf, s->ev.captured);
	} else {
		sl_capture_ranges(s, c, buf, iov, ret);
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
