/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#pragma once

/* The probed function's entry address. An entry probe may sit a few bytes in, on the first
 * instruction the kernel emulates (src/symbols/entry_site.ts); user space gives that shift as
 * the probe's cookie. */
static __always_inline __u64 entry_ip(struct pt_regs *ctx)
{
	return PT_REGS_IP(ctx) - bpf_get_attach_cookie(ctx);
}
