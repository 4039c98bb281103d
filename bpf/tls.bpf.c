// SPDX-License-Identifier: Apache-2.0
/*
 * TLS plaintext at the library: uprobes on OpenSSL's SSL_read, SSL_write and
 * their _ex forms (1.1 and 3.x; the same symbols in libssl and in binaries
 * that link it statically and export it, such as node). Entry saves the
 * buffer; return ships the bytes the call moved, as data events of the TLS
 * session (SL_EV_F_TLS), placed in the session's own plaintext stream. No
 * library struct is read, so no per-version offsets are needed.
 * Attached per library file by the loader (sl_loader_attach_tls).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "capture.bpf.h"
#include "tls.bpf.h"

static __always_inline int sl_tls_enter(struct pt_regs *ctx, __u8 dir, bool ex)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sl_tls_call call = {};

	if (!sl_pid_wanted(pid_tgid >> 32))
		return 0;
	call.ssl = PT_REGS_PARM1(ctx);
	call.buf = PT_REGS_PARM2(ctx);
	call.count_ptr = ex ? PT_REGS_PARM4(ctx) : 0;
	call.dir = dir;
	/* Attach cookies came with 5.15; without them every library is
	 * taken for one that does its own socket I/O. */
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_attach_cookie))
		call.cookie = bpf_get_attach_cookie(ctx);
	bpf_map_update_elem(&sl_tls_calls, &pid_tgid, &call, BPF_ANY);
	return 0;
}

/* The session of an SSL object, created on its first call. A binding whose
 * socket is gone (closed, or its entry evicted) is stale: the SSL object's
 * memory now holds another session, which starts afresh. */
static __always_inline struct sl_tls_session *sl_tls_session_get(struct sl_tls_key *key)
{
	struct sl_tls_session *sess = bpf_map_lookup_elem(&sl_tls_sessions, key);
	struct sl_tls_session fresh = {};
	struct sl_conn *sc;

	if (sess) {
		if (!sess->sk)
			return sess;
		sc = bpf_map_lookup_elem(&sl_conns, &sess->sk);
		if (sc && sc->id == sess->sock_id)
			return sess;
		bpf_map_delete_elem(&sl_tls_sessions, key);
	}
	fresh.c.id = sl_next_conn_id();
	if (sl_process_skipped()) {
		fresh.c.klass = SL_CLASS_OTHER;
		sl_stat_add(SL_STAT_CONN_FILTERED, 1);
	}
	bpf_map_update_elem(&sl_tls_sessions, key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sl_tls_sessions, key);
}

static __always_inline int sl_tls_exit(struct pt_regs *ctx, __u8 dir, __u8 sys)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sl_tls_call *callp = bpf_map_lookup_elem(&sl_tls_calls, &pid_tgid);
	struct sl_tls_key key = {};
	struct sl_tls_session *sess;
	struct sl_tls_call call;
	struct sl_scratch *s;
	struct sl_conn *sc;
	long ret = PT_REGS_RC(ctx);
	__u64 n = 0, pos, want;

	/* None: the agent's own call, or the second of two probes on one
	 * function (a library reached through two overlay views). */
	if (!callp)
		return 0;
	call = *callp;
	bpf_map_delete_elem(&sl_tls_calls, &pid_tgid);
	if (call.count_ptr) {
		/* *_ex: 1 on success, the count written through the pointer. */
		if (ret == 1 && bpf_probe_read_user(&n, sizeof(n), (void *)call.count_ptr))
			n = 0;
	} else if (ret > 0) {
		n = ret;
	}
	key.ssl = call.ssl;
	key.tgid = pid_tgid >> 32;
	sess = sl_tls_session_get(&key);
	if (!sess)
		return 0;
	if (call.sk && call.sk != sess->sk) {
		sc = bpf_map_lookup_elem(&sl_conns, &call.sk);
		if (sc)
			sl_tls_bind(sess, (struct sock *)call.sk, sc, SL_TLS_BY_SYSCALL);
	}
	if (!sess->sk && (call.cookie & SL_TLS_COOKIE_MEMORY_BIO))
		bpf_map_update_elem(&sl_tls_pending, &pid_tgid, &key, BPF_ANY);
	if (!n || n > 0x7fffffff)
		return 0;
	pos = SL_POS_CLAIM(&sess->c.pos[dir], n);
	if (sess->c.klass == SL_CLASS_OTHER)
		return 0;
	sl_stat_add(SL_STAT_TLS_CALLS, 1);
	if (!sess->sk)
		sl_stat_add(SL_STAT_TLS_UNBOUND_CALLS, 1);
	s = sl_event_begin(&sess->c, pos, n, (__u32)-1, dir, sys, SL_EV_F_TLS);
	if (!s)
		return 0;
	/* The bound socket's (zero while unbound). */
	s->ev.tuple = sess->c.tuple;
	if (!sl_judge(&sess->c, call.buf, n, false))
		return 0;
	want = n < sl_syscall_cap ? n : sl_syscall_cap;
	sl_capture(s, &sess->c, dir, pos, n, want, call.buf, NULL, call.buf, n);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(sl_ssl_write_enter)
{
	return sl_tls_enter(ctx, SL_DIR_EGRESS, false);
}

SEC("uprobe")
int BPF_KPROBE(sl_ssl_write_ex_enter)
{
	return sl_tls_enter(ctx, SL_DIR_EGRESS, true);
}

SEC("uretprobe")
int BPF_KRETPROBE(sl_ssl_write_exit)
{
	return sl_tls_exit(ctx, SL_DIR_EGRESS, SL_SYS_SSL_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(sl_ssl_read_enter)
{
	return sl_tls_enter(ctx, SL_DIR_INGRESS, false);
}

SEC("uprobe")
int BPF_KPROBE(sl_ssl_read_ex_enter)
{
	return sl_tls_enter(ctx, SL_DIR_INGRESS, true);
}

SEC("uretprobe")
int BPF_KRETPROBE(sl_ssl_read_exit)
{
	return sl_tls_exit(ctx, SL_DIR_INGRESS, SL_SYS_SSL_READ);
}

/* The SSL object is gone: its memory may hold the next session. */
SEC("uprobe")
int BPF_KPROBE(sl_ssl_free)
{
	struct sl_tls_key key = {};

	key.ssl = PT_REGS_PARM1(ctx);
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_map_delete_elem(&sl_tls_sessions, &key);
	return 0;
}
