// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ingest benchmark producer: every getppid() of one process emits `burst` small TLS data
 * events, in the real event layout, so the agent's reader and decoder are measured on
 * the records they meet in production without a uprobe's cost in the way.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "capture.h"

#define PAYLOAD 64

const volatile __u32 producer_tgid = 0;
const volatile __u32 burst = 32;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps"); /* 0: produced, 1: dropped */

static __always_inline void add(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &i);
	if (v)
		*v += 1;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int produce(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) != producer_tgid)
		return 0;
	for (__u32 i = 0; i < 64 && i < burst; i++) {
		struct data_event *e =
			bpf_ringbuf_reserve(&events, offsetof(struct data_event, data) + PAYLOAD, 0);
		if (!e) {
			add(1);
			continue;
		}
		e->kind = EVENT_DATA;
		e->tgid = id >> 32;
		e->tid = (__u32)id;
		e->direction = DIR_INGRESS;
		e->last = 1;
		e->ts_ns = bpf_ktime_get_ns();
		e->conn = 0x55550000 + (i & 7);
		e->call_pos = 0;
		e->call_len = PAYLOAD;
		e->chunk_off = 0;
		e->data_len = PAYLOAD;
		__builtin_memset(e->data, 'x', PAYLOAD);
		bpf_ringbuf_submit(e, 0);
		add(0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
