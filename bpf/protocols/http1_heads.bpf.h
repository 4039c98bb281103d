/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Heads, not bodies, on HTTP/1: a syscall of more than SL_H1_FOLLOW_BYTES
 * that starts a message (a response with a body of some size, a client
 * reading several pipelined responses at once, a chunked stream) is read by
 * the kernel itself: it ships the message heads, chunk-size lines and
 * trailers, and steps over Content-Length bodies and chunk data by the
 * counts they give, whatever the per-syscall cap. The direction is followed
 * through the syscalls after it until one ends where a message ends;
 * smaller syscalls on a direction not followed are shipped as before (their
 * capped prefix) and cost nothing more. Mirrors the framing of
 * src/protocols/http1/message.ts, conservatively: what it does not
 * understand ends the following (counted), and the syscall's capped prefix
 * then ships instead.
 */
#ifndef SIDELIGHT_HTTP1_HEADS_BPF_H
#define SIDELIGHT_HTTP1_HEADS_BPF_H

#include "http1.bpf.h"

/* Syscalls longer than this (or than the cap, if smaller) that start a
 * message are followed: below it, copying the bytes costs less than
 * reading the head. */
#define SL_H1_FOLLOW_BYTES 1024
/* A direction whose last syscall read shipped more than 1/SL_H1_PAYS of
 * it is read again only every SL_H1_PROBE syscalls within the cap (a run
 * of pipelined requests without bodies gains nothing from it). */
#define SL_H1_PAYS 4
#define SL_H1_PROBE 16
/* Bytes read from user memory at a time while reading heads (a power of two). */
#define SL_H1_BLOCK 256
/* Steps one walk may take: bytes of heads, blocks read, bodies stepped
 * over, iovec elements. A syscall needing more ends the following (counted). */
#define SL_H1_WALK_STEPS (SL_MAX_IOV + 16384)
/* A Content-Length or chunk size above this is not believed. */
#define SL_H1_MAX_BODY (1ULL << 40)

/* Field names and the one coding that matters, as FNV-1a 64 of their
 * lowercase bytes: a name is hashed as it is read, without a buffer. */
#define SL_FNV_BASIS 0xcbf29ce484222325ULL
#define SL_FNV_PRIME 0x100000001b3ULL
#define SL_H1_CONTENT_LENGTH 0x2d69a1e6ee916e7dULL
#define SL_H1_TRANSFER_ENCODING 0x8640bd735e9d802cULL
#define SL_H1_CHUNKED 0xe64e4a5f7769edf3ULL

static __always_inline void sl_h1_message(struct sl_h1_framing *f)
{
	f->state = SL_H1_LINE;
	f->col = 0;
	f->flags = 0;
	f->value = 0;
	f->status = 0;
}

static __always_inline void sl_h1_line(struct sl_h1_framing *f, __u8 state)
{
	f->state = state;
	f->col = 0;
	f->name = SL_FNV_BASIS;
}

/* Ends the run of head bytes at `to` (a stream position): it ships. False
 * when no range is left (counted). */
static __always_inline bool sl_h1_run_end(struct sl_loop_ctx *x, struct sl_h1_walk *w, __u64 to)
{
	__u64 from = w->run;

	if (from >= to)
		return true;
	w->shipped += to - from;
	if (sl_range_add(x->s, from - x->pos, to - x->pos))
		return true;
	sl_stat_add(SL_STAT_HEADS_UNSHIPPED, 1);
	return false;
}

/* The direction is no longer followed: what was read of the run ships. A
 * stream whose rest is not framed (an upgrade, a tunnel, a body read until
 * close) ends the following quietly; anything not understood is counted. */
static __always_inline long sl_h1_stop(struct sl_loop_ctx *x, struct sl_h1_walk *w, bool lost)
{
	sl_h1_run_end(x, w, w->at);
	w->f.state = SL_H1_UNSET;
	if (lost)
		sl_stat_add(SL_STAT_H1_FRAMING_LOST, 1);
	return 1;
}

/* `n` body bytes follow the byte just read: the run of head bytes ends. */
static __always_inline long sl_h1_skip(struct sl_loop_ctx *x, struct sl_h1_walk *w, __u64 n)
{
	if (!sl_h1_run_end(x, w, w->at)) {
		w->f.state = SL_H1_UNSET;
		return 1;
	}
	w->f.next = w->at + n;
	w->f.state = SL_H1_SKIP;
	return 0;
}

/* The empty line ending a head or the trailers was read: what follows. */
static __always_inline long sl_h1_head_end(struct sl_loop_ctx *x, struct sl_h1_walk *w)
{
	struct sl_h1_framing *f = &w->f;
	__u8 fl = f->flags;

	if (fl & SL_H1_F_TRAILER) {
		sl_h1_message(f);
		return 0;
	}
	if (fl & SL_H1_F_RESPONSE) {
		if (f->status == 101)
			return sl_h1_stop(x, w, false);
		/* Interim, No Content and Not Modified responses have no body. */
		if ((f->status >= 100 && f->status < 200) || f->status == 204 || f->status == 304) {
			sl_h1_message(f);
			return 0;
		}
	} else if (fl & SL_H1_F_CONNECT) {
		return sl_h1_stop(x, w, false);
	}
	if (fl & SL_H1_F_CHUNKED) {
		f->value = 0;
		sl_h1_line(f, SL_H1_CHUNK_SIZE);
		return 0;
	}
	if (fl & SL_H1_F_CODING)
		return sl_h1_stop(x, w, false);
	if ((fl & SL_H1_F_LENGTH) && f->value) {
		if (!(fl & SL_H1_F_RESPONSE))
			return sl_h1_skip(x, w, f->value);
		/* A response to HEAD announces a length it does not send, and
		 * which responses answer HEAD only user space knows: a body
		 * that starts like a status line is taken for the next
		 * response (read on as a head, so it ships either way). */
		f->state = SL_H1_BODY_START;
		f->col = 0;
		return 0;
	}
	/* A response without a length runs until the connection closes. */
	if ((fl & SL_H1_F_RESPONSE) && !(fl & SL_H1_F_LENGTH))
		return sl_h1_stop(x, w, false);
	sl_h1_message(f);
	return 0;
}

/* A chunk-size line ended: the chunk's data and CRLF follow, or trailers. */
static __always_inline long sl_h1_chunk_line(struct sl_loop_ctx *x, struct sl_h1_walk *w)
{
	struct sl_h1_framing *f = &w->f;

	if (f->value == 0) {
		f->flags |= SL_H1_F_TRAILER;
		sl_h1_line(f, SL_H1_NAME);
		return 0;
	}
	return sl_h1_skip(x, w, f->value + 2);
}

static __always_inline int sl_hex(__u8 b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	b |= 0x20;
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	return -1;
}

/* One byte of a head, chunk-size line or trailer. */
static __always_inline long sl_h1_byte(struct sl_loop_ctx *x, struct sl_h1_walk *w, __u8 b)
{
	struct sl_h1_framing *f = &w->f;
	__u8 lc = b | 0x20;
	int h;

	switch (f->state) {
	case SL_H1_LINE:
		if (b == '\n') {
			sl_h1_line(f, SL_H1_NAME);
			return 0;
		}
		if (f->col == 0) {
			f->flags |= b == 'H' ? SL_H1_F_H : b == 'C' ? SL_H1_F_CONNECT : 0;
		} else if (f->col == 1) {
			if (b == 'T' && (f->flags & SL_H1_F_H))
				f->flags |= SL_H1_F_RESPONSE;
			if (b != 'O')
				f->flags &= ~SL_H1_F_CONNECT;
		} else if (f->col >= 9 && f->col <= 11 && (f->flags & SL_H1_F_RESPONSE)) {
			/* "HTTP/1.1 200": a status that is not three digits reads as
			 * 1000 and frames like any other. */
			f->status = b >= '0' && b <= '9' ? f->status * 10 + (b - '0') : 1000;
		}
		if (f->col < 255)
			f->col++;
		return 0;
	case SL_H1_NAME:
		if (f->col == 0 && b == '\r') {
			f->state = SL_H1_END_LF;
			return 0;
		}
		if (f->col == 0 && b == '\n')
			return sl_h1_head_end(x, w);
		if (b == '\n')
			return sl_h1_stop(x, w, true);
		if (b == ':') {
			if (f->name == SL_H1_CONTENT_LENGTH && !(f->flags & SL_H1_F_TRAILER)) {
				f->flags |= SL_H1_F_LENGTH;
				f->value = 0;
				sl_h1_line(f, SL_H1_CL_VALUE);
			} else if (f->name == SL_H1_TRANSFER_ENCODING && !(f->flags & SL_H1_F_TRAILER)) {
				sl_h1_line(f, SL_H1_TE_VALUE);
			} else {
				f->state = SL_H1_OTHER;
			}
			return 0;
		}
		/* Names longer than those that matter need not be hashed. */
		if (f->col >= 24) {
			f->state = SL_H1_OTHER;
			return 0;
		}
		f->name = (f->name ^ lc) * SL_FNV_PRIME;
		f->col++;
		return 0;
	case SL_H1_CL_VALUE:
		if (b >= '0' && b <= '9') {
			if (f->value > SL_H1_MAX_BODY)
				return sl_h1_stop(x, w, true);
			f->value = f->value * 10 + (b - '0');
			f->col = 1;
			return 0;
		}
		if (b == '\n') {
			if (!f->col)
				return sl_h1_stop(x, w, true);
			sl_h1_line(f, SL_H1_NAME);
			return 0;
		}
		if (b != ' ' && b != '\t' && b != '\r')
			return sl_h1_stop(x, w, true);
		return 0;
	case SL_H1_TE_VALUE:
		/* The last coding decides: hashed token by token. */
		if (b == '\n') {
			f->flags &= ~(SL_H1_F_CHUNKED | SL_H1_F_CODING);
			f->flags |= f->name == SL_H1_CHUNKED ? SL_H1_F_CHUNKED : SL_H1_F_CODING;
			sl_h1_line(f, SL_H1_NAME);
		} else if (b == ',') {
			f->name = SL_FNV_BASIS;
		} else if (b != ' ' && b != '\t' && b != '\r') {
			f->name = (f->name ^ lc) * SL_FNV_PRIME;
		}
		return 0;
	case SL_H1_OTHER:
		if (b == '\n')
			sl_h1_line(f, SL_H1_NAME);
		return 0;
	case SL_H1_END_LF:
		if (b != '\n')
			return sl_h1_stop(x, w, true);
		return sl_h1_head_end(x, w);
	case SL_H1_CHUNK_SIZE:
		h = sl_hex(b);
		if (h >= 0) {
			if (f->col >= 10)
				return sl_h1_stop(x, w, true);
			f->value = f->value * 16 + h;
			f->col++;
			return 0;
		}
		if (!f->col)
			return sl_h1_stop(x, w, true);
		if (b == '\n')
			return sl_h1_chunk_line(x, w);
		if (b == ';' || b == ' ' || b == '\t' || b == '\r') {
			f->state = SL_H1_CHUNK_EXT;
			return 0;
		}
		return sl_h1_stop(x, w, true);
	case SL_H1_CHUNK_EXT:
		if (b == '\n')
			return sl_h1_chunk_line(x, w);
		return 0;
	case SL_H1_BODY_START:
		f->value--;
		/* "HTTP/1." as a little-endian word, a byte per column. */
		if (b != (__u8)(0x2e312f50545448ULL >> ((f->col & 7) * 8))) {
			if (f->value)
				return sl_h1_skip(x, w, f->value);
			sl_h1_message(f);
		} else if (++f->col == 7) {
			f->flags = SL_H1_F_H | SL_H1_F_RESPONSE;
			f->value = 0;
			f->status = 0;
			f->state = SL_H1_LINE;
		} else if (!f->value) {
			sl_h1_message(f);
		}
		return 0;
	}
	return sl_h1_stop(x, w, true);
}

#define SL_ONES 0x0101010101010101ULL
#define SL_HIGHS 0x8080808080808080ULL
#define SL_LOWER 0x2020202020202020ULL /* ORed in: ASCII letters to lower case */
/* Field names as little-endian words, lower case. */
#define SL_W_CONTENT_ 0x2d746e65746e6f63ULL  /* "content-" */
#define SL_W_LENGTH 0x3a6874676e656cULL      /* "length:" (7 bytes) */
#define SL_W_TRANSFER 0x726566736e617274ULL  /* "transfer" */
#define SL_W_ENCODIN 0x6e69646f636e652dULL   /* "-encodin" */
#define SL_W_NCODING 0x3a676e69646f636eULL   /* "ncoding:" */

static __always_inline __u64 sl_word(struct sl_scratch *s, __u64 o)
{
	return *(__u64 *)(s->payload + (o & (2 * SL_H1_BLOCK - 1)));
}

/*
 * Most head bytes need no look: the rest of a line after its name, or
 * after a status line's code. Eight at a time, the walk jumps to the next
 * LF (or to it and the bytewise step). At a field line's start, a name
 * that matters is told by comparing words. Returns -1 when the byte at
 * `o` (in the block) needs the bytewise step.
 */
static __always_inline long sl_h1_fast(struct sl_scratch *s, struct sl_h1_walk *w, __u64 at, __u64 o)
{
	struct sl_h1_framing *f = &w->f;
	__u64 v, m, k;

	if (f->state == SL_H1_OTHER || f->state == SL_H1_CHUNK_EXT ||
	    (f->state == SL_H1_LINE && f->col >= 12)) {
		if (o + 8 > w->blen)
			return -1;
		v = sl_word(s, o) ^ (SL_ONES * '\n');
		m = (v - SL_ONES) & ~v & SL_HIGHS;
		/* The lowest byte flagged is exact: its index, 0 to 8. */
		k = m ? (((m & -m) >> 7) * 0x0001020304050607ULL) >> 56 : 8;
		if (!k)
			return -1;
		w->at = at + k;
		f->col = 255;
		return 0;
	}
	if (f->state != SL_H1_NAME || f->col != 0 || (f->flags & SL_H1_F_TRAILER))
		return -1;
	if (o + 18 > w->blen)
		return -1;
	v = sl_word(s, o) | SL_LOWER;
	if (v == SL_W_CONTENT_ && ((sl_word(s, o + 8) | SL_LOWER) & 0xffffffffffffffULL) == SL_W_LENGTH) {
		f->flags |= SL_H1_F_LENGTH;
		f->value = 0;
		sl_h1_line(f, SL_H1_CL_VALUE);
		w->at = at + 15;
		return 0;
	}
	if (v == SL_W_TRANSFER && (sl_word(s, o + 8) | SL_LOWER) == SL_W_ENCODIN &&
	    (sl_word(s, o + 10) | SL_LOWER) == SL_W_NCODING) {
		sl_h1_line(f, SL_H1_TE_VALUE);
		w->at = at + 18;
		return 0;
	}
	/* The head's end (CR or LF here) is read bytewise; any other line
	 * does not matter. */
	if ((v & 0xff) == ('\r' | 0x20) || (v & 0xff) == ('\n' | 0x20))
		return -1;
	f->state = SL_H1_OTHER;
	return 0;
}

/*
 * One step of the walk: steps over body bytes, loads the next iovec
 * element, reads the next block of bytes, jumps over bytes that need no
 * look, or reads one byte of a head. Returns 1 when done.
 */
static __always_inline long sl_h1_walk_step(struct sl_loop_ctx *x)
{
	struct sl_scratch *s = x->s;
	struct sl_h1_walk *w = &s->h1;
	struct sl_h1_framing *f = &w->f;
	__u64 at = w->at, n, o;
	long fast;

	if (at >= x->end)
		return 1;
	if (f->state == SL_H1_SKIP) {
		if (f->next >= x->end) {
			w->at = x->end;
			return 1;
		}
		w->at = w->run = f->next;
		if ((f->flags & (SL_H1_F_CHUNKED | SL_H1_F_TRAILER)) == SL_H1_F_CHUNKED) {
			f->value = 0;
			sl_h1_line(f, SL_H1_CHUNK_SIZE);
		} else {
			sl_h1_message(f);
		}
		return 0;
	}
	if (at >= w->bstart + w->blen) {
		if (at >= w->e.start + w->e.len)
			return sl_entry_next(&w->e, x->iov) ? 0 : sl_h1_stop(x, w, true);
		n = w->e.start + w->e.len - at;
		if (n > x->end - at)
			n = x->end - at;
		if (n > SL_H1_BLOCK)
			n = SL_H1_BLOCK;
		/* Verifiers before 6.8 learn no bound from comparing two unknown
		 * registers: the mask gives one. */
		barrier_var(n);
		if (bpf_probe_read_user(s->payload, n & (2 * SL_H1_BLOCK - 1),
					(void *)(w->e.base + (at - w->e.start))))
			return sl_h1_stop(x, w, true);
		w->bstart = at;
		w->blen = n;
		return 0;
	}
	o = at - w->bstart;
	if (f->state == SL_H1_NAME && f->col == 0 && o + 18 > w->blen &&
	    w->bstart + w->blen < w->e.start + w->e.len && w->bstart + w->blen < x->end) {
		/* A line starts near the block's end: the next block starts
		 * with it, so its name can be told at once. */
		w->bstart = at;
		w->blen = 0;
		return 0;
	}
	fast = sl_h1_fast(s, w, at, o);
	if (fast >= 0)
		return fast;
	w->at = at + 1;
	return sl_h1_byte(x, w, s->payload[o & (SL_H1_BLOCK - 1)]);
}

#if SL_BPF_LOOP
static long sl_h1_walk_cb(__u32 i, void *ctx)
{
	return sl_h1_walk_step(ctx);
}
#endif

/* Whether a syscall's first bytes (`contig` contiguous at `first`) start
 * an HTTP/1 message. */
static __always_inline bool sl_h1_starts(__u64 first, __u64 contig)
{
	__u8 b[8] = {};

	if (contig < sizeof(b) || bpf_probe_read_user(b, sizeof(b), (void *)first))
		return false;
	return sl_is_http1(b, sizeof(b));
}

/* Whether the kernel reads this syscall (stream positions [pos, pos +
 * ret)) itself: the direction is followed, or the syscall is long and
 * starts a message. Then only heads ship. Needs bpf_loop. */
static __always_inline bool sl_h1_follows(struct sl_conn *c, __u8 dir, __u64 pos, __u64 ret,
					  __u64 first, __u64 contig)
{
	struct sl_h1_framing *h = &c->h1[dir & 1];
	__u64 least = sl_syscall_cap < SL_H1_FOLLOW_BYTES ? sl_syscall_cap : SL_H1_FOLLOW_BYTES;

	if (!SL_HAS_LOOP())
		return false;
	if (h->state != SL_H1_UNSET && h->at != pos) {
		/* Bytes of this direction went unwalked (a syscall not seen,
		 * or two at once). */
		h->state = SL_H1_UNSET;
		sl_stat_add(SL_STAT_H1_FRAMING_LOST, 1);
	}
	if (h->state == SL_H1_UNSET) {
		if (ret <= least)
			return false;
		/* Within the cap, reading heads pays only where bodies are
		 * large: as judged by the last syscall read, tried again every
		 * SL_H1_PROBE syscalls. Past the cap it is needed. */
		if (ret <= sl_syscall_cap && !h->pays && (h->probe++ % SL_H1_PROBE))
			return false;
		if (!sl_h1_starts(first, contig))
			return false;
		sl_h1_message(h);
	}
	return true;
}

/* Reads a followed direction's syscall (stream positions [pos, pos +
 * ret)) and adds its heads to the ranges to ship. The buffer is one plain
 * buffer (iov NULL) or an iovec array. Where the framing is lost on the
 * way, the capped prefix (`want` bytes) ships instead. */
static __always_inline void sl_h1_heads(struct sl_scratch *s, struct sl_conn *c, __u8 dir, __u64 pos,
					__u64 ret, __u64 want, __u64 buf, struct iovec *iov)
{
	struct sl_h1_framing *h = &c->h1[dir & 1];
	struct sl_h1_walk *w = &s->h1;
	struct sl_loop_ctx x = { .s = s, .iov = iov, .pos = pos, .end = pos + ret };

	__builtin_memcpy(&w->f, h, sizeof(*h));
	w->at = w->run = pos;
	w->bstart = w->blen = w->shipped = 0;
	sl_entry_first(&w->e, buf, iov, pos, ret);
	SL_LOOP(SL_H1_WALK_STEPS, sl_h1_walk_cb, &x);
	if (w->f.state != SL_H1_UNSET && w->at < x.end) {
		/* Out of steps. */
		sl_h1_stop(&x, w, true);
	} else if (w->f.state != SL_H1_UNSET && w->f.state != SL_H1_SKIP) {
		/* The syscall ended inside a run of head bytes. */
		sl_h1_run_end(&x, w, x.end);
	}
	if (w->f.state == SL_H1_UNSET) {
		/* Lost on the way, or the rest is not framed (an upgrade, a
		 * body until close): the syscall ships its capped prefix
		 * alone, as without the walk. */
		s->nranges = 1;
		s->ranges[0].off = 0;
		s->ranges[0].len = want;
	}
	w->f.pays = w->shipped * SL_H1_PAYS < ret;
	/* A message ends with the syscall: the next one starts a message,
	 * and is found so if it has to be. */
	if ((w->f.state == SL_H1_LINE && w->f.col == 0) ||
	    (w->f.state == SL_H1_SKIP && w->f.next == x.end && !(w->f.flags & SL_H1_F_CHUNKED)))
		w->f.state = SL_H1_UNSET;
	w->f.at = x.end;
	__builtin_memcpy(h, &w->f, sizeof(*h));
}

#endif
