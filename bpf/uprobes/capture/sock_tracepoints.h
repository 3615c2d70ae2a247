/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Part of capture.bpf.c, included there only: the socket layer's own tracepoints instead of
 * syscall ones. sock_send_length and sock_recv_length fire once a socket's sendmsg or
 * recvmsg is done, inside the syscall that asked for it, so the syscall's number and
 * arguments are still in the task's user registers: the same entry and exit handlers run
 * back to back. No syscall tracepoint is enabled, so the kernel keeps every process's
 * syscalls on their fast path, and only socket I/O reaches a program (file and pipe I/O
 * never does). A connection's end is read from TCP (inet_sock_set_state, tcp_destroy_sock),
 * not from the close syscall: see sock_state_change.
 */

#if defined(__TARGET_ARCH_x86)

/* The current syscall's number and arguments, as the task entered the kernel. */
static __always_inline struct pt_regs *syscall_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* The call's entry and exit facts at once: no map between them, and the socket is the
 * tracepoint's own, not looked up from the fd. */
static __always_inline int on_sock_io(struct sock *sk, long ret)
{
	if (!maybe_traced(bpf_get_current_pid_tgid() >> 32))
		return 0; /* most of the host's socket I/O ends here */
	struct pt_regs *regs = syscall_regs();
	long nr = regs->orig_ax;
	if (!is_io_nr(nr))
		return 0; /* io_uring, splice from a pipe, the kernel's own sockets */
	struct sock_call c = {};
	if (!io_call_by_nr(nr, regs, sk, &c))
		return 0;
	return io_done(&c, ret);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send, struct sock *sk, int ret, int flags)
{
	return on_sock_io(sk, ret);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv, struct sock *sk, int ret, int flags)
{
	if (flags & MSG_PEEK) /* the bytes stay queued: the next read moves them */
		return 0;
	return on_sock_io(sk, ret);
}

#define TCP_ESTABLISHED_ 1
#define TCP_FIN_WAIT1_ 4
#define TCP_CLOSE_WAIT_ 8
#define TCP_LAST_ACK_ 9
#define SHUTDOWN_MASK_ 3 /* RCV_SHUTDOWN | SEND_SHUTDOWN */

/*
 * A connection is over once its process can move no more bytes on it:
 * - the kernel destroys the socket (tcp_destroy_sock): the process has closed it and TCP is
 *   done with it — whatever the order of FINs and resets, and in whatever context, often
 *   softirq;
 * - sooner, in the owner's close(): ESTABLISHED → FIN_WAIT1 or CLOSE_WAIT → LAST_ACK with
 *   both directions shut and nothing left to read. A shutdown of writing alone goes there
 *   too, and its reads go on, as they do after a reset or the peer's FIN moved the socket
 *   to CLOSE with bytes still queued: those end at destruction.
 * Only sockets in socks or ignored_socks are touched, so whose context it is does not
 * matter: the close is told as the socket's owner's.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(sock_state_change, const struct sock *sk, const int oldstate, const int newstate)
{
	if (!((oldstate == TCP_ESTABLISHED_ && newstate == TCP_FIN_WAIT1_) ||
	      (oldstate == TCP_CLOSE_WAIT_ && newstate == TCP_LAST_ACK_)))
		return 0;
	if ((sk->sk_shutdown & SHUTDOWN_MASK_) != SHUTDOWN_MASK_ || sk->sk_receive_queue.qlen)
		return 0;
	return close_sock((struct sock *)sk, -1);
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(sock_destroy, struct sock *sk)
{
	return close_sock(sk, -1);
}

#endif
