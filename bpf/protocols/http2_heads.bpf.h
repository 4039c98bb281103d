/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Heads, not bodies: past the per-syscall cap, an HTTP/2 syscall still ships
 * every frame header, every non-DATA frame whole (header blocks, settings,
 * resets) and the first bytes of each DATA payload (its gRPC message
 * prefix); the rest of the DATA payload is skipped by count. So a server
 * that batches many streams into one write is reported whole without its
 * bodies being copied. The framing is followed per direction across
 * syscalls (struct sl_h2_framing); mirrors src/protocols/http2/frames.ts.
 */
#ifndef SIDELIGHT_HTTP2_HEADS_BPF_H
#define SIDELIGHT_HTTP2_HEADS_BPF_H

#include "http2.bpf.h"

#define SL_H2_TYPE_DATA 0
/* DATA payload bytes shipped past the cap: an optional pad length and the
 * 5-byte gRPC message prefix. */
#define SL_H2_DATA_HEAD 6
/* Frames one syscall's walk may cross, plus the iovec entries it steps
 * through; a longer syscall loses the direction's framing (counted). */
#define SL_H2_WALK_STEPS (SL_MAX_IOV + 256)
/* Bytes of each direction whose DATA payloads ship (within the cap) before
 * user space has said whether the connection carries gRPC. */
#define SL_H2_BODY_GRACE (64 * 1024)

static __always_inline void sl_h2_lose(struct sl_h2_framing *h)
{
	h->state = SL_H2_LOST;
	sl_stat_add(SL_STAT_H2_FRAMING_LOST, 1);
}

/* A direction's first HTTP/2 syscall: where its frames start. At the
 * stream's start, after the client preface if there is one; later (the
 * verdict came late, or the connection predates the agent), at this
 * syscall's start if a sane frame header is there. `first` holds `contig`
 * contiguous bytes. */
static __always_inline void sl_h2_start(struct sl_h2_framing *h, __u64 pos, __u64 first, __u64 contig)
{
	__u8 b[16] = {};

	if (contig >= sizeof(b))
		bpf_probe_read_user(b, sizeof(b), (void *)first);
	else if (contig >= SL_H2_FRAME_HEADER)
		bpf_probe_read_user(b, SL_H2_FRAME_HEADER, (void *)first);
	else if (contig)
		bpf_probe_read_user(b, 1, (void *)first);
	h->have = 0;
	h->state = SL_H2_WALKING;
	h->from_start = pos == 0;
	if (pos == 0 && contig >= 16 && sl_is_http2_preface(b, 16))
		h->next = 24;
	else if (pos == 0 && b[0] != 'P')
		h->next = 0;
	else if (pos == 0)
		/* A preface written in pieces shorter than its test: no first
		 * frame is 5 MiB long, so this is not a frame header. */
		sl_h2_lose(h);
	else if (contig >= SL_H2_FRAME_HEADER && sl_h2_frame_len(b) >= 0)
		h->next = pos;
	else
		sl_h2_lose(h);
}

/*
 * One step of the walk over a syscall's frames: loads the next iovec entry,
 * or reads (part of) a frame header and, once it is whole, adds the frame's
 * heads that lie past the capped prefix to the ranges to ship. A header may
 * be cut by an iovec entry's end or by the syscall's end (then the next
 * syscall finishes it). Returns 1 when done.
 */
static __always_inline long sl_h2_walk_step(struct sl_loop_ctx *x)
{
	struct sl_scratch *s = x->s;
	struct sl_h2_walk *w = &s->walk;
	__u64 need = w->at + w->fill, k, len, keep, from, to;

	if (need >= x->end)
		return 1;
	if (need >= w->e.start + w->e.len)
		return !sl_entry_next(&w->e, x->iov);
	if (w->fill < SL_H2_FRAME_HEADER) {
		k = SL_H2_FRAME_HEADER - w->fill;
		if (k > w->e.start + w->e.len - need)
			k = w->e.start + w->e.len - need;
		if (k > x->end - need)
			k = x->end - need;
		/* clang knows k <= 9 and would drop the mask; verifiers before 6.8
		 * learn no bound from comparing two unknown registers. */
		barrier_var(k);
		if (bpf_probe_read_user(w->hdr + (w->fill & 15), k & 15,
					(void *)(w->e.base + (need - w->e.start))))
			return 1;
		w->fill += k;
		if (w->fill < SL_H2_FRAME_HEADER)
			return 0;
	}
	/* A whole header: the frame is [at, at + 9 + len). */
	len = ((__u64)w->hdr[0] << 16) | ((__u64)w->hdr[1] << 8) | w->hdr[2];
	keep = w->at + SL_H2_FRAME_HEADER +
	       (w->hdr[3] != SL_H2_TYPE_DATA ? len : len < SL_H2_DATA_HEAD ? len : SL_H2_DATA_HEAD);
	from = w->at > x->cap ? w->at : x->cap;
	to = keep < x->end ? keep : x->end;
	if (from < to && x->room && !sl_range_add(s, from - x->pos, to - x->pos)) {
		x->room = false;
		sl_stat_add(SL_STAT_HEADS_UNSHIPPED, 1);
	}
	w->at += SL_H2_FRAME_HEADER + len;
	w->fill = 0;
	return 0;
}

#if SL_BPF_LOOP
static long sl_h2_walk_cb(__u32 i, void *ctx)
{
	return sl_h2_walk_step(ctx);
}
#endif

/* Walks the frames of one syscall (stream positions [pos, pos + ret)) from
 * the direction's framing; the buffer is one plain buffer (iov NULL) or an
 * iovec array. Needs bpf_loop: without it only the capped prefix ships. */
static __always_inline void sl_h2_walk(struct sl_scratch *s, struct sl_h2_framing *h, __u64 pos,
				       __u64 ret, __u64 want, __u64 buf, struct iovec *iov)
{
	struct sl_h2_walk *w = &s->walk;
	struct sl_loop_ctx x = {
		.s = s, .iov = iov, .pos = pos, .end = pos + ret, .cap = pos + want, .room = true,
	};

	if (h->next + h->have < pos || (h->have && h->next + h->have != pos)) {
		/* Bytes of this direction were not walked (a syscall went unseen). */
		sl_h2_lose(h);
		return;
	}
	w->at = h->next;
	w->fill = h->have;
	__builtin_memcpy(w->hdr, h->head, sizeof(h->head));
	sl_entry_first(&w->e, buf, iov, pos, ret);
	SL_LOOP(SL_H2_WALK_STEPS, sl_h2_walk_cb, &x);
	if (w->at + w->fill < x.end) {
		/* Out of steps, or the buffer could not be read to its end. */
		sl_h2_lose(h);
		return;
	}
	h->next = w->at;
	h->have = w->fill;
	__builtin_memcpy(h->head, w->hdr, sizeof(h->head));
}

/* Whether only heads ship, from the syscall's first byte: user space said
 * the connection carries no gRPC, or it has not said yet and the direction
 * is past its first SL_H2_BODY_GRACE bytes. User space reads a
 * connection's first request some milliseconds after it is made, and a
 * burst of large responses must not fill the ring meanwhile; the grace
 * keeps a gRPC connection's first messages whole. Asked once per syscall
 * until it says; needs the frame walk (bpf_loop). */
static __always_inline bool sl_h2_heads_only(struct sl_conn *c, __u64 pos)
{
	__u8 *said;

	if (!SL_HAS_LOOP())
		return false;
	if (!c->h2_said && (said = bpf_map_lookup_elem(&sl_h2_bodies, &c->id)))
		c->h2_said = *said;
	return c->h2_said == SL_H2_HEADS || (!c->h2_said && pos >= SL_H2_BODY_GRACE);
}

/* Whether the direction's frames are followed (found at its first HTTP/2
 * syscall). */
static __always_inline bool sl_h2_following(struct sl_conn *c, __u8 dir, __u64 pos, __u64 first,
					    __u64 contig)
{
	struct sl_h2_framing *h = &c->h2[dir & 1];

	if (!SL_HAS_LOOP())
		return false;
	if (h->state == SL_H2_UNSET)
		sl_h2_start(h, pos, first, contig);
	return h->state == SL_H2_WALKING;
}

/* Whether only heads may ship: the direction's frames must be followed
 * from its first byte. Frames found mid-stream (a connection older than the
 * agent) may be misjudged, and then the capped prefix is what lets user
 * space find them again at a syscall's start. */
static __always_inline bool sl_h2_heads_alone(struct sl_conn *c, __u8 dir, __u64 pos, __u64 first,
					      __u64 contig)
{
	return sl_h2_heads_only(c, pos) && sl_h2_following(c, dir, pos, first, contig) &&
	       c->h2[dir & 1].from_start;
}

/* The ranges of an HTTP/2 syscall to ship: the capped prefix, then heads. */
static __always_inline void sl_h2_heads(struct sl_scratch *s, struct sl_conn *c, __u8 dir, __u64 pos,
					__u64 ret, __u64 want, __u64 buf, struct iovec *iov,
					__u64 first, __u64 contig)
{
	struct sl_h2_framing *h = &c->h2[dir & 1];

	if (sl_h2_following(c, dir, pos, first, contig))
		sl_h2_walk(s, h, pos, ret, want, buf, iov);
}

#endif
