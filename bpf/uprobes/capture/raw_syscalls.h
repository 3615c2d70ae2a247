/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Part of capture.bpf.c, included there only: the same read, write and close handlers as
 * sockets.h's per-syscall tracepoints, behind the two BTF raw tracepoints every syscall
 * passes (tp_btf/sys_enter, tp_btf/sys_exit). The kernel then builds no per-syscall trace
 * record before the program runs, and the syscall number is compared before any map is
 * looked at, so other syscalls and untraced processes cost a few instructions. User space
 * attaches either these two or the per-syscall set, never both.
 *
 * x86-64 syscall numbers and argument registers (arch/x86/entry/syscalls/syscall_64.tbl);
 * a 32-bit process's syscalls are numbered otherwise and are not followed here.
 */

#if defined(__TARGET_ARCH_x86)

#define NR_READ 0
#define NR_WRITE 1
#define NR_CLOSE 3
#define NR_READV 19
#define NR_WRITEV 20
#define NR_SENDFILE 40
#define NR_SENDTO 44
#define NR_RECVFROM 45
#define NR_SENDMSG 46
#define NR_RECVMSG 47

/* A read or write family syscall's facts, from its number and registers (see io_call). */
static __always_inline bool io_call_by_nr(long nr, struct pt_regs *regs, struct sock *known,
					  struct sock_call *c)
{
	switch (nr) {
	case NR_READ:
		return io_call(regs->di, known, regs->si, 0, DIR_INGRESS, false, c);
	case NR_RECVFROM:
		if (regs->r10 & MSG_PEEK) /* the bytes stay queued: the next read moves them */
			return false;
		return io_call(regs->di, known, regs->si, 0, DIR_INGRESS, false, c);
	case NR_READV:
		return io_call(regs->di, known, regs->si, regs->dx, DIR_INGRESS, false, c);
	case NR_RECVMSG:
		if (regs->dx & MSG_PEEK)
			return false;
		return msg_call(regs->di, known, regs->si, DIR_INGRESS, c);
	case NR_WRITE:
	case NR_SENDTO:
		return io_call(regs->di, known, regs->si, 0, DIR_EGRESS, false, c);
	case NR_WRITEV:
		return io_call(regs->di, known, regs->si, regs->dx, DIR_EGRESS, false, c);
	case NR_SENDMSG:
		return msg_call(regs->di, known, regs->si, DIR_EGRESS, c);
	case NR_SENDFILE:
		return io_call(regs->di, known, 0, 0, DIR_EGRESS, true, c);
	}
	return false;
}

static __always_inline bool is_io_nr(long nr)
{
	switch (nr) {
	case NR_READ:
	case NR_RECVFROM:
	case NR_READV:
	case NR_RECVMSG:
	case NR_WRITE:
	case NR_SENDTO:
	case NR_WRITEV:
	case NR_SENDMSG:
	case NR_SENDFILE:
		return true;
	}
	return false;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long nr)
{
	if (nr == NR_CLOSE)
		return on_close_enter(regs->di);
	struct sock_call c = {};
	return io_call_by_nr(nr, regs, NULL, &c) ? hold_call(&c) : 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	if (!is_io_nr(regs->orig_ax))
		return 0;
	return on_io_exit(ret);
}

#endif
