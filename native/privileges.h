/* SPDX-License-Identifier: Apache-2.0 */
/* Giving up capabilities once the kernel programs are attached. */
#ifndef SIDELIGHT_PRIVILEGES_H
#define SIDELIGHT_PRIVILEGES_H

#include <stdint.h>

struct sl_caps_result {
	uint64_t effective;  /* the calling thread's effective set afterwards */
	uint64_t bounding;   /* its bounding set afterwards */
	int threads;         /* threads of the process looked at, the caller included */
	int failed;          /* threads still holding a capability outside the kept set after 0.5 s */
	int blocked;         /* of the others, threads that block every signal, so keep their set
	                      * (Node before 22.14 has one: its SIGUSR1 inspector thread) */
	int bounding_dropped; /* the bounding set could be cut too (CAP_SETPCAP was held) */
};

/*
 * Keeps only the capabilities in `keep` (bit n = capability n) in every
 * thread of the process: permitted and effective are cut to them,
 * inheritable and ambient are cleared, the bounding set is cut where
 * CAP_SETPCAP allows, and no_new_privs is set. Capabilities are per
 * thread, so each other thread does it in a signal handler.
 * Returns 0, or -errno if the caller's own capset failed.
 */
int sl_drop_caps(uint64_t keep, struct sl_caps_result *out);

#endif
