// SPDX-License-Identifier: Apache-2.0
/*
 * Connection lifecycle: roles from connect()/accept(), ends from close() and
 * from the TCP state machine (which also sees resets and exiting processes).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "conn.bpf.h"

static __always_inline void sl_emit_close(struct sl_conn *c, __u32 fd, __u8 sys)
{
	struct sl_close_event *e;

	e = bpf_ringbuf_reserve(&sl_events, sizeof(*e), 0);
	if (!e) {
		sl_stat_add(SL_STAT_RINGBUF_DROPS, 1);
		sl_stat_add(SL_STAT_RINGBUF_CLOSE_DROPS, 1);
		return;
	}
	sl_header_fill(&e->hdr, SL_EV_CLOSE, 0, sizeof(*e));
	e->conn_id = c->id;
	e->bytes_sent = c->pos[SL_DIR_EGRESS];
	e->bytes_received = c->pos[SL_DIR_INGRESS];
	e->fd = fd;
	e->syscall = sys;
	e->role = c->role;
	e->_pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, sl_ring_flags(sizeof(*e)));
}

static __always_inline int sl_on_new_conn(long fd, __u8 role)
{
	struct sock *sk;

	if (fd < 0 || !sl_pid_wanted(bpf_get_current_pid_tgid() >> 32))
		return 0;
	sk = sl_sock_from_fd(fd);
	if (sk)
		sl_conn_get(sk, role);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int sl_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	/* Non-blocking connects return -EINPROGRESS and still become clients. */
	struct sl_sysargs a;

	if (ctx->ret != 0 && ctx->ret != -SL_EINPROGRESS)
		return 0;
	if (!sl_pid_wanted(bpf_get_current_pid_tgid() >> 32) || !sl_syscall_args(ctx->id, &a))
		return 0;
	return sl_on_new_conn(a.a1, SL_ROLE_CLIENT);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sl_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return sl_on_new_conn(ctx->ret, SL_ROLE_SERVER);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sl_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return sl_on_new_conn(ctx->ret, SL_ROLE_SERVER);
}

/* At enter: by exit the fd no longer names the socket. */
SEC("tracepoint/syscalls/sys_enter_close")
int sl_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u32 fd = ctx->args[0];
	struct sl_conn *c;
	struct sock *sk;
	__u32 ports;

	if (!sl_pid_wanted(bpf_get_current_pid_tgid() >> 32))
		return 0;
	sk = sl_sock_from_fd(fd);
	if (!sk)
		return 0;
	c = sl_conn_find(sk, &ports);
	if (c && c->shipped)
		sl_emit_close(c, fd, SL_SYS_CLOSE);
	return 0;
}

/* TCP_CLOSE is every socket's last state: forget it here, so a struct sock
 * reused for a new connection gets a new id. */
SEC("tracepoint/sock/inet_sock_set_state")
int sl_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct sl_conn *c;
	__u64 key;

	if (ctx->newstate != TCP_CLOSE || ctx->protocol != IPPROTO_TCP)
		return 0;
	key = (__u64)ctx->skaddr;
	c = bpf_map_lookup_elem(&sl_conns, &key);
	if (!c)
		return 0;
	if (c->shipped)
		sl_emit_close(c, (__u32)-1, SL_SYS_TCP_STATE);
	bpf_map_delete_elem(&sl_conns, &key);
	return 0;
}
