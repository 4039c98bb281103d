// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "poller.h"

struct sl_poller {
	struct ring_buffer *rb;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sl_batch *pool; /* all batches, for freeing */
	unsigned npool;
	struct sl_batch *free_list;
	struct sl_batch *cur;
	uint64_t cur_started_ns;
	uint64_t flush_ns;
	atomic_bool stopping;
	sl_deliver_fn deliver;
	sl_exit_fn on_exit;
	void *ctx;
	atomic_uint_fast64_t events, batches, bytes, waits;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static struct sl_batch *acquire(struct sl_poller *p)
{
	struct sl_batch *b;

	pthread_mutex_lock(&p->mu);
	while (!p->free_list) {
		atomic_fetch_add(&p->waits, 1);
		pthread_cond_wait(&p->cv, &p->mu);
	}
	b = p->free_list;
	p->free_list = b->next;
	pthread_mutex_unlock(&p->mu);
	b->used = 0;
	b->count = 0;
	b->next = NULL;
	return b;
}

static void flush(struct sl_poller *p)
{
	struct sl_batch *b = p->cur;

	if (!b || b->count == 0)
		return;
	p->cur = NULL;
	atomic_fetch_add(&p->batches, 1);
	p->deliver(p->ctx, b);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct sl_poller *p = ctx;
	size_t padded = (size + 7) & ~(size_t)7;

	if (p->cur && p->cur->used + padded > p->cur->cap)
		flush(p);
	if (!p->cur) {
		p->cur = acquire(p);
		p->cur_started_ns = now_ns();
	}
	if (padded > p->cur->cap)
		return 0; /* cannot happen: events are far smaller than a batch */
	memcpy(p->cur->data + p->cur->used, data, size);
	if (padded > size)
		memset(p->cur->data + p->cur->used + size, 0, padded - size);
	p->cur->used += padded;
	p->cur->count++;
	atomic_fetch_add(&p->events, 1);
	atomic_fetch_add(&p->bytes, size);
	return 0;
}

static void *run(void *arg)
{
	struct sl_poller *p = arg;

	while (!atomic_load(&p->stopping)) {
		int n = ring_buffer__poll(p->rb, 10);

		if (n < 0 && n != -EINTR)
			break;
		/* Idle, old enough, or half full: hand it over. */
		if (p->cur && (n == 0 || now_ns() - p->cur_started_ns >= p->flush_ns ||
			       p->cur->used >= p->cur->cap / 2))
			flush(p);
	}
	/* The programs are detached by now: what is left in the ring is the
	 * last of it. */
	ring_buffer__consume(p->rb);
	flush(p);
	p->on_exit(p->ctx);
	return NULL;
}

struct sl_poller *sl_poller_start(int ring_fd, size_t batch_bytes, unsigned nbatches,
				  unsigned flush_ms, sl_deliver_fn deliver, sl_exit_fn on_exit,
				  void *ctx, char *err, size_t errlen)
{
	struct sl_poller *p = calloc(1, sizeof(*p));

	if (!p || !(p->pool = calloc(nbatches, sizeof(struct sl_batch)))) {
		snprintf(err, errlen, "out of memory for batch buffers");
		free(p);
		return NULL;
	}
	p->npool = nbatches;
	for (unsigned i = 0; i < nbatches; i++) {
		p->pool[i].data = malloc(batch_bytes);
		p->pool[i].cap = batch_bytes;
		if (!p->pool[i].data) {
			snprintf(err, errlen, "out of memory for batch buffers");
			sl_poller_free(p);
			return NULL;
		}
		p->pool[i].next = p->free_list;
		p->free_list = &p->pool[i];
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->flush_ns = (uint64_t)flush_ms * 1000000ull;
	p->deliver = deliver;
	p->on_exit = on_exit;
	p->ctx = ctx;
	p->rb = ring_buffer__new(ring_fd, on_record, p, NULL);
	if (!p->rb) {
		snprintf(err, errlen, "opening the ring buffer: %s", strerror(errno));
		sl_poller_free(p);
		return NULL;
	}
	if (pthread_create(&p->thread, NULL, run, p)) {
		snprintf(err, errlen, "starting the poll thread: %s", strerror(errno));
		ring_buffer__free(p->rb);
		p->rb = NULL;
		sl_poller_free(p);
		return NULL;
	}
	return p;
}

void sl_poller_recycle(struct sl_poller *p, struct sl_batch *b)
{
	pthread_mutex_lock(&p->mu);
	b->next = p->free_list;
	p->free_list = b;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void sl_poller_request_stop(struct sl_poller *p)
{
	atomic_store(&p->stopping, true);
}

void sl_poller_stats(struct sl_poller *p, struct sl_poller_stats *out)
{
	out->events = atomic_load(&p->events);
	out->batches = atomic_load(&p->batches);
	out->bytes = atomic_load(&p->bytes);
	out->waits = atomic_load(&p->waits);
}

void sl_poller_free(struct sl_poller *p)
{
	if (!p)
		return;
	if (p->rb) {
		pthread_join(p->thread, NULL);
		ring_buffer__free(p->rb);
	}
	for (unsigned i = 0; i < p->npool; i++)
		free(p->pool[i].data);
	free(p->pool);
	free(p);
}
