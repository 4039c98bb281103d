/* SPDX-License-Identifier: Apache-2.0 */
/* Does a payload start an HTTP/2 connection, or frames of a running one?
 * (mirrors src/protocols/http2/frames.ts) */
#ifndef SIDELIGHT_HTTP2_BPF_H
#define SIDELIGHT_HTTP2_BPF_H

#define SL_H2_FRAME_HEADER 9
/* SETTINGS_MAX_FRAME_SIZE's initial value: a running connection is judged
 * only on frames no bigger, which keeps the test strict. */
#define SL_H2_DEFAULT_MAX_FRAME 16384

/* RFC 9113 §3.4: every client connection starts "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n". */
static __always_inline bool sl_is_http2_preface(const __u8 *p, __u32 len)
{
	if (len < 16)
		return false;
	return p[0] == 'P' && p[1] == 'R' && p[2] == 'I' && p[3] == ' ' && p[4] == '*' &&
	       p[5] == ' ' && p[6] == 'H' && p[7] == 'T' && p[8] == 'T' && p[9] == 'P' &&
	       p[10] == '/' && p[11] == '2' && p[12] == '.' && p[13] == '0';
}

/* Frame length if p holds a header a conforming peer could send (known
 * type, only its flags, reserved bit clear, §6's stream and length rules),
 * else -1. */
static __always_inline int sl_h2_frame_len(const __u8 *p)
{
	__u32 len = ((__u32)p[0] << 16) | ((__u32)p[1] << 8) | p[2];
	__u8 type = p[3], flags = p[4];
	bool stream0 = !(p[5] | p[6] | p[7] | p[8]);
	bool ok;

	if (len > SL_H2_DEFAULT_MAX_FRAME || (p[5] & 0x80))
		return -1;
	switch (type) {
	case 0: /* DATA */
		ok = !stream0 && !(flags & ~0x09);
		break;
	case 1: /* HEADERS */
		ok = !stream0 && !(flags & ~0x2d);
		break;
	case 2: /* PRIORITY */
		ok = !stream0 && !flags && len == 5;
		break;
	case 3: /* RST_STREAM */
		ok = !stream0 && !flags && len == 4;
		break;
	case 4: /* SETTINGS */
		ok = stream0 && !(flags & ~0x01) && len % 6 == 0 && (!(flags & 1) || len == 0);
		break;
	case 6: /* PING */
		ok = stream0 && !(flags & ~0x01) && len == 8;
		break;
	case 7: /* GOAWAY */
		ok = stream0 && !flags && len >= 8;
		break;
	case 8: /* WINDOW_UPDATE */
		ok = !flags && len == 4;
		break;
	case 9: /* CONTINUATION */
		ok = !stream0 && !(flags & ~0x04);
		break;
	default: /* PUSH_PROMISE and extensions: too rare to judge on */
		ok = false;
	}
	return ok ? (int)len : -1;
}

/*
 * A running connection's payload (attached after it started): `head` holds
 * its first bytes at user address `buf`, `contig` bytes are contiguous
 * there. HTTP/2 if a sane frame header starts it and the frame either ends
 * exactly at `contig` or is followed by another sane header.
 */
static __always_inline bool sl_is_http2_frames(const __u8 *head, __u64 buf, __u64 contig)
{
	__u8 next[SL_H2_FRAME_HEADER];
	int len;
	__u64 end;

	if (contig < SL_H2_FRAME_HEADER)
		return false;
	len = sl_h2_frame_len(head);
	if (len < 0)
		return false;
	end = SL_H2_FRAME_HEADER + (__u64)len;
	if (end == contig)
		return true;
	if (end + SL_H2_FRAME_HEADER > contig)
		return false;
	if (bpf_probe_read_user(next, sizeof(next), (void *)(buf + end)))
		return false;
	return sl_h2_frame_len(next) >= 0;
}

#endif
