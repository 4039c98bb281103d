// SPDX-License-Identifier: Apache-2.0
/* The event layout as this build of events.h sees it, so the TypeScript
 * decoder can check at start-up that it reads the same bytes. */
#define NAPI_VERSION 8
#include <stddef.h>
#include "events.h"
#include "layout.h"

struct field {
	const char *strct, *name;
	size_t offset, size;
};

#define F(S, N) { #S, #N, offsetof(struct S, N), sizeof(((struct S *)0)->N) }
static const struct field fields[] = {
	F(sl_header, type), F(sl_header, flags), F(sl_header, size), F(sl_header, ts_ns),
	F(sl_header, tgid), F(sl_header, tid),
	F(sl_tuple, saddr), F(sl_tuple, daddr), F(sl_tuple, sport), F(sl_tuple, dport),
	F(sl_tuple, family),
	F(sl_data_event, hdr), F(sl_data_event, conn_id), F(sl_data_event, stream_pos),
	F(sl_data_event, syscall_bytes), F(sl_data_event, tuple), F(sl_data_event, fd),
	F(sl_data_event, captured), F(sl_data_event, chunk_offset), F(sl_data_event, chunk_len),
	F(sl_data_event, direction), F(sl_data_event, syscall), F(sl_data_event, role),
	F(sl_data_event, klass), F(sl_data_event, comm),
	F(sl_close_event, hdr), F(sl_close_event, conn_id), F(sl_close_event, bytes_sent),
	F(sl_close_event, bytes_received), F(sl_close_event, fd), F(sl_close_event, syscall),
	F(sl_close_event, role), F(sl_close_event, comm),
	F(sl_tls_bind_event, hdr), F(sl_tls_bind_event, tls_id), F(sl_tls_bind_event, conn_id),
	F(sl_tls_bind_event, tuple), F(sl_tls_bind_event, role), F(sl_tls_bind_event, how),
	F(sl_tls_bind_event, filtered), F(sl_tls_bind_event, comm),
};
#undef F

static const struct {
	const char *strct;
	size_t size;
} sizes[] = {
	{ "sl_header", sizeof(struct sl_header) },
	{ "sl_tuple", sizeof(struct sl_tuple) },
	{ "sl_data_event", sizeof(struct sl_data_event) },
	{ "sl_close_event", sizeof(struct sl_close_event) },
	{ "sl_tls_bind_event", sizeof(struct sl_tls_bind_event) },
};

#define C(N) { #N, N }
static const struct {
	const char *name;
	long long value;
} constants[] = {
	C(SL_EV_DATA), C(SL_EV_CLOSE), C(SL_EV_TLS_BIND), C(SL_EV_F_TLS), C(SL_EV_F_SKIPPED), C(SL_EV_F_PIECES), C(SL_DIR_EGRESS), C(SL_DIR_INGRESS),
	C(SL_ROLE_UNKNOWN), C(SL_ROLE_CLIENT), C(SL_ROLE_SERVER),
#define C_CLASS(name, value) C(name),
	SL_CLASSES(C_CLASS)
#undef C_CLASS
	C(SL_SYS_SENDFILE), C(SL_SYS_CLOSE), C(SL_SYS_TCP_STATE), C(SL_SYS_SSL_READ), C(SL_SYS_SSL_WRITE),
	C(SL_MAX_CHUNK), C(SL_MAX_CHUNKS_PER_SYSCALL), C(SL_COMM_LEN), C(SL_MAX_PIDS), C(SL_PORT_WORDS),
};
#undef C

napi_value sl_layout_export(napi_env env, napi_callback_info info)
{
	napi_value root, structs, consts, s, fs, pair, v;

	(void)info;
	napi_create_object(env, &root);
	napi_create_object(env, &structs);
	napi_create_object(env, &consts);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		napi_create_object(env, &s);
		napi_create_object(env, &fs);
		napi_create_uint32(env, sizes[i].size, &v);
		napi_set_named_property(env, s, "size", v);
		napi_set_named_property(env, s, "fields", fs);
		napi_set_named_property(env, structs, sizes[i].strct, s);
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		napi_get_named_property(env, structs, fields[i].strct, &s);
		napi_get_named_property(env, s, "fields", &fs);
		napi_create_array_with_length(env, 2, &pair);
		napi_create_uint32(env, fields[i].offset, &v);
		napi_set_element(env, pair, 0, v);
		napi_create_uint32(env, fields[i].size, &v);
		napi_set_element(env, pair, 1, v);
		napi_set_named_property(env, fs, fields[i].name, pair);
	}
	for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++) {
		napi_create_int64(env, constants[i].value, &v);
		napi_set_named_property(env, consts, constants[i].name, v);
	}
	napi_set_named_property(env, root, "structs", structs);
	napi_set_named_property(env, root, "constants", consts);
	return root;
}
