/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drains the BPF ring buffer on its own thread into large batches. The
 * number of batches is fixed: when every batch is waiting for JavaScript the
 * thread waits too, the kernel ring fills, and the kernel counts drops.
 */
#ifndef SIDELIGHT_POLLER_H
#define SIDELIGHT_POLLER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

struct sl_batch {
	uint8_t *data; /* records back to back, each padded to 8 bytes */
	size_t used;
	size_t cap;
	uint32_t count;
	unsigned index; /* which of the storage areas given at start */
	struct sl_batch *next;
};

/* Called on the poll thread with a full batch; the receiver gives it back
 * with sl_poller_recycle (from any thread) once it is done with it. */
typedef void (*sl_deliver_fn)(void *ctx, struct sl_batch *b);
/* Called on the poll thread just before it exits. */
typedef void (*sl_exit_fn)(void *ctx);

struct sl_poller_stats {
	uint64_t events, batches, bytes;
	uint64_t waits; /* times the thread waited for JavaScript to return a batch */
	uint64_t rounds; /* times the thread looked at the ring (ticks and wake-ups) */
};

struct sl_poller;

/* storage: nbatches areas of batch_bytes each, owned by the caller and kept
 * until sl_poller_free (the addon's are JavaScript Buffers, so a batch
 * reaches JavaScript without a copy or an allocation). */
struct sl_poller *sl_poller_start(int ring_fd, uint8_t *const *storage, size_t batch_bytes, unsigned nbatches,
				  unsigned tick_ms, unsigned idle_tick_ms, sl_deliver_fn deliver,
				  sl_exit_fn on_exit,
				  void *ctx, char *err, size_t errlen);
void sl_poller_recycle(struct sl_poller *p, struct sl_batch *b);
/* Asks the thread to drain what is left and exit; returns at once. */
void sl_poller_request_stop(struct sl_poller *p);
void sl_poller_stats(struct sl_poller *p, struct sl_poller_stats *out);
/* Joins the (exited) thread and frees everything but the storage. */
void sl_poller_free(struct sl_poller *p);

#endif
