// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <bpf/libbpf.h>
#include "poller.h"

struct sl_poller {
	struct ring_buffer *rb;
	int epfd;   /* the ring's fd and stopfd: the thread sleeps here */
	int stopfd; /* an eventfd: a stop request ends the sleep at once */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sl_batch *pool; /* all batches, for freeing */
	struct sl_batch *free_list;
	struct sl_batch *cur;
	unsigned tick_ms, idle_tick_ms;
	atomic_bool stopping;
	sl_deliver_fn deliver;
	sl_exit_fn on_exit;
	void *ctx;
	atomic_uint_fast64_t events, batches, bytes, waits, rounds;
};

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
	if (!p->cur)
		p->cur = acquire(p);
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

/*
 * The kernel side wakes this thread only past a watermark (sl_ring_flags),
 * so it mostly drains the ring on a timer: every tick_ms while records keep
 * coming, backing off to idle_tick_ms when the ring stays empty, so an idle
 * node costs a few wake-ups a second and a lone request still leaves within
 * idle_tick_ms. Each round hands its records over as one batch.
 */
static void *run(void *arg)
{
	struct sl_poller *p = arg;
	unsigned tick = p->tick_ms;

	while (!atomic_load(&p->stopping)) {
		struct epoll_event ev[2];
		int m;

		if (epoll_wait(p->epfd, ev, 2, (int)tick) < 0 && errno != EINTR)
			break;
		if (atomic_load(&p->stopping))
			break;
		m = ring_buffer__consume(p->rb);
		if (m < 0 && m != -EINTR)
			break;
		atomic_fetch_add(&p->rounds, 1);
		if (m > 0) {
			flush(p);
			tick = p->tick_ms;
		} else if (tick < p->idle_tick_ms) {
			tick = tick * 2 < p->idle_tick_ms ? tick * 2 : p->idle_tick_ms;
		}
	}
	/* The programs are detached by now: what is left in the ring is the
	 * last of it. */
	ring_buffer__consume(p->rb);
	flush(p);
	p->on_exit(p->ctx);
	return NULL;
}

/* Our own epoll set rather than ring_buffer__poll's, so a stop request can
 * end the sleep: a tick may be long when nothing comes. */
static int watch(struct sl_poller *p, int ring_fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->epfd < 0 || p->stopfd < 0)
		return -1;
	/* Edge-triggered: only a wake-up ends the sleep. Level-triggered, the
	 * ring would read ready whenever a record had come since the last
	 * round, and under load the thread would spin instead of ticking. */
	ev.events = EPOLLIN | EPOLLET;
	ev.data.fd = ring_fd;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, ring_fd, &ev))
		return -1;
	ev.events = EPOLLIN;
	ev.data.fd = p->stopfd;
	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->stopfd, &ev);
}

struct sl_poller *sl_poller_start(int ring_fd, uint8_t *const *storage, size_t batch_bytes, unsigned nbatches,
				  unsigned tick_ms, unsigned idle_tick_ms, sl_deliver_fn deliver,
				  sl_exit_fn on_exit,
				  void *ctx, char *err, size_t errlen)
{
	struct sl_poller *p = calloc(1, sizeof(*p));

	if (!p || !(p->pool = calloc(nbatches, sizeof(struct sl_batch)))) {
		snprintf(err, errlen, "out of memory for batch buffers");
		free(p);
		return NULL;
	}
	p->epfd = p->stopfd = -1;
	for (unsigned i = 0; i < nbatches; i++) {
		p->pool[i].data = storage[i];
		p->pool[i].cap = batch_bytes;
		p->pool[i].index = i;
		p->pool[i].next = p->free_list;
		p->free_list = &p->pool[i];
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->tick_ms = tick_ms ? tick_ms : 1;
	p->idle_tick_ms = idle_tick_ms > p->tick_ms ? idle_tick_ms : p->tick_ms;
	p->deliver = deliver;
	p->on_exit = on_exit;
	p->ctx = ctx;
	p->rb = ring_buffer__new(ring_fd, on_record, p, NULL);
	if (!p->rb) {
		snprintf(err, errlen, "opening the ring buffer: %s", strerror(errno));
		sl_poller_free(p);
		return NULL;
	}
	if (watch(p, ring_fd)) {
		snprintf(err, errlen, "waiting on the ring buffer: %s", strerror(errno));
		ring_buffer__free(p->rb);
		p->rb = NULL;
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
	uint64_t one = 1;

	atomic_store(&p->stopping, true);
	if (write(p->stopfd, &one, sizeof(one)) < 0) {
		/* Cannot fail on a fresh eventfd; the tick ends the sleep anyway. */
	}
}

void sl_poller_stats(struct sl_poller *p, struct sl_poller_stats *out)
{
	out->events = atomic_load(&p->events);
	out->batches = atomic_load(&p->batches);
	out->bytes = atomic_load(&p->bytes);
	out->waits = atomic_load(&p->waits);
	out->rounds = atomic_load(&p->rounds);
}

void sl_poller_free(struct sl_poller *p)
{
	if (!p)
		return;
	if (p->rb) {
		pthread_join(p->thread, NULL);
		ring_buffer__free(p->rb);
	}
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->stopfd >= 0)
		close(p->stopfd);
	free(p->pool);
	free(p);
}
