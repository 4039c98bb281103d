/* SPDX-License-Identifier: Apache-2.0 */
/* Loads, configures and attaches the kernel programs (one skeleton). */
#ifndef SIDELIGHT_LOADER_H
#define SIDELIGHT_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "events.h" /* SL_MAX_PIDS, SL_PORT_WORDS: the kernel maps' sizes */

struct sl_load_opts {
	uint32_t chunk_bytes;
	uint32_t syscall_cap;
	uint32_t ring_bytes;
	uint32_t wake_bytes; /* ring occupancy at which a record wakes the poll thread */
	uint32_t max_conns;
	uint32_t agent_tgid;
	uint32_t npids;
	uint32_t pids[SL_MAX_PIDS];
	/* One bit per port: [0] ports to keep, [1] ports to leave out (all zero: no filter). */
	uint64_t port_bits[2][SL_PORT_WORDS];
};

struct sl_prog_status {
	const char *name;       /* program name in the object */
	const char *hook;       /* e.g. tracepoint/syscalls/sys_exit_read */
	bool required;
	bool attached;
	char error[160];        /* why it is not attached, "" when it is */
};

struct sl_loader;

#define SL_TLS_PROBES 9

struct sl_tls_attach {
	int attached;      /* probes attached */
	uint32_t missing;  /* bit i: optional probe i has no symbol here (see sl_loader_tls_symbol) */
	char error[200];   /* why the library could not be attached */
};

/* Whether the verifier takes atomic fetch instructions (5.12 and later);
 * without them the loader uses the compat build of the programs. */
bool sl_kernel_has_atomic_fetch(void);

/* The builds of the kernel programs (bpf/Makefile). */
enum sl_build {
	SL_BUILD_FAST,     /* 6.2 and later: plain loads through bpf_rdonly_cast */
	SL_BUILD_STANDARD, /* 5.12 to 6.1 */
	SL_BUILD_COMPAT,   /* before 5.12: no atomic fetch instructions */
};
/* The build this kernel takes, and its name as the agent reports it. */
enum sl_build sl_kernel_build(void);
const char *sl_build_name(enum sl_build b);
/* On failure returns NULL and writes one line saying what and how to fix. */
struct sl_loader *sl_loader_open(const struct sl_load_opts *opts, char *err, size_t errlen);
int sl_loader_ring_fd(struct sl_loader *l);
size_t sl_loader_programs(struct sl_loader *l, const struct sl_prog_status **out);
/* Sums the per-CPU counters (enum sl_stat) into out[SL_STAT_MAX]. */
int sl_loader_stats(struct sl_loader *l, uint64_t *out);
/* Detaches every program; the maps stay until sl_loader_close. */
void sl_loader_detach(struct sl_loader *l);
void sl_loader_close(struct sl_loader *l);
/* Leaves a process out of new connections (tgid + start time in clock
 * ticks, as /proc/<pid>/stat field 22), or takes it back. 0 or -errno. */
int sl_loader_skip_process(struct sl_loader *l, uint32_t tgid, uint64_t start_ticks);
int sl_loader_unskip_process(struct sl_loader *l, uint32_t tgid);
/* The HTTP/2 connection (or TLS session) `conn_id` carries no gRPC: the
 * kernel ships its heads only. 0 or -errno. */
int sl_loader_h2_bodies(struct sl_loader *l, uint64_t conn_id, bool wanted);

/* Puts the TLS uprobes on one library file (by path; the kernel keys them
 * by inode, so every process mapping it is covered). cookie: the
 * SL_TLS_COOKIE_* bits. 0, or -errno with out->error set; a library missing
 * an optional symbol still attaches. */
int sl_loader_attach_tls(struct sl_loader *l, const char *path, uint64_t cookie,
			 struct sl_tls_attach *out);
const char *sl_loader_tls_symbol(int i);

#endif
