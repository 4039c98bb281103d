/* SPDX-License-Identifier: Apache-2.0 */
/* Does a payload start an HTTP/1.x message? (mirrors src/protocols/http1) */
#ifndef SIDELIGHT_HTTP1_BPF_H
#define SIDELIGHT_HTTP1_BPF_H

#define SL_FOURCC(a, b, c, d) ((__u32)(a) | ((__u32)(b) << 8) | ((__u32)(c) << 16) | ((__u32)(d) << 24))

static __always_inline bool sl_is_http1(const __u8 *p, __u32 len)
{
	__u32 w;

	if (len < 8)
		return false;
	w = SL_FOURCC(p[0], p[1], p[2], p[3]);
	switch (w) {
	case SL_FOURCC('G', 'E', 'T', ' '):
	case SL_FOURCC('P', 'U', 'T', ' '):
	case SL_FOURCC('P', 'O', 'S', 'T'):
	case SL_FOURCC('H', 'E', 'A', 'D'):
	case SL_FOURCC('D', 'E', 'L', 'E'):
	case SL_FOURCC('P', 'A', 'T', 'C'):
	case SL_FOURCC('O', 'P', 'T', 'I'):
	case SL_FOURCC('C', 'O', 'N', 'N'):
	case SL_FOURCC('T', 'R', 'A', 'C'):
		return true;
	case SL_FOURCC('H', 'T', 'T', 'P'):
		/* "HTTP/1." : a status line */
		return p[4] == '/' && p[5] == '1' && p[6] == '.';
	}
	return false;
}

#endif
