// SPDX-License-Identifier: Apache-2.0
/*
 * N-API surface of the capture: start/stop one capture session, hand event
 * batches to JavaScript (one call per batch), report program status, stats,
 * the event layout and the clock offset.
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <malloc.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "events.h"
#include "layout.h"
#include "loader.h"
#include "poller.h"
#include "privileges.h"

#define CHECK(env, call)                                                          \
	do {                                                                      \
		if ((call) != napi_ok) {                                          \
			napi_throw_error((env), NULL, "sidelight addon: " #call " failed"); \
			return NULL;                                              \
		}                                                                 \
	} while (0)

/* Most batches a capture may ask for (each one Buffer). */
#define SL_MAX_BATCHES 64

struct session {
	struct sl_loader *loader;
	struct sl_poller *poller;
	napi_threadsafe_function tsfn;
	napi_ref on_closed;
	/* The batch Buffers, made once: JavaScript reads each in place, the
	 * poll thread refills it once it is given back. */
	napi_ref batches[SL_MAX_BATCHES];
	uint32_t nbatches;
	bool stopping;
};

static void release_batches(napi_env env, struct session *s)
{
	for (uint32_t i = 0; i < s->nbatches; i++)
		if (s->batches[i])
			napi_delete_reference(env, s->batches[i]);
	s->nbatches = 0;
}

/* One capture at a time per process: the kernel side is node-wide anyway. */
static struct session *current;
/* Kept after a session ends so the final figures can still be read. */
static uint64_t last_kernel[SL_STAT_MAX];
static struct sl_poller_stats last_poller;

static void deliver(void *ctx, struct sl_batch *b)
{
	struct session *s = ctx;

	if (napi_call_threadsafe_function(s->tsfn, b, napi_tsfn_nonblocking) != napi_ok)
		sl_poller_recycle(s->poller, b);
}

static void poller_exited(void *ctx)
{
	struct session *s = ctx;

	napi_release_threadsafe_function(s->tsfn, napi_tsfn_release);
}

static void call_js(napi_env env, napi_value js_cb, void *ctx, void *data)
{
	struct session *s = ctx;
	struct sl_batch *b = data;
	napi_value buf, count, used, undef, args[3];

	/* The whole Buffer and how much of it holds records: valid until
	 * onBatch returns, when it goes back to the poll thread. */
	if (env && js_cb &&
	    napi_get_reference_value(env, s->batches[b->index], &buf) == napi_ok && buf &&
	    napi_create_uint32(env, b->count, &count) == napi_ok &&
	    napi_create_uint32(env, (uint32_t)b->used, &used) == napi_ok &&
	    napi_get_undefined(env, &undef) == napi_ok) {
		args[0] = buf;
		args[1] = count;
		args[2] = used;
		if (napi_call_function(env, undef, js_cb, 3, args, NULL) == napi_pending_exception) {
			napi_value exc;

			napi_get_and_clear_last_exception(env, &exc);
			napi_fatal_exception(env, exc);
		}
	}
	sl_poller_recycle(s->poller, b);
}

/* Runs on the JS thread once the poll thread has released the function and
 * every queued batch was delivered. */
static void session_finalize(napi_env env, void *data, void *hint)
{
	struct session *s = data;
	napi_value cb, undef;

	(void)hint;
	if (s->poller)
		sl_poller_stats(s->poller, &last_poller);
	sl_loader_stats(s->loader, last_kernel);
	sl_poller_free(s->poller);
	sl_loader_close(s->loader);
	release_batches(env, s);
	if (current == s)
		current = NULL;
	if (napi_get_reference_value(env, s->on_closed, &cb) == napi_ok && cb &&
	    napi_get_undefined(env, &undef) == napi_ok)
		napi_call_function(env, undef, cb, 0, NULL, NULL);
	napi_delete_reference(env, s->on_closed);
	free(s);
}

static bool get_u32(napi_env env, napi_value obj, const char *key, uint32_t *out)
{
	napi_value v;
	bool has = false;

	if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has)
		return false;
	if (napi_get_named_property(env, obj, key, &v) != napi_ok)
		return false;
	return napi_get_value_uint32(env, v, out) == napi_ok;
}

static uint32_t get_list(napi_env env, napi_value obj, const char *key, uint32_t *out, uint32_t max)
{
	napi_value arr, v;
	uint32_t n = 0, x;
	bool has = false, is_arr = false;

	if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has ||
	    napi_get_named_property(env, obj, key, &arr) != napi_ok ||
	    napi_is_array(env, arr, &is_arr) != napi_ok || !is_arr ||
	    napi_get_array_length(env, arr, &n) != napi_ok)
		return 0;
	if (n > max)
		n = max;
	for (uint32_t i = 0; i < n; i++) {
		if (napi_get_element(env, arr, i, &v) != napi_ok || napi_get_value_uint32(env, v, &x) != napi_ok)
			x = 0;
		out[i] = x;
	}
	return n;
}

/* A Buffer property of exactly len bytes copied into out; false when absent. */
static bool get_bytes(napi_env env, napi_value obj, const char *key, void *out, size_t len, bool *bad)
{
	napi_value v;
	bool has = false, is_buf = false;
	void *data;
	size_t n;

	napi_valuetype t;

	if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has ||
	    napi_get_named_property(env, obj, key, &v) != napi_ok ||
	    napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null)
		return false;
	if (napi_is_buffer(env, v, &is_buf) != napi_ok || !is_buf ||
	    napi_get_buffer_info(env, v, &data, &n) != napi_ok || n != len) {
		*bad = true;
		return false;
	}
	memcpy(out, data, len);
	return true;
}

/* start(options, onBatch(buffer, count, used), onClosed()) */
static napi_value start(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3], name;
	static struct sl_load_opts o;
	uint32_t batch_bytes = 1 << 20, nbatches = 8, tick_ms = 5, idle_tick_ms = 40;
	bool bad_bits = false;
	char err[256] = "";
	struct session *s;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 3) {
		napi_throw_type_error(env, NULL, "start(options, onBatch, onClosed)");
		return NULL;
	}
	if (current) {
		napi_throw_error(env, NULL, "a capture is already running in this process");
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	o.chunk_bytes = 4096;
	o.syscall_cap = 16384;
	o.ring_bytes = 8 << 20;
	o.max_conns = 65536;
	o.agent_tgid = getpid();
	get_u32(env, argv[0], "chunkBytes", &o.chunk_bytes);
	get_u32(env, argv[0], "syscallCap", &o.syscall_cap);
	get_u32(env, argv[0], "ringBytes", &o.ring_bytes);
	get_u32(env, argv[0], "maxConnections", &o.max_conns);
	get_u32(env, argv[0], "batchBytes", &batch_bytes);
	get_u32(env, argv[0], "batches", &nbatches);
	get_u32(env, argv[0], "tickMs", &tick_ms);
	get_u32(env, argv[0], "idleTickMs", &idle_tick_ms);
	/* A quarter of the ring: room for the rest of a burst while the poll
	 * thread wakes up. */
	o.wake_bytes = o.ring_bytes / 4;
	get_u32(env, argv[0], "wakeBytes", &o.wake_bytes);
	o.npids = get_list(env, argv[0], "pids", o.pids, SL_MAX_PIDS);
	get_bytes(env, argv[0], "portBits", o.port_bits, sizeof(o.port_bits), &bad_bits);
	if (bad_bits) {
		napi_throw_type_error(env, NULL, "portBits must be a Buffer of 16384 bytes");
		return NULL;
	}
	/* The kernel side trusts these bounds (see SL_MAX_CHUNK). */
	if (o.chunk_bytes < 64 || o.chunk_bytes > SL_MAX_CHUNK ||
	    o.syscall_cap < o.chunk_bytes ||
	    o.syscall_cap > (uint64_t)o.chunk_bytes * SL_MAX_CHUNKS_PER_SYSCALL) {
		snprintf(err, sizeof(err),
			 "chunkBytes must be 64..%d and syscallCap chunkBytes..%d*chunkBytes",
			 SL_MAX_CHUNK, SL_MAX_CHUNKS_PER_SYSCALL);
		napi_throw_range_error(env, NULL, err);
		return NULL;
	}
	if (batch_bytes < 2 * (sizeof(struct sl_data_event) + SL_MAX_CHUNK) || nbatches < 2 ||
	    nbatches > SL_MAX_BATCHES) {
		napi_throw_range_error(env, NULL, "batchBytes too small, or batches not within 2..64");
		return NULL;
	}

	s = calloc(1, sizeof(*s));
	if (!s) {
		napi_throw_error(env, NULL, "out of memory");
		return NULL;
	}
	s->loader = sl_loader_open(&o, err, sizeof(err));
	if (!s->loader) {
		free(s);
		napi_throw_error(env, NULL, err);
		return NULL;
	}
	if (napi_create_reference(env, argv[2], 1, &s->on_closed) != napi_ok ||
	    napi_create_string_utf8(env, "sidelight-batches", NAPI_AUTO_LENGTH, &name) != napi_ok ||
	    napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, s, session_finalize, s,
					    call_js, &s->tsfn) != napi_ok) {
		sl_loader_close(s->loader);
		free(s);
		napi_throw_error(env, NULL, "cannot create the batch callback");
		return NULL;
	}
	uint8_t *storage[SL_MAX_BATCHES];

	for (uint32_t i = 0; i < nbatches; i++) {
		void *data;
		napi_value buf;

		if (napi_create_buffer(env, batch_bytes, &data, &buf) != napi_ok ||
		    napi_create_reference(env, buf, 1, &s->batches[i]) != napi_ok) {
			snprintf(err, sizeof(err), "out of memory for batch buffers");
			napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
			napi_throw_error(env, NULL, err);
			return NULL;
		}
		s->nbatches = i + 1;
		storage[i] = data;
	}
	s->poller = sl_poller_start(sl_loader_ring_fd(s->loader), storage, batch_bytes, nbatches, tick_ms,
				    idle_tick_ms, deliver, poller_exited, s, err, sizeof(err));
	if (!s->poller) {
		/* Nothing was queued: finalize closes the loader and releases the batches. */
		napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);
		napi_throw_error(env, NULL, err);
		return NULL;
	}
	/* Loading parsed the kernel's BTF and the object's relocations in
	 * memory that is free now but stays resident until handed back. */
	malloc_trim(0);
	current = s;
	return NULL;
}

/* Detaches every program, then lets the poll thread drain the ring; onClosed
 * runs when the last batch has been delivered. */
static napi_value stop(napi_env env, napi_callback_info info)
{
	(void)info;
	if (current && !current->stopping) {
		current->stopping = true;
		sl_loader_detach(current->loader);
		sl_poller_request_stop(current->poller);
	}
	napi_value r;
	CHECK(env, napi_get_boolean(env, current != NULL, &r));
	return r;
}

/* skipProcess(tgid, startTicks) / unskipProcess(tgid): true when the kernel map took it. */
static napi_value skip_process(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], r;
	uint32_t tgid = 0;
	int64_t ticks = 0;
	int e = -ESRCH;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc == 2 && napi_get_value_uint32(env, argv[0], &tgid) == napi_ok &&
	    napi_get_value_int64(env, argv[1], &ticks) == napi_ok && current && !current->stopping)
		e = sl_loader_skip_process(current->loader, tgid, (uint64_t)ticks);
	CHECK(env, napi_get_boolean(env, e == 0, &r));
	return r;
}

static napi_value h2_bodies(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], r;
	int64_t id = 0;
	bool wanted = false;
	int e = -ESRCH;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc == 2 && napi_get_value_int64(env, argv[0], &id) == napi_ok && id > 0 &&
	    napi_get_value_bool(env, argv[1], &wanted) == napi_ok && current && !current->stopping)
		e = sl_loader_h2_bodies(current->loader, (uint64_t)id, wanted);
	CHECK(env, napi_get_boolean(env, e == 0, &r));
	return r;
}

static napi_value unskip_process(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], r;
	uint32_t tgid = 0;
	int e = -ESRCH;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc == 1 && napi_get_value_uint32(env, argv[0], &tgid) == napi_ok && current && !current->stopping)
		e = sl_loader_unskip_process(current->loader, tgid);
	CHECK(env, napi_get_boolean(env, e == 0, &r));
	return r;
}

/* attachTls(path, memoryBio): { attached, missing: [symbol] }; throws one line when it cannot. */
static napi_value attach_tls(napi_env env, napi_callback_info info)
{
	size_t argc = 2, len = 0;
	napi_value argv[2], r, arr, v;
	char path[4096];
	bool memory_bio = false;
	struct sl_tls_attach out;
	uint32_t n = 0;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len) != napi_ok ||
	    napi_get_value_bool(env, argv[1], &memory_bio) != napi_ok) {
		napi_throw_type_error(env, NULL, "attachTls(path, memoryBio)");
		return NULL;
	}
	if (!current || current->stopping) {
		napi_throw_error(env, NULL, "no capture is running");
		return NULL;
	}
	if (sl_loader_attach_tls(current->loader, path, memory_bio ? SL_TLS_COOKIE_MEMORY_BIO : 0, &out)) {
		napi_throw_error(env, NULL, out.error);
		return NULL;
	}
	CHECK(env, napi_create_object(env, &r));
	CHECK(env, napi_create_uint32(env, out.attached, &v));
	CHECK(env, napi_set_named_property(env, r, "attached", v));
	CHECK(env, napi_create_array(env, &arr));
	for (int i = 0; i < SL_TLS_PROBES; i++) {
		const char *sym = sl_loader_tls_symbol(i);
		bool dup = false;

		if (!(out.missing & (1u << i)))
			continue;
		/* An entry and a return probe share a symbol: name it once. */
		for (int j = 0; j < i; j++)
			if ((out.missing & (1u << j)) && strcmp(sl_loader_tls_symbol(j), sym) == 0)
				dup = true;
		if (dup)
			continue;
		CHECK(env, napi_create_string_utf8(env, sym, NAPI_AUTO_LENGTH, &v));
		CHECK(env, napi_set_element(env, arr, n++, v));
	}
	CHECK(env, napi_set_named_property(env, r, "missing", arr));
	return r;
}

/* dropCapabilities(keep: bigint): { effective, bounding: bigint; threads, failed, blocked; boundingDropped }. */
static napi_value drop_capabilities(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], r, v;
	uint64_t keep = 0;
	bool lossless = true;
	struct sl_caps_result out;
	char msg[128];
	int err;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || napi_get_value_bigint_uint64(env, argv[0], &keep, &lossless) != napi_ok || !lossless) {
		napi_throw_type_error(env, NULL, "dropCapabilities(keep: bigint)");
		return NULL;
	}
	err = sl_drop_caps(keep, &out);
	if (err) {
		snprintf(msg, sizeof(msg), "dropping capabilities failed: %s", strerror(-err));
		napi_throw_error(env, NULL, msg);
		return NULL;
	}
	CHECK(env, napi_create_object(env, &r));
	CHECK(env, napi_create_bigint_uint64(env, out.effective, &v));
	CHECK(env, napi_set_named_property(env, r, "effective", v));
	CHECK(env, napi_create_bigint_uint64(env, out.bounding, &v));
	CHECK(env, napi_set_named_property(env, r, "bounding", v));
	CHECK(env, napi_create_int32(env, out.threads, &v));
	CHECK(env, napi_set_named_property(env, r, "threads", v));
	CHECK(env, napi_create_int32(env, out.failed, &v));
	CHECK(env, napi_set_named_property(env, r, "failed", v));
	CHECK(env, napi_create_int32(env, out.blocked, &v));
	CHECK(env, napi_set_named_property(env, r, "blocked", v));
	CHECK(env, napi_get_boolean(env, out.bounding_dropped, &v));
	CHECK(env, napi_set_named_property(env, r, "boundingDropped", v));
	return r;
}

static napi_value set_num(napi_env env, napi_value obj, const char *key, double v)
{
	napi_value n;

	if (napi_create_double(env, v, &n) == napi_ok)
		napi_set_named_property(env, obj, key, n);
	return obj;
}

static napi_value stats(napi_env env, napi_callback_info info)
{
	napi_value obj, kernel;
	struct sl_poller_stats ps = last_poller;
	uint64_t k[SL_STAT_MAX];

	(void)info;
	memcpy(k, last_kernel, sizeof(k));
	if (current) {
		sl_poller_stats(current->poller, &ps);
		sl_loader_stats(current->loader, k);
	}
	CHECK(env, napi_create_object(env, &obj));
	CHECK(env, napi_create_object(env, &kernel));
	set_num(env, obj, "events", ps.events);
	set_num(env, obj, "batches", ps.batches);
	set_num(env, obj, "bytes", ps.bytes);
	set_num(env, obj, "rounds", ps.rounds);
	set_num(env, obj, "waits", ps.waits);
	set_num(env, kernel, "ringbufDrops", k[SL_STAT_RINGBUF_DROPS]);
	set_num(env, kernel, "ringbufDropBytes", k[SL_STAT_RINGBUF_DROP_BYTES]);
	set_num(env, kernel, "connectionsOther", k[SL_STAT_CONN_OTHER]);
	set_num(env, kernel, "connectionsFiltered", k[SL_STAT_CONN_FILTERED]);
	set_num(env, kernel, "iovTruncated", k[SL_STAT_IOV_TRUNCATED]);
	set_num(env, kernel, "tcpSendmsgBytes", k[SL_STAT_TCP_SENDMSG_BYTES]);
	set_num(env, kernel, "readFaults", k[SL_STAT_READ_FAULTS]);
	set_num(env, kernel, "ringbufCloseDrops", k[SL_STAT_RINGBUF_CLOSE_DROPS]);
	set_num(env, kernel, "connectionsTls", k[SL_STAT_CONN_TLS]);
	set_num(env, kernel, "tlsCalls", k[SL_STAT_TLS_CALLS]);
	set_num(env, kernel, "tlsUnboundCalls", k[SL_STAT_TLS_UNBOUND_CALLS]);
	set_num(env, kernel, "syscallArgsUnread", k[SL_STAT_SYSCALL_ARGS_UNREAD]);
	set_num(env, kernel, "h2FramingLost", k[SL_STAT_H2_FRAMING_LOST]);
	set_num(env, kernel, "headsUnshipped", k[SL_STAT_HEADS_UNSHIPPED]);
	set_num(env, kernel, "h1FramingLost", k[SL_STAT_H1_FRAMING_LOST]);
	CHECK(env, napi_set_named_property(env, obj, "kernel", kernel));
	return obj;
}

static napi_value programs(napi_env env, napi_callback_info info)
{
	const struct sl_prog_status *ps;
	napi_value arr, o, v;
	size_t n;

	(void)info;
	CHECK(env, napi_create_array(env, &arr));
	if (!current)
		return arr;
	n = sl_loader_programs(current->loader, &ps);
	for (size_t i = 0; i < n; i++) {
		CHECK(env, napi_create_object(env, &o));
		CHECK(env, napi_create_string_utf8(env, ps[i].name, NAPI_AUTO_LENGTH, &v));
		CHECK(env, napi_set_named_property(env, o, "name", v));
		CHECK(env, napi_create_string_utf8(env, ps[i].hook, NAPI_AUTO_LENGTH, &v));
		CHECK(env, napi_set_named_property(env, o, "hook", v));
		CHECK(env, napi_get_boolean(env, ps[i].required, &v));
		CHECK(env, napi_set_named_property(env, o, "required", v));
		CHECK(env, napi_get_boolean(env, ps[i].attached, &v));
		CHECK(env, napi_set_named_property(env, o, "attached", v));
		CHECK(env, napi_create_string_utf8(env, ps[i].error, NAPI_AUTO_LENGTH, &v));
		CHECK(env, napi_set_named_property(env, o, "error", v));
		CHECK(env, napi_set_element(env, arr, i, o));
	}
	return arr;
}

/* Which build of the kernel programs this kernel takes (see sl_kernel_build). */
static napi_value program_build(napi_env env, napi_callback_info info)
{
	napi_value v;

	(void)info;
	CHECK(env, napi_create_string_utf8(env, sl_build_name(sl_kernel_build()), NAPI_AUTO_LENGTH, &v));
	return v;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC, from the tightest of a few samples. */
static napi_value clock_offset(napi_env env, napi_callback_info info)
{
	int64_t best = 0, best_width = INT64_MAX;
	napi_value r;

	(void)info;
	for (int i = 0; i < 8; i++) {
		struct timespec m1, rt, m2;

		clock_gettime(CLOCK_MONOTONIC, &m1);
		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_MONOTONIC, &m2);
		int64_t a = m1.tv_sec * 1000000000LL + m1.tv_nsec;
		int64_t b = m2.tv_sec * 1000000000LL + m2.tv_nsec;
		int64_t r_ns = rt.tv_sec * 1000000000LL + rt.tv_nsec;
		if (b - a < best_width) {
			best_width = b - a;
			best = r_ns - (a + (b - a) / 2);
		}
	}
	CHECK(env, napi_create_bigint_int64(env, best, &r));
	return r;
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{ "start", NULL, start, NULL, NULL, NULL, napi_default, NULL },
		{ "stop", NULL, stop, NULL, NULL, NULL, napi_default, NULL },
		{ "stats", NULL, stats, NULL, NULL, NULL, napi_default, NULL },
		{ "skipProcess", NULL, skip_process, NULL, NULL, NULL, napi_default, NULL },
		{ "unskipProcess", NULL, unskip_process, NULL, NULL, NULL, napi_default, NULL },
		{ "h2Bodies", NULL, h2_bodies, NULL, NULL, NULL, napi_default, NULL },
		{ "attachTls", NULL, attach_tls, NULL, NULL, NULL, napi_default, NULL },
		{ "dropCapabilities", NULL, drop_capabilities, NULL, NULL, NULL, napi_default, NULL },
		{ "programs", NULL, programs, NULL, NULL, NULL, napi_default, NULL },
		{ "programBuild", NULL, program_build, NULL, NULL, NULL, napi_default, NULL },
		{ "clockOffsetNs", NULL, clock_offset, NULL, NULL, NULL, napi_default, NULL },
		{ "layout", NULL, sl_layout_export, NULL, NULL, NULL, napi_default, NULL },
	};

	if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok)
		return NULL;
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
