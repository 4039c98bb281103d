// SPDX-License-Identifier: Apache-2.0
/*
 * Optional: tcp:tcp_sendmsg_locked (kernels >= 6.11) sees egress at the TCP
 * layer whatever the path (write, sendfile, io_uring). Counting it for the
 * connections we ship tells how much egress the syscall hooks did not see.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "conn.bpf.h"

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(sl_tcp_sendmsg_locked, struct sock *sk, struct msghdr *msg, struct sk_buff *skb,
	     int size_goal)
{
	__u64 key = (__u64)sk;
	struct sl_conn *c;

	/* Sends run in the sender's context: the agent's own and processes
	 * outside --pid cost a compare, not a lookup. */
	if (!sl_pid_wanted(bpf_get_current_pid_tgid() >> 32))
		return 0;
	c = bpf_map_lookup_elem(&sl_conns, &key);
	if (c && c->shipped)
		sl_stat_add(SL_STAT_TCP_SENDMSG_BYTES, BPF_CORE_READ(msg, msg_iter.count));
	return 0;
}
