/* SPDX-License-Identifier: Apache-2.0 */
/* Socket and connection helpers shared by the tracepoint programs. */
#ifndef SIDELIGHT_CONN_BPF_H
#define SIDELIGHT_CONN_BPF_H

#include "maps.bpf.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#define SL_S_IFMT 00170000
#define SL_S_IFSOCK 0140000
#define SL_EINPROGRESS 115
#define SL_MSG_PEEK 2

/* A stream position claimed for n bytes: where they start. Concurrent
 * syscalls in one direction of one socket each get their own range; the
 * compat build (kernels before 5.12, no atomic fetch) reads then adds, so
 * two such syscalls racing could be given the same start. */
#ifdef SL_NO_FETCH_ATOMICS
#define SL_POS_CLAIM(p, n) ({ __u64 __at = *(p); __sync_fetch_and_add((p), (n)); __at; })
#else
#define SL_POS_CLAIM(p, n) __sync_fetch_and_add((p), (n))
#endif

/* bpf_loop (5.17): a loop body the verifier checks once instead of
 * unrolling it. The compat build never names it: verifiers before 5.13 know
 * no callback functions at all, even unreached. Elsewhere a kernel without
 * the helper takes the unrolled path (the test is a CO-RE constant). */
#ifdef SL_NO_FETCH_ATOMICS
#define SL_BPF_LOOP 0
#define SL_HAS_LOOP() 0
#define SL_LOOP(n, fn, ctx) 0
#else
#define SL_BPF_LOOP 1
#define SL_HAS_LOOP() bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop)
#define SL_LOOP(n, fn, ctx) bpf_loop((n), (fn), (ctx), 0)
#endif

/* What a loop body needs, on the caller's stack (a bpf_loop callback gets
 * one pointer). */
struct sl_loop_ctx {
	struct sl_scratch *s;
	struct sl_conn *c;
	struct iovec *iov;
	__u64 pos, end, cap; /* stream positions: the syscall's, its end, its capped prefix's end */
	__u64 total;         /* bytes of the buffer */
	bool failed;         /* the gather stopped on a fault or a full ring */
	bool room;           /* the walk may still add ranges */
};

/* A walk's first buffer entry: the plain buffer, or none yet before an
 * iovec array's first element. */
static __always_inline void sl_entry_first(struct sl_buf_entry *e, __u64 buf, struct iovec *iov,
					   __u64 pos, __u64 ret)
{
	e->base = buf;
	e->start = pos;
	e->len = iov ? 0 : ret;
	e->next = 0;
}

/* Adds [from, to) (syscall offsets) to the ranges to ship, merged with the
 * last one when they touch. False when there is no room left. */
static __always_inline bool sl_range_add(struct sl_scratch *s, __u64 from, __u64 to)
{
	__u32 n = s->nranges;
	struct sl_range *last = &s->ranges[(n - 1) & (SL_RANGES - 1)];

	if (n > 0 && (__u64)last->off + last->len == from) {
		last->len = to - last->off;
		return true;
	}
	if (n >= SL_RANGES)
		return false;
	s->ranges[n & (SL_RANGES - 1)].off = from;
	s->ranges[n & (SL_RANGES - 1)].len = to - from;
	s->nranges = n + 1;
	return true;
}

/* Steps a walk to the next iovec element; false past the last one (or on
 * a plain buffer's end). */
static __always_inline bool sl_entry_next(struct sl_buf_entry *e, struct iovec *iov)
{
	struct iovec v;

	if (!iov || e->next >= SL_MAX_IOV ||
	    bpf_probe_read_user(&v, sizeof(v), &iov[e->next & (SL_MAX_IOV - 1)]))
		return false;
	e->next++;
	e->start += e->len;
	e->base = (__u64)v.iov_base;
	e->len = v.iov_len;
	return true;
}

static __always_inline void sl_stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&sl_stats, &idx);
	if (v)
		*v += n;
}

/* The agent itself, and pids outside --pid, cost one compare or lookup. */
static __always_inline bool sl_pid_wanted(__u32 tgid)
{
	if (tgid == sl_agent_tgid)
		return false;
	if (sl_filter_pids && !bpf_map_lookup_elem(&sl_pid_filter, &tgid))
		return false;
	return true;
}

/* Kernels before 5.15 lack bpf_task_pt_regs, and before 5.11
 * bpf_get_current_task_btf: there the same fields are reached through probe
 * reads. The test is a CO-RE constant, so the verifier walks one side only and
 * the fast side costs nothing extra. */
#define SL_TASK_BTF() bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs)

/* The syscall's first four arguments. */
struct sl_sysargs {
	__u64 a1, a2, a3, a4;
};

/* Direct loads through the BTF-typed pt_regs (cheaper than a probe read). */
#if defined(__TARGET_ARCH_x86)
#define SL_SYSCALL_ARGS(r, a) ((a)->a1 = (r)->di, (a)->a2 = (r)->si, (a)->a3 = (r)->dx, (a)->a4 = (r)->r10)
#elif defined(__TARGET_ARCH_arm64)
/* x0 holds the return value by exit; the first argument survives in orig_x0. */
#define SL_SYSCALL_ARGS(r, a) ((a)->a1 = (r)->orig_x0, (a)->a2 = (r)->regs[1], (a)->a3 = (r)->regs[2], (a)->a4 = (r)->regs[3])
#else
#define SL_SYSCALL_ARGS(r, a)                                                          \
	((a)->a1 = PT_REGS_PARM1_CORE_SYSCALL(r), (a)->a2 = PT_REGS_PARM2_CORE_SYSCALL(r), \
	 (a)->a3 = PT_REGS_PARM3_CORE_SYSCALL(r), (a)->a4 = PT_REGS_PARM4_CORE_SYSCALL(r))
#endif

#if defined(__TARGET_ARCH_x86)
/* __USER_CS: the code segment saved for a syscall from 64-bit user space. */
#define SL_USER_CS 0x33

/* Registers saved for this syscall from 64-bit user space: the number and
 * the code segment must both match (a failed read matches nothing). */
static __always_inline bool sl_regs_saved_for(struct pt_regs *r, long nr)
{
	unsigned long orig_ax = -1, cs = 0;

	if (bpf_core_read(&orig_ax, sizeof(orig_ax), &r->orig_ax) || bpf_core_read(&cs, sizeof(cs), &r->cs))
		return false;
	return orig_ax == (unsigned long)nr && cs == SL_USER_CS;
}

/* x86-64: the user registers sit at the top of the task's kernel stack
 * (THREAD_SIZE is 16 KiB, or 32 KiB with KASAN; no padding on 64-bit). */
static __always_inline bool sl_syscall_args_probed(long nr, struct sl_sysargs *a)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 stack = (__u64)BPF_CORE_READ(task, stack);
	struct pt_regs *r = (struct pt_regs *)(stack + 16384) - 1;

	if (!sl_regs_saved_for(r, nr)) {
		r = (struct pt_regs *)(stack + 32768) - 1;
		if (!sl_regs_saved_for(r, nr)) {
			sl_stat_add(SL_STAT_SYSCALL_ARGS_UNREAD, 1);
			return false;
		}
	}
	a->a1 = BPF_CORE_READ(r, di);
	a->a2 = BPF_CORE_READ(r, si);
	a->a3 = BPF_CORE_READ(r, dx);
	a->a4 = BPF_CORE_READ(r, r10);
	return true;
}
#else
static __always_inline bool sl_syscall_args_probed(long nr, struct sl_sysargs *a)
{
	sl_stat_add(SL_STAT_SYSCALL_ARGS_UNREAD, 1);
	return false;
}
#endif

/* Syscall arguments read at exit from the task's saved user registers, so
 * one exit tracepoint serves where enter+exit pairs would tax every call.
 * nr is the syscall the exit tracepoint reports. */
static __always_inline bool sl_syscall_args(long nr, struct sl_sysargs *a)
{
	if (SL_TASK_BTF()) {
		struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

		SL_SYSCALL_ARGS(r, a);
		return true;
	}
	return sl_syscall_args_probed(nr, a);
}

/* The file table's size and array: direct loads through BTF where the kernel
 * offers it (this runs on every read/write of every process, socket or not). */
static __always_inline struct file **sl_fd_array(__u32 fd)
{
	if (SL_TASK_BTF()) {
		struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;

		if (!fdt || fd >= fdt->max_fds)
			return NULL;
		return fdt->fd;
	} else {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);

		if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
			return NULL;
		return BPF_CORE_READ(fdt, fd);
	}
}

#ifdef SL_CAST_LOADS
/*
 * Kernels from 6.2: bpf_rdonly_cast turns a kernel address into a typed
 * read-only pointer, whose field loads the verifier makes plain fault-safe
 * memory loads, where each bpf_probe_read_kernel is a helper call: most of
 * a data program's reads are of this kind, on every syscall.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define SL_CAST(p, type) ((type *)bpf_rdonly_cast((const void *)(p), bpf_core_type_id_kernel(type)))
#define SL_SK_READ(sk, field) (SL_CAST(sk, struct sock)->field)

/* fd -> the struct sock of a TCP socket, or NULL for anything else (files,
 * pipes, UDP and unix sockets). This runs on every read and write of every
 * process. Works for sockets opened before the agent started. */
static __always_inline struct sock *sl_sock_from_fd(__u32 fd)
{
	struct file **fds = sl_fd_array(fd);
	struct file *f;
	struct socket *so;
	struct sock *sk;

	if (!fds)
		return NULL;
	/* A fd table slot, read as the one struct whose first member is a
	 * struct file pointer (an array of pointers has no BTF type). */
	f = SL_CAST(&fds[fd], struct kiocb)->ki_filp;
	if (!f || (f->f_inode->i_mode & SL_S_IFMT) != SL_S_IFSOCK)
		return NULL;
	so = SL_CAST(f->private_data, struct socket);
	if (!so)
		return NULL;
	sk = so->sk;
	return sk && sk->sk_protocol == IPPROTO_TCP ? sk : NULL;
}
#else
#define SL_SK_READ(sk, field) BPF_CORE_READ(sk, field)

static __always_inline struct sock *sl_sock_from_fd(__u32 fd)
{
	struct file **fds = sl_fd_array(fd);
	struct file *f = NULL;
	struct socket *so;
	struct sock *sk;

	if (!fds)
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & SL_S_IFMT) != SL_S_IFSOCK)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	if (!so)
		return NULL;
	sk = BPF_CORE_READ(so, sk);
	return sk && BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP ? sk : NULL;
}
#endif

/* A TCP socket's family: IPv4 or IPv6 (Netlink's XFRM protocol is also
 * number 6). Checked once, when the connection's entry is made. */
static __always_inline bool sl_is_inet(struct sock *sk)
{
	__u16 family = SL_SK_READ(sk, __sk_common.skc_family);

	return family == AF_INET || family == AF_INET6;
}

static __always_inline void sl_read_tuple(struct sock *sk, struct sl_tuple *t)
{
	t->family = SL_SK_READ(sk, __sk_common.skc_family);
	t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)t->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

static __always_inline bool sl_port_bit(__u16 port, __u32 half)
{
	__u32 idx = half * SL_PORT_WORDS + (port >> 6);
	__u64 *w = bpf_map_lookup_elem(&sl_port_bits, &idx);

	return w && ((*w >> (port & 63)) & 1);
}

static __always_inline bool sl_port_wanted(struct sock *sk)
{
	__u16 local, peer;

	if (!sl_filter_ports && !sl_exclude_ports)
		return true;
	local = BPF_CORE_READ(sk, __sk_common.skc_num);
	peer = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (sl_filter_ports && !sl_port_bit(local, 0) && !sl_port_bit(peer, 0))
		return false;
	if (sl_exclude_ports && (sl_port_bit(local, 1) || sl_port_bit(peer, 1)))
		return false;
	return true;
}

/* USER_HZ: /proc reports start times in these ticks. */
#define SL_NS_PER_TICK 10000000ULL

/* Checked once per new connection, not per syscall: a left-out process's
 * connections are judged "other" and cost a map lookup from then on. */
static __always_inline bool sl_process_skipped(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 *ticks = bpf_map_lookup_elem(&sl_pid_skip, &tgid);
	struct task_struct *task;

	if (!ticks)
		return false;
	task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, group_leader, start_boottime) / SL_NS_PER_TICK == *ticks;
}

/* Every event's common header, for the current task. */
static __always_inline void sl_header_fill(struct sl_header *h, __u16 type, __u16 flags, __u32 size)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	h->type = type;
	h->flags = flags;
	h->size = size;
	h->ts_ns = bpf_ktime_get_ns();
	h->tgid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
}

static __always_inline __u64 sl_next_conn_id(void)
{
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&sl_id_seq, &zero);

	if (!seq)
		return 0;
	*seq += 1;
	/* 12 bits of CPU, 40 of sequence: unique, and exact as a JS number. */
	return ((__u64)(bpf_get_smp_processor_id() & 0xfff) << 40) | (*seq & 0xffffffffffULL);
}

/* The entry of a connection we track on sk, or NULL. Entries exist only
 * for TCP sockets; one whose ports differ from the socket's belongs to a
 * connection that is gone (struct sock memory is reused as soon as a socket
 * is freed), whatever the socket now is. */
static __always_inline struct sl_conn *sl_conn_find(struct sock *sk, __u32 *ports)
{
	__u64 key = (__u64)sk;
	struct sl_conn *c = bpf_map_lookup_elem(&sl_conns, &key);

	*ports = SL_SK_READ(sk, __sk_common.skc_portpair);
	return c && c->ports == *ports ? c : NULL;
}

/* The connection entry for sk, created on first sight if sk is TCP. role is
 * only set when known (connect/accept); data on an unseen socket leaves it
 * unknown.
 *
 * A stale entry (see sl_conn_find: its TCP_CLOSE raced with a syscall that
 * re-created it) is replaced, or the new connection would inherit a stale
 * verdict and vanish. A socket already in TCP_CLOSE gets no entry, since
 * nothing would ever delete it. */
static __always_inline struct sl_conn *sl_conn_get(struct sock *sk, __u8 role)
{
	__u64 key = (__u64)sk;
	struct sl_conn fresh = {};
	struct sl_conn *c;
	__u32 ports;

	c = sl_conn_find(sk, &ports);
	if (c) {
		if (role && !c->role)
			c->role = role;
		return c;
	}
	/* A stale entry under this key goes (a no-op when there is none; this
	 * path runs only for a socket without a live entry). */
	bpf_map_delete_elem(&sl_conns, &key);
	if (!sl_is_inet(sk) || SL_SK_READ(sk, __sk_common.skc_state) == TCP_CLOSE)
		return NULL;
	fresh.id = sl_next_conn_id();
	fresh.role = role;
	fresh.ports = ports;
	sl_read_tuple(sk, &fresh.tuple);
	if (!sl_port_wanted(sk) || sl_process_skipped()) {
		fresh.klass = SL_CLASS_OTHER;
		fresh.tries = SL_TRIES_FILTERED;
		sl_stat_add(SL_STAT_CONN_FILTERED, 1);
	}
	bpf_map_update_elem(&sl_conns, &key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sl_conns, &key);
}

#endif /* SIDELIGHT_CONN_BPF_H */
