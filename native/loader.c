// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "loader.h"
#include "events.h"
#include "sidelight.skel.h"
#include "sidelight_compat.skel.h"
#include "sidelight_fast.skel.h"
#include <bpf/btf.h>

/* Programs the agent can run without (the rest are required). */
static const char *const optional_progs[] = { "sl_tcp_sendmsg_locked" };

/* The uprobes put on each TLS library: program, symbol, return probe, required. */
static const struct {
	const char *prog, *symbol;
	bool ret, required;
} tls_probes[SL_TLS_PROBES] = {
	{ "sl_ssl_write_enter", "SSL_write", false, true },
	{ "sl_ssl_write_exit", "SSL_write", true, true },
	{ "sl_ssl_read_enter", "SSL_read", false, true },
	{ "sl_ssl_read_exit", "SSL_read", true, true },
	/* OpenSSL 1.1.1 and later. */
	{ "sl_ssl_write_ex_enter", "SSL_write_ex", false, false },
	{ "sl_ssl_write_exit", "SSL_write_ex", true, false },
	{ "sl_ssl_read_ex_enter", "SSL_read_ex", false, false },
	{ "sl_ssl_read_exit", "SSL_read_ex", true, false },
	{ "sl_ssl_free", "SSL_free", false, false },
};

struct sl_tls_lib {
	struct bpf_link *links[SL_TLS_PROBES];
};

struct sl_loader {
	struct sidelight_bpf *skel;
	size_t nprogs;
	struct sl_prog_status progs[32];
	struct bpf_link *links[32];
	int ncpus;
	struct sl_tls_lib *tls;
	size_t ntls, tls_cap;
};

bool sl_kernel_has_atomic_fetch(void)
{
	/* r0 = 0; *(u64 *)(r10 - 8) = r0; r1 = 1;
	 * r1 = atomic_fetch_add((u64 *)(r10 - 8), r1); r0 = 0; exit */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_STX | BPF_DW | BPF_MEM, .dst_reg = BPF_REG_10, .src_reg = BPF_REG_0, .off = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1 },
		{ .code = BPF_STX | BPF_DW | BPF_ATOMIC, .dst_reg = BPF_REG_10, .src_reg = BPF_REG_1, .off = -8,
		  .imm = BPF_ADD | BPF_FETCH },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static int known = -1;
	int fd;

	if (known >= 0)
		return known;
	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL", insns, sizeof(insns) / sizeof(insns[0]), NULL);
	/* Only the verifier's EINVAL says no: any other failure (privileges)
	 * will come back, better worded, when the real programs load. */
	known = fd >= 0 || errno != EINVAL;
	if (fd >= 0)
		close(fd);
	return known;
}

/* Whether the kernel offers bpf_rdonly_cast (6.2 and later), which the
 * fast build's plain field loads rest on. */
/* What vmlinux BTF says of the kernel: -1 until read. */
static int has_rdonly_cast = -1, has_callbacks = -1;

static bool enum_has(const struct btf *btf, const char *type, const char *value)
{
	int id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	const struct btf_enum *e = t ? btf_enum(t) : NULL;

	for (int i = 0; t && i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, e[i].name_off), value))
			return true;
	return false;
}

static void read_kernel_btf(void)
{
	struct btf *vmlinux;

	if (has_rdonly_cast >= 0)
		return;
	vmlinux = btf__load_vmlinux_btf();
	has_rdonly_cast = vmlinux && btf__find_by_name_kind(vmlinux, "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
	/* Callback functions (5.13, with bpf_for_each_map_elem): the standard
	 * build names bpf_loop's callbacks, which older verifiers refuse even
	 * where the kernel lacks bpf_loop and the call is never reached. */
	has_callbacks = vmlinux && enum_has(vmlinux, "bpf_func_id", "BPF_FUNC_for_each_map_elem");
	btf__free(vmlinux);
}

static bool kernel_has_rdonly_cast(void)
{
	read_kernel_btf();
	return has_rdonly_cast;
}

static bool kernel_has_callbacks(void)
{
	read_kernel_btf();
	return has_callbacks;
}

/* The fast build was refused by this kernel's verifier: standard from then on. */
static bool fast_refused;

/* SIDELIGHT_PROGRAM_BUILD forces a build (a way around a kernel that
 * misjudges its own abilities). 1 when set and valid, 0 unset, -1 invalid. */
static int build_override(enum sl_build *out)
{
	const char *v = getenv("SIDELIGHT_PROGRAM_BUILD");

	if (!v || !*v)
		return 0;
	for (int b = SL_BUILD_FAST; b <= SL_BUILD_COMPAT; b++)
		if (strcmp(v, sl_build_name(b)) == 0) {
			*out = b;
			return 1;
		}
	return -1;
}

enum sl_build sl_kernel_build(void)
{
	enum sl_build forced;

	if (build_override(&forced) == 1)
		return forced;
	if (!sl_kernel_has_atomic_fetch() || !kernel_has_callbacks())
		return SL_BUILD_COMPAT;
	return kernel_has_rdonly_cast() && !fast_refused ? SL_BUILD_FAST : SL_BUILD_STANDARD;
}

const char *sl_build_name(enum sl_build b)
{
	return b == SL_BUILD_FAST ? "fast" : b == SL_BUILD_COMPAT ? "compat" : "standard";
}

/* The skeleton's maps, programs and variables, over the build this kernel
 * takes: the three objects have the same names and layout. */
static struct sidelight_bpf *open_skeleton(enum sl_build build)
{
	struct sidelight_bpf *obj = calloc(1, sizeof(*obj));
	int err;

	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	err = sidelight_bpf__create_skeleton(obj);
	if (!err && build == SL_BUILD_COMPAT)
		obj->skeleton->data = (void *)sidelight_compat_bpf__elf_bytes(&obj->skeleton->data_sz);
	else if (!err && build == SL_BUILD_FAST)
		obj->skeleton->data = (void *)sidelight_fast_bpf__elf_bytes(&obj->skeleton->data_sz);
	if (!err)
		err = bpf_object__open_skeleton(obj->skeleton, NULL);
	if (err) {
		sidelight_bpf__destroy(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}

static bool is_uprobe(const char *hook)
{
	return strncmp(hook, "uprobe", 6) == 0 || strncmp(hook, "uretprobe", 9) == 0;
}

static bool is_optional(const char *name)
{
	for (size_t i = 0; i < sizeof(optional_progs) / sizeof(optional_progs[0]); i++)
		if (strcmp(name, optional_progs[i]) == 0)
			return true;
	return false;
}

/* Silence libbpf's own chatter; our errors carry the reason instead. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level != LIBBPF_WARN || !getenv("SIDELIGHT_LIBBPF_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void describe_errno(char *buf, size_t len, const char *what, int e)
{
	if (e < 0)
		e = -e;
	if (e == EPERM || e == EACCES)
		snprintf(buf, len, "%s: permission denied; grant CAP_BPF and CAP_PERFMON (or run as root), and allow bpf and perf_event_open in the seccomp profile", what);
	else if (e == ENOENT)
		snprintf(buf, len, "%s: not found in this kernel", what);
	else
		snprintf(buf, len, "%s: %s", what, strerror(e));
}

static bool any_bit(const uint64_t *words)
{
	for (uint32_t i = 0; i < SL_PORT_WORDS; i++)
		if (words[i])
			return true;
	return false;
}

/* Opens the build's object, sets the load-time settings and loads it. */
static int open_and_load(struct sl_loader *l, const struct sl_load_opts *o, enum sl_build build,
			 char *err, size_t errlen)
{
	struct bpf_program *prog;
	int e;

	l->nprogs = 0;
	l->skel = open_skeleton(build);
	if (!l->skel) {
		describe_errno(err, errlen, "opening the BPF object", errno);
		return -1;
	}
	l->skel->rodata->sl_agent_tgid = o->agent_tgid;
	l->skel->rodata->sl_chunk_bytes = o->chunk_bytes;
	l->skel->rodata->sl_syscall_cap = o->syscall_cap;
	l->skel->rodata->sl_filter_pids = o->npids > 0;
	l->skel->rodata->sl_filter_ports = any_bit(o->port_bits[0]);
	l->skel->rodata->sl_exclude_ports = any_bit(o->port_bits[1]);
	l->skel->rodata->sl_wake_bytes = o->wake_bytes;
	bpf_map__set_max_entries(l->skel->maps.sl_events, o->ring_bytes);
	bpf_map__set_max_entries(l->skel->maps.sl_conns, o->max_conns);

	bpf_object__for_each_program(prog, l->skel->obj) {
		struct sl_prog_status *st = &l->progs[l->nprogs];

		if (l->nprogs >= sizeof(l->progs) / sizeof(l->progs[0]))
			break;
		memset(st, 0, sizeof(*st));
		st->name = bpf_program__name(prog);
		st->hook = bpf_program__section_name(prog);
		st->required = !is_optional(st->name) && !is_uprobe(st->hook);
		if (is_uprobe(st->hook))
			snprintf(st->error, sizeof(st->error), "attached per TLS library; none yet");
		/* A tp_btf program whose tracepoint this kernel lacks would fail
		 * the whole load: leave it out before loading. */
		if (strncmp(st->hook, "tp_btf/", 7) == 0 &&
		    libbpf_find_vmlinux_btf_id(st->hook + 7, BPF_TRACE_RAW_TP) < 0) {
			bpf_program__set_autoload(prog, false);
			snprintf(st->error, sizeof(st->error), "tracepoint %s not in this kernel", st->hook + 7);
		}
		l->nprogs++;
	}

	e = sidelight_bpf__load(l->skel);
	if (e) {
		describe_errno(err, errlen, "loading the BPF programs", e);
		sidelight_bpf__destroy(l->skel);
		l->skel = NULL;
		return -1;
	}
	return 0;
}

struct sl_loader *sl_loader_open(const struct sl_load_opts *o, char *err, size_t errlen)
{
	struct sl_loader *l = calloc(1, sizeof(*l));
	struct bpf_program *prog;
	enum sl_build build, forced;

	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (build_override(&forced) < 0) {
		snprintf(err, errlen, "SIDELIGHT_PROGRAM_BUILD=%s: expected fast, standard or compat (or unset, to choose by probing the kernel)",
			 getenv("SIDELIGHT_PROGRAM_BUILD"));
		free(l);
		return NULL;
	}
	libbpf_set_print(quiet_print);
	l->ncpus = libbpf_num_possible_cpus();
	build = sl_kernel_build();
	/* The verifier gives up with EAGAIN when a signal is pending, and a
	 * long program takes longer than a profiler's sampling period (Node's
	 * --cpu-prof sends SIGPROF every millisecond): signals wait until the
	 * programs are loaded. */
	sigset_t all, was;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &was);
	int failed = open_and_load(l, o, build, err, errlen);

	/* A kernel whose verifier refuses the fast build's casts still runs
	 * the standard build, unless the fast one was asked for by name. */
	if (failed && build == SL_BUILD_FAST && build_override(&forced) != 1) {
		fast_refused = true;
		failed = open_and_load(l, o, SL_BUILD_STANDARD, err, errlen);
	}
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	if (failed) {
		free(l);
		return NULL;
	}
	for (uint32_t i = 0; i < o->npids; i++) {
		uint8_t one = 1;
		bpf_map__update_elem(l->skel->maps.sl_pid_filter, &o->pids[i], sizeof(o->pids[i]), &one, 1, BPF_ANY);
	}
	for (uint32_t half = 0; half < 2; half++)
		for (uint32_t w = 0; w < SL_PORT_WORDS; w++) {
			uint32_t key = half * SL_PORT_WORDS + w;

			if (o->port_bits[half][w])
				bpf_map__update_elem(l->skel->maps.sl_port_bits, &key, sizeof(key),
						     &o->port_bits[half][w], sizeof(uint64_t), BPF_ANY);
		}

	size_t i = 0;
	bpf_object__for_each_program(prog, l->skel->obj) {
		struct sl_prog_status *st = &l->progs[i];

		if (i >= l->nprogs)
			break;
		if (bpf_program__autoload(prog) && !is_uprobe(st->hook)) {
			l->links[i] = bpf_program__attach(prog);
			if (l->links[i]) {
				st->attached = true;
			} else {
				char what[128];

				snprintf(what, sizeof(what), "attaching %s", st->hook);
				describe_errno(st->error, sizeof(st->error), what, errno);
			}
		}
		if (st->required && !st->attached) {
			snprintf(err, errlen, "required program %s not attached (%s)", st->name, st->error);
			sl_loader_close(l);
			return NULL;
		}
		i++;
	}
	return l;
}

int sl_loader_ring_fd(struct sl_loader *l)
{
	return bpf_map__fd(l->skel->maps.sl_events);
}

size_t sl_loader_programs(struct sl_loader *l, const struct sl_prog_status **out)
{
	*out = l->progs;
	return l->nprogs;
}

int sl_loader_stats(struct sl_loader *l, uint64_t *out)
{
	uint64_t *vals = calloc(l->ncpus, sizeof(uint64_t));

	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < SL_STAT_MAX; k++) {
		out[k] = 0;
		if (bpf_map__lookup_elem(l->skel->maps.sl_stats, &k, sizeof(k), vals,
					 sizeof(uint64_t) * l->ncpus, 0))
			continue;
		for (int c = 0; c < l->ncpus; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

int sl_loader_attach_tls(struct sl_loader *l, const char *path, uint64_t cookie,
			 struct sl_tls_attach *out)
{
	struct sl_tls_lib lib = {};

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < SL_TLS_PROBES; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(l->skel->obj, tls_probes[i].prog);
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = tls_probes[i].symbol,
			    .retprobe = tls_probes[i].ret, .bpf_cookie = cookie);
		int e = 0;

		if (!prog) {
			e = ENOENT;
		} else {
			lib.links[i] = bpf_program__attach_uprobe_opts(prog, -1, path, 0, &opts);
			if (!lib.links[i] && errno == EOPNOTSUPP && cookie) {
				/* No attach cookies (before 5.15): attach without. */
				opts.bpf_cookie = 0;
				lib.links[i] = bpf_program__attach_uprobe_opts(prog, -1, path, 0, &opts);
			}
			if (!lib.links[i])
				e = errno ? errno : EINVAL;
		}
		if (!e) {
			out->attached++;
			continue;
		}
		if (!tls_probes[i].required) {
			out->missing |= 1u << i;
			continue;
		}
		char what[48];

		snprintf(what, sizeof(what), "%s %s", tls_probes[i].ret ? "uretprobe" : "uprobe", tls_probes[i].symbol);
		if (e == ENOENT || e == ESRCH)
			snprintf(out->error, sizeof(out->error), "%s: the file does not export %s (not OpenSSL, or stripped of it)", what, tls_probes[i].symbol);
		else if (e == EPERM || e == EACCES)
			snprintf(out->error, sizeof(out->error), "%s: permission denied; creating uprobes needs CAP_SYS_ADMIN (or run with tls off)", what);
		else
			describe_errno(out->error, sizeof(out->error), what, e);
		for (int j = 0; j < SL_TLS_PROBES; j++)
			bpf_link__destroy(lib.links[j]);
		return -e;
	}
	if (l->ntls == l->tls_cap) {
		size_t cap = l->tls_cap ? 2 * l->tls_cap : 16;
		struct sl_tls_lib *t = realloc(l->tls, cap * sizeof(*t));

		if (!t) {
			for (int j = 0; j < SL_TLS_PROBES; j++)
				bpf_link__destroy(lib.links[j]);
			snprintf(out->error, sizeof(out->error), "out of memory");
			return -ENOMEM;
		}
		l->tls = t;
		l->tls_cap = cap;
	}
	l->tls[l->ntls++] = lib;
	for (size_t i = 0; i < l->nprogs; i++)
		if (is_uprobe(l->progs[i].hook)) {
			l->progs[i].attached = true;
			l->progs[i].error[0] = '\0';
		}
	return 0;
}

const char *sl_loader_tls_symbol(int i)
{
	return i >= 0 && i < SL_TLS_PROBES ? tls_probes[i].symbol : "";
}

/* Links destroyed per thread: each close waits for an RCU grace period
 * (~0.1 s here), and waits in parallel threads share grace periods. */
#define SL_DETACH_THREADS 32

struct sl_detach_job {
	struct bpf_link **links;
	size_t n, first;
};

static void *detach_some(void *arg)
{
	struct sl_detach_job *j = arg;

	for (size_t i = j->first; i < j->n; i += SL_DETACH_THREADS)
		bpf_link__destroy(j->links[i]);
	return NULL;
}

static void destroy_links(struct bpf_link **links, size_t n)
{
	struct sl_detach_job jobs[SL_DETACH_THREADS];
	pthread_t threads[SL_DETACH_THREADS];
	bool started[SL_DETACH_THREADS] = {};

	for (size_t t = 0; t < SL_DETACH_THREADS && t < n; t++) {
		jobs[t] = (struct sl_detach_job){ links, n, t };
		started[t] = pthread_create(&threads[t], NULL, detach_some, &jobs[t]) == 0;
		if (!started[t])
			detach_some(&jobs[t]);
	}
	for (size_t t = 0; t < SL_DETACH_THREADS && t < n; t++)
		if (started[t])
			pthread_join(threads[t], NULL);
}

void sl_loader_detach(struct sl_loader *l)
{
	size_t n = 0, cap = l->ntls * SL_TLS_PROBES + l->nprogs;
	struct bpf_link **all = calloc(cap ? cap : 1, sizeof(*all));

	for (size_t i = 0; i < l->ntls; i++)
		for (int j = 0; j < SL_TLS_PROBES; j++)
			if (l->tls[i].links[j]) {
				if (all)
					all[n++] = l->tls[i].links[j];
				else
					bpf_link__destroy(l->tls[i].links[j]);
			}
	l->ntls = 0;
	for (size_t i = 0; i < l->nprogs; i++) {
		if (l->links[i]) {
			if (all)
				all[n++] = l->links[i];
			else
				bpf_link__destroy(l->links[i]);
			l->links[i] = NULL;
			l->progs[i].attached = false;
		}
	}
	destroy_links(all, n);
	free(all);
}

void sl_loader_close(struct sl_loader *l)
{
	if (!l)
		return;
	sl_loader_detach(l);
	sidelight_bpf__destroy(l->skel);
	free(l->tls);
	free(l);
}

int sl_loader_skip_process(struct sl_loader *l, uint32_t tgid, uint64_t start_ticks)
{
	if (bpf_map__update_elem(l->skel->maps.sl_pid_skip, &tgid, sizeof(tgid), &start_ticks,
				 sizeof(start_ticks), BPF_ANY))
		return -errno;
	return 0;
}

int sl_loader_h2_bodies(struct sl_loader *l, uint64_t conn_id, bool wanted)
{
	uint8_t said = wanted ? SL_H2_BODIES : SL_H2_HEADS;

	if (bpf_map__update_elem(l->skel->maps.sl_h2_bodies, &conn_id, sizeof(conn_id), &said, sizeof(said), BPF_ANY))
		return -errno;
	return 0;
}

int sl_loader_unskip_process(struct sl_loader *l, uint32_t tgid)
{
	if (bpf_map__delete_elem(l->skel->maps.sl_pid_skip, &tgid, sizeof(tgid), 0) && errno != ENOENT)
		return -errno;
	return 0;
}
