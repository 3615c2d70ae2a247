/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Part of capture.bpf.c, included there only: OpenSSL's SSL_write and SSL_read. */

SEC("uprobe")
int BPF_KPROBE(ssl_write, void *ssl, const void *buf, int num)
{
	return on_write(ctx, (__u64)ssl, (__u64)buf, num);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex, void *ssl, const void *buf, __u64 num)
{
	return on_write(ctx, (__u64)ssl, (__u64)buf, (__s64)num);
}

static __always_inline int on_read_entry(__u64 ssl, __u64 buf, __u64 readbytes)
{
	__u64 id = bpf_get_current_pid_tgid();
	count(STAT_READ_ENTRY_HITS);
	if (!traced(id >> 32))
		return 0;
	struct ssl_call call = {
		.ssl = ssl,
		.buf = buf,
		.readbytes = readbytes,
		.ts = bpf_ktime_get_ns(),
		.direction = DIR_INGRESS,
	};
	__u32 tid = id;
	bpf_map_update_elem(&ssl_calls, &tid, &call, BPF_ANY);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_read, void *ssl, void *buf, int num)
{
	return on_read_entry((__u64)ssl, (__u64)buf, 0);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return on_read_entry((__u64)ssl, (__u64)buf, (__u64)readbytes);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_return, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;
	count(STAT_READ_RETURN_HITS);
	struct ssl_call *call = bpf_map_lookup_elem(&ssl_calls, &tid);
	if (!call)
		return 0;
	struct ssl_call c = *call;
	bpf_map_delete_elem(&ssl_calls, &tid);
	if (c.direction != DIR_INGRESS)
		return 0;

	__s64 len = (int)ret; /* SSL_read: bytes read; SSL_read_ex: 1 on success */
	if (c.readbytes) {
		__u64 n = 0;
		if (len != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)c.readbytes) < 0)
			return 0;
		len = n;
	}
	if (len <= 0)
		return 0;
	emit_tls(id, c.ssl, DIR_INGRESS, c.buf, (__u32)len, bpf_ktime_get_ns());
	return 0;
}

/* Tells user space that the connection under an SSL* is over (a socket_event, no socket). */
static __always_inline void send_tls_close(__u64 id, __u64 ssl)
{
	__u32 zero = 0;
	struct socket_event *e = bpf_map_lookup_elem(&socket_scratch, &zero);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = EVENT_CLOSE;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->fd = -1;
	e->ts_ns = bpf_ktime_get_ns();
	e->conn = ssl;
	e->source = SOURCE_TLS;
	if (bpf_ringbuf_output(&events, e, sizeof(*e), wakeup_flags()) < 0)
		count(STAT_DROPS);
}

/*
 * SSL_free(ssl): the connection is over, and the next SSL_new may return the same address
 * (nginx's workers do, connection after connection): its stream offsets, socket and every
 * verdict user space made about it end here.
 */
SEC("uprobe")
int BPF_KPROBE(ssl_free, void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!traced(id >> 32))
		return 0;
	struct conn_key key = { .tgid = id >> 32, .ssl = (__u64)ssl };
	if (bpf_map_delete_elem(&conns, &key) == 0)
		send_tls_close(id, (__u64)ssl);
	return 0;
}
