// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmarks' floor: programs that only count, attached where upspan attaches its own
 * (the syscall hooks, the same uprobes). What a target pays with these is what the traps
 * alone cost; upspan's cost above it is the work its programs and the agent do.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* [0]: every program run; [1]: the uprobes' alone. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline int hit(void)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&hits, &zero);
	if (v)
		*v += 1;
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_sys_enter, struct pt_regs *regs, long nr)
{
	return hit();
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	return hit();
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_sock_send, struct sock *sk, int ret, int flags)
{
	return hit();
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_sock_recv, struct sock *sk, int ret, int flags)
{
	return hit();
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return hit();
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(floor_sock_destroy, struct sock *sk)
{
	return hit();
}

/* Attached to each syscalls:sys_enter_* / sys_exit_* tracepoint upspan uses. */
SEC("tracepoint")
int floor_tracepoint(void *ctx)
{
	return hit();
}

/* Attached at each uprobe site (entry, return or a Go RET). */
SEC("uprobe")
int floor_uprobe(struct pt_regs *ctx)
{
	__u32 one = 1;
	__u64 *v = bpf_map_lookup_elem(&hits, &one);
	if (v)
		*v += 1;
	return hit();
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
