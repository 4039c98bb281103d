/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SIDELIGHT_LAYOUT_H
#define SIDELIGHT_LAYOUT_H
#include <node_api.h>
/* layout(): { structs: { name: { size, fields: { field: [offset, size] } } }, constants } */
napi_value sl_layout_export(napi_env env, napi_callback_info info);
#endif
