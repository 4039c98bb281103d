/* SPDX-License-Identifier: Apache-2.0 */
/* The one definition of every shared map and setting (see maps.bpf.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#define SL_MAPS_OWNER
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";
