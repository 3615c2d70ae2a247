/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel socket behind a file descriptor of the current task, shared by the capture
 * (the socket a syscall moves bytes on) and the Go probes (the socket under a net.Conn).
 * Needs vmlinux.h and bpf_core_read.h included first.
 */
#ifndef UPSPAN_SOCKET_OF_H
#define UPSPAN_SOCKET_OF_H

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10

/* The struct sock behind fd in the current task, or NULL when fd is not a socket. */
static __always_inline struct sock *socket_of(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	unsigned int max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;
	if (fd < 0 || (unsigned int)fd >= max)
		return NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) < 0 || !f)
		return NULL;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

#endif /* UPSPAN_SOCKET_OF_H */
