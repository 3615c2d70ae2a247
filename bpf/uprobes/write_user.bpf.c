// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Never attached: loaded once to ask the kernel whether a uprobe program may call
 * bpf_probe_write_user (refused in lockdown and without CAP_SYS_ADMIN), before
 * --inject-traceparent is promised. The verifier's answer is the only reliable one: the
 * lockdown file is absent where securityfs is not mounted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("uprobe")
int may_write_user(struct pt_regs *ctx)
{
	char byte = 0;
	bpf_probe_write_user((void *)0, &byte, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
