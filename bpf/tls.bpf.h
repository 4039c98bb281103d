/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS sessions and their sockets. A session is one SSL object of one
 * process; its plaintext is read at the library (tls.bpf.c). It is bound to
 * the TCP socket under it by either
 *  - a socket syscall nested in one of its SSL calls (libraries that do their
 *    own socket I/O: curl, python, nginx), or
 *  - for memory-BIO callers (Node: the library never touches the socket), the
 *    thread's next write of TLS records on a socket no session has yet: the
 *    caller writes the records the SSL call produced right after it (the
 *    handshake's first flight included).
 */
#ifndef SIDELIGHT_TLS_BPF_H
#define SIDELIGHT_TLS_BPF_H

#include "conn.bpf.h"

static __always_inline void sl_tls_bind(struct sl_tls_session *sess, struct sock *sk,
					struct sl_conn *c, __u8 how)
{
	struct sl_tls_bind_event *e;
	bool filtered = c->klass == SL_CLASS_OTHER;

	sess->sk = (__u64)sk;
	sess->sock_id = c->id;
	sess->c.role = c->role;
	sess->c.tuple = c->tuple;
	if (filtered) {
		/* Left out by a filter: so is the session riding on it. */
		sess->c.klass = SL_CLASS_OTHER;
	} else {
		c->klass = SL_CLASS_TLS;
		c->tries = SL_TLS_SOCKET_BOUND;
		/* Its close now ends the session: ship it. */
		c->shipped = 1;
	}
	e = bpf_ringbuf_reserve(&sl_events, sizeof(*e), 0);
	if (!e) {
		sl_stat_add(SL_STAT_RINGBUF_DROPS, 1);
		return;
	}
	sl_header_fill(&e->hdr, SL_EV_TLS_BIND, 0, sizeof(*e));
	e->tls_id = sess->c.id;
	e->conn_id = c->id;
	e->tuple = c->tuple;
	e->role = c->role;
	e->how = how;
	e->filtered = filtered;
	e->_pad = 0;
	e->_pad2 = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, sl_ring_flags(sizeof(*e)));
}

/*
 * A socket syscall moved TLS records, or ran inside an SSL call: it never
 * ships anything, but may tell a session its socket.
 */
static __always_inline void sl_tls_socket_io(struct sock *sk, struct sl_conn *c, __u8 dir,
					     __u64 pid_tgid)
{
	struct sl_tls_call *call = bpf_map_lookup_elem(&sl_tls_calls, &pid_tgid);
	struct sl_tls_session *sess;
	struct sl_tls_key *pending, key;

	if (call) {
		/* The SSL call's return binds it (tls.bpf.c). */
		call->sk = (__u64)sk;
		if (c->klass == SL_CLASS_UNKNOWN) {
			c->klass = SL_CLASS_TLS;
			c->tries = 0;
			sl_stat_add(SL_STAT_CONN_TLS, 1);
		}
		return;
	}
	if (dir != SL_DIR_EGRESS || (c->klass == SL_CLASS_TLS && c->tries == SL_TLS_SOCKET_BOUND))
		return;
	pending = bpf_map_lookup_elem(&sl_tls_pending, &pid_tgid);
	if (!pending)
		return;
	key = *pending;
	bpf_map_delete_elem(&sl_tls_pending, &pid_tgid);
	sess = bpf_map_lookup_elem(&sl_tls_sessions, &key);
	if (sess && !sess->sk)
		sl_tls_bind(sess, sk, c, SL_TLS_BY_NEXT_WRITE);
}

#endif /* SIDELIGHT_TLS_BPF_H */
