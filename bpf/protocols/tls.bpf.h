/* SPDX-License-Identifier: Apache-2.0 */
/* Does a payload start with a TLS record? Such bytes are ciphertext: the
 * plaintext is read at the TLS library (tls.bpf.c), never from the socket. */
#ifndef SIDELIGHT_TLS_RECORD_BPF_H
#define SIDELIGHT_TLS_RECORD_BPF_H

#define SL_TLS_HANDSHAKE 0x16
#define SL_TLS_MAX_RECORD (16384 + 2048)

static __always_inline bool sl_is_tls_record(const __u8 *p, __u8 role)
{
	__u16 len = ((__u16)p[3] << 8) | p[4];

	/* Version 3.x (SSL 3.0 to TLS 1.3 all say 3.1..3.4 on the wire). */
	if (p[1] != 3 || p[2] > 4 || len == 0 || len > SL_TLS_MAX_RECORD)
		return false;
	/* A new connection opens with a handshake record (OpenSSL reads the
	 * 5-byte header alone first, so the message type may not be there)... */
	if (p[0] == SL_TLS_HANDSHAKE)
		return true;
	/* ...one opened before the agent may show any record type:
	 * change_cipher_spec, alert, handshake or application_data. */
	return role == SL_ROLE_UNKNOWN && p[0] >= 0x14 && p[0] <= 0x17;
}

#endif
