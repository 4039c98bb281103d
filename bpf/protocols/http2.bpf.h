/* SPDX-License-Identifier: Apache-2.0 */
/* Does a payload start an HTTP/2 connection? (mirrors src/protocols/http2) */
#ifndef SIDELIGHT_HTTP2_BPF_H
#define SIDELIGHT_HTTP2_BPF_H

/* RFC 9113 §3.4: every client connection starts "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n". */
static __always_inline bool sl_is_http2_preface(const __u8 *p, __u32 len)
{
	if (len < 16)
		return false;
	return p[0] == 'P' && p[1] == 'R' && p[2] == 'I' && p[3] == ' ' && p[4] == '*' &&
	       p[5] == ' ' && p[6] == 'H' && p[7] == 'T' && p[8] == 'T' && p[9] == 'P' &&
	       p[10] == '/' && p[11] == '2' && p[12] == '.' && p[13] == '0';
}

#endif
