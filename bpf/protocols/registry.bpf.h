/* SPDX-License-Identifier: Apache-2.0 */
/* Every protocol the kernel tells apart, in the order it tries them, and
 * what it ships of each past the per-syscall cap: the kernel half of
 * src/protocols/registry.ts. A protocol adds its header here and its class
 * to enum sl_class (events.h); capture.bpf.h does not change. */
#ifndef SIDELIGHT_PROTOCOLS_REGISTRY_BPF_H
#define SIDELIGHT_PROTOCOLS_REGISTRY_BPF_H

#include "http1.bpf.h"
#include "http1_heads.bpf.h"
#include "http2.bpf.h"
#include "http2_heads.bpf.h"
#include "tls.bpf.h"

/*
 * A stream's class from its first bytes (`n` of them in `head`; `contig`
 * bytes are contiguous at user address `first`); SL_CLASS_UNKNOWN when they
 * do not tell yet. Connections running before the agent (role unknown) may
 * be judged HTTP/2 from frame headers: they will never show a preface. TLS
 * records count only on a socket (`tls_ok`).
 */
static __always_inline __u8 sl_classify(const __u8 *head, __u32 n, __u64 first, __u64 contig, __u8 role, bool tls_ok)
{
	if (sl_is_http1(head, n))
		return SL_CLASS_HTTP1;
	if (sl_is_http2_preface(head, n))
		return SL_CLASS_HTTP2;
	if (tls_ok && contig >= 5 && sl_is_tls_record(head, role))
		return SL_CLASS_TLS;
	if (role == SL_ROLE_UNKNOWN && sl_is_http2_frames(head, first, contig))
		return SL_CLASS_HTTP2;
	return SL_CLASS_UNKNOWN;
}

/*
 * Where the kernel reads a protocol's framing itself, the heads of one
 * syscall past (or instead of) the capped prefix in ranges[0]: HTTP/1 past
 * SL_H1_FOLLOW_BYTES, and HTTP/2 (heads alone when user space needs no
 * bodies).
 */
static __always_inline void sl_protocol_heads(struct sl_scratch *s, struct sl_conn *c, __u8 dir, __u64 pos, __u64 ret,
					      __u64 want, __u64 buf, struct iovec *iov, __u64 first, __u64 contig)
{
	if (c->klass == SL_CLASS_HTTP1 && sl_h1_follows(c, dir, pos, ret, first, contig)) {
		s->ranges[0].len = 0;
		sl_h1_heads(s, c, dir, pos, ret, want, buf, iov);
	} else if (c->klass == SL_CLASS_HTTP2) {
		if (sl_h2_heads_alone(c, dir, pos, first, contig))
			s->ranges[0].len = 0;
		sl_h2_heads(s, c, dir, pos, ret, s->ranges[0].len, buf, iov, first, contig);
	}
}

#endif
