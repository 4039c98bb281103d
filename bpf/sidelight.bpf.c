// SPDX-License-Identifier: Apache-2.0
/*
 * Every program in one translation unit, compiled three times (Makefile).
 * One unit rather than the BPF static linker: the linker in Debian 12's
 * bpftool cannot link a kfunc extern (the fast build's bpf_rdonly_cast).
 * maps.bpf.c comes first: it defines the shared maps the others declare.
 */
#include "maps.bpf.c"
#include "conn.bpf.c"
#include "data.bpf.c"
#include "tcp.bpf.c"
#include "tls.bpf.c"
