// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "privileges.h"

#define SL_CAP_SETPCAP 8

/* Read by the handler: set before any thread is signalled. */
static volatile uint64_t drop_keep;
static volatile int drop_last_cap = 40;

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return (int)syscall(SYS_capget, &h, d);
}

/* Only raw system calls: this runs in a signal handler. */
static int drop_this_thread(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uint64_t keep = drop_keep, eff;
	int cap, i;

	if (caps_get(d))
		return -errno;
	eff = ((uint64_t)d[1].effective << 32) | d[0].effective;
	/* The bounding set first: cutting it needs CAP_SETPCAP, which goes next. */
	if (eff & (1ULL << SL_CAP_SETPCAP))
		for (cap = 0; cap <= drop_last_cap && cap < 64; cap++)
			if (!(keep & (1ULL << cap)))
				prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	for (i = 0; i < 2; i++) {
		uint32_t k = (uint32_t)(keep >> (32 * i));

		d[i].permitted &= k;
		d[i].effective = d[i].permitted;
		d[i].inheritable = 0;
	}
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

static void on_drop_signal(int sig)
{
	int saved = errno;

	(void)sig;
	drop_this_thread();
	errno = saved;
}

/* Reads "Name:\t<hex>" from a task's status; false if it is gone. */
static int task_cap(pid_t tid, const char *name, uint64_t *out)
{
	char path[64], buf[4096];
	size_t nlen = strlen(name);
	ssize_t n;
	char *line;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	for (line = buf; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, name, nlen) && line[nlen] == ':') {
			*out = strtoull(line + nlen + 1, NULL, 16);
			return 1;
		}
	}
	return 0;
}

/* Counts the other threads still permitted more than `keep`, signalling them if
 * `send`; those blocking `sig` for now are counted apart. */
static int signal_stragglers(int sig, uint64_t keep, struct sl_caps_result *out, int send)
{
	pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
	struct dirent *e;
	int pending = 0;
	DIR *dir;

	out->threads = 0;
	out->blocked = 0;
	dir = opendir("/proc/self/task");
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		uint64_t prm, blk;

		if (tid <= 0)
			continue;
		out->threads++;
		if (tid == self || !task_cap(tid, "CapPrm", &prm) || !(prm & ~keep))
			continue;
		/* Queued even if blocked: a thread that blocks it for a moment acts on it once it unblocks. */
		if (send)
			syscall(SYS_tgkill, pid, tid, sig);
		if (task_cap(tid, "SigBlk", &blk) && (blk & (1ULL << (sig - 1))))
			out->blocked++;
		else
			pending++;
	}
	closedir(dir);
	return pending;
}

int sl_drop_caps(uint64_t keep, struct sl_caps_result *out)
{
	struct timespec wait = { 0, 2 * 1000 * 1000 };
	struct __user_cap_data_struct d[2];
	/* Near the top of the real-time range: glibc keeps the bottom ones, Node uses none. */
	int sig = SIGRTMAX - 1, round, err, pending = 0, blocked_rounds = 0;
	struct sigaction sa;
	FILE *f;

	memset(out, 0, sizeof(*out));
	f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		int last;

		if (fscanf(f, "%d", &last) == 1)
			drop_last_cap = last;
		fclose(f);
	}
	drop_keep = keep;
	/* Left installed afterwards: a signal still queued for a thread must never meet the default action (exit). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_drop_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);

	err = drop_this_thread();
	if (err)
		return err;
	/* Threads started meanwhile by a thread not yet done are caught by the next round. */
	for (round = 0; round < 250; round++) {
		/* Re-sent every 20 ms: a thread busy in the kernel gets to it late, not never. */
		pending = signal_stragglers(sig, keep, out, round % 10 == 0);
		if (pending < 0 || (pending == 0 && out->blocked == 0))
			break;
		/* Only threads blocking the signal left, for 100 ms: they block it for good. */
		blocked_rounds = pending == 0 ? blocked_rounds + 1 : 0;
		if (blocked_rounds >= 50)
			break;
		nanosleep(&wait, NULL);
	}
	out->failed = pending > 0 ? pending : 0;
	if (!caps_get(d))
		out->effective = ((uint64_t)d[1].effective << 32) | d[0].effective;
	task_cap((pid_t)syscall(SYS_gettid), "CapBnd", &out->bounding);
	out->bounding_dropped = !(out->bounding & ~keep);
	return 0;
}
