// SPDX-License-Identifier: Apache-2.0
/*
 * Data syscalls on TCP sockets: one exit tracepoint each. The arguments are
 * read from the task's saved registers at exit (see sl_syscall_args), so no
 * enter hook taxes every process's syscalls.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "capture.bpf.h"
#include "tls.bpf.h"

/* How the syscall's buffer is described in its arguments. */
enum sl_buf_kind {
	SL_BUF_PLAIN = 0, /* arg2 = buffer (read, write, sendto, recvfrom) */
	SL_BUF_IOVEC = 1, /* arg2 = iovec array, arg3 = count (readv, writev) */
	SL_BUF_MSG = 2,   /* arg2 = struct user_msghdr (sendmsg, recvmsg) */
	SL_BUF_NONE = 3,  /* bytes move without a user buffer (sendfile) */
};

/* Bytes of the syscall that will be captured: at most the per-syscall cap,
 * and for iovec syscalls at most what the first SL_MAX_IOV entries hold. */
static __always_inline __u64 sl_capturable(struct iovec *iov, __u64 iovcnt, __u64 want)
{
	__u64 total = 0;
	struct iovec v;
	int i;

	for (i = 0; i < SL_MAX_IOV; i++) {
		if (i >= iovcnt || total >= want)
			break;
		if (bpf_probe_read_user(&v, sizeof(v), &iov[i]))
			break;
		total += v.iov_len < want - total ? v.iov_len : want - total;
	}
	if (iovcnt > SL_MAX_IOV && total < want)
		sl_stat_add(SL_STAT_IOV_TRUNCATED, 1);
	return total;
}

static __always_inline int sl_on_data(long nr, long ret, __u8 sys, __u8 dir, enum sl_buf_kind kind)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sl_sysargs args;
	struct sl_scratch *s;
	struct sl_conn *c;
	struct sock *sk;
	struct iovec *iov = NULL;
	__u64 iovcnt = 0, plain = 0, want;
	struct iovec first;
	__u32 fd;

	if (ret <= 0 || !sl_pid_wanted(pid_tgid >> 32))
		return 0;
	if (!sl_syscall_args(nr, &args))
		return 0;
	/* Peeked bytes are read again later: counting them would shift the stream. */
	if ((sys == SL_SYS_RECVFROM && (args.a4 & SL_MSG_PEEK)) ||
	    (sys == SL_SYS_RECVMSG && (args.a3 & SL_MSG_PEEK)))
		return 0;
	fd = args.a1;
	sk = sl_sock_from_fd(fd);
	if (!sk)
		return 0;
	c = sl_conn_get(sk, SL_ROLE_UNKNOWN);
	if (!c)
		return 0;
	/* Positions advance for every connection so that a later verdict, or a
	 * gap, is still placed exactly in the stream. */
	__u64 pos = SL_POS_CLAIM(&c->pos[dir], ret);
	if (c->klass == SL_CLASS_OTHER && c->tries != SL_TRIES_FILTERED)
		return 0;
	/* Ciphertext: judged so, or moved inside an SSL call; or a filtered
	 * socket a TLS session may still ride on. */
	if (c->klass == SL_CLASS_TLS || c->klass == SL_CLASS_OTHER ||
	    (c->klass == SL_CLASS_UNKNOWN && bpf_map_lookup_elem(&sl_tls_calls, &pid_tgid))) {
		sl_tls_socket_io(sk, c, dir, pid_tgid);
		return 0;
	}

	s = sl_event_begin(c, pos, ret, fd, dir, sys, 0);
	if (!s)
		return 0;
	s->ev.tuple = c->tuple;

	want = (__u64)ret < sl_syscall_cap ? (__u64)ret : sl_syscall_cap;
	if (kind == SL_BUF_PLAIN) {
		plain = args.a2;
		if (!sl_judge(c, plain, ret, true)) {
			if (c->klass == SL_CLASS_TLS)
				sl_tls_socket_io(sk, c, dir, pid_tgid);
			return 0;
		}
		sl_capture(s, c, dir, pos, ret, want, plain, NULL, plain, ret);
		return 0;
	}
	if (kind == SL_BUF_IOVEC) {
		iov = (struct iovec *)args.a2;
		iovcnt = args.a3;
	} else if (kind == SL_BUF_MSG) {
		struct user_msghdr msg;

		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)args.a2))
			want = 0;
		iov = msg.msg_iov;
		iovcnt = msg.msg_iovlen;
	} else {
		want = 0;
	}
	if (want)
		want = sl_capturable(iov, iovcnt, want);
	s->ev.captured = want;
	if (!want) {
		/* Uncaptured bytes still travel as a count, so the parser can
		 * step over them (sendfile bodies, unreadable buffers). */
		if (sl_emit_chunk(s, 0, 0))
			c->shipped = 1;
		return 0;
	}
	if (bpf_probe_read_user(&first, sizeof(first), iov))
		return 0;
	if (!sl_judge(c, (__u64)first.iov_base, first.iov_len < (__u64)ret ? first.iov_len : (__u64)ret, true)) {
		if (c->klass == SL_CLASS_TLS)
			sl_tls_socket_io(sk, c, dir, pid_tgid);
		return 0;
	}
	sl_capture(s, c, dir, pos, ret, want, 0, iov, (__u64)first.iov_base,
		   first.iov_len < (__u64)ret ? first.iov_len : (__u64)ret);
	return 0;
}

#define SL_DATA_TP(name, sys, dir, kind)                                   \
	SEC("tracepoint/syscalls/sys_exit_" #name)                         \
	int sl_exit_##name(struct trace_event_raw_sys_exit *ctx)           \
	{                                                                  \
		return sl_on_data(ctx->id, ctx->ret, sys, dir, kind);      \
	}

SL_DATA_TP(read, SL_SYS_READ, SL_DIR_INGRESS, SL_BUF_PLAIN)
SL_DATA_TP(write, SL_SYS_WRITE, SL_DIR_EGRESS, SL_BUF_PLAIN)
SL_DATA_TP(recvfrom, SL_SYS_RECVFROM, SL_DIR_INGRESS, SL_BUF_PLAIN)
SL_DATA_TP(sendto, SL_SYS_SENDTO, SL_DIR_EGRESS, SL_BUF_PLAIN)
SL_DATA_TP(readv, SL_SYS_READV, SL_DIR_INGRESS, SL_BUF_IOVEC)
SL_DATA_TP(writev, SL_SYS_WRITEV, SL_DIR_EGRESS, SL_BUF_IOVEC)
SL_DATA_TP(recvmsg, SL_SYS_RECVMSG, SL_DIR_INGRESS, SL_BUF_MSG)
SL_DATA_TP(sendmsg, SL_SYS_SENDMSG, SL_DIR_EGRESS, SL_BUF_MSG)
SL_DATA_TP(sendfile64, SL_SYS_SENDFILE, SL_DIR_EGRESS, SL_BUF_NONE)
