/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Part of capture.bpf.c, included there only: OpenSSL's SSL_write and SSL_read. */

/*
 * SSL_write's bytes go to user space at entry, so that they come before anything the peer
 * does on reading them. Only what a write says it wrote counts, though: a write made before
 * the handshake completed fails and is made again with the same bytes (Node.js's
 * https.Agent does), a write on a full socket likewise (nginx), and one in partial-write
 * mode writes a part and is called again with the rest. The return notes the bytes given
 * but not written (conn_state.resend); the next write skips that many, already sent.
 */
struct ssl_write {
	__u64 ssl;
	__u64 num;     /* bytes given */
	__u64 written; /* SSL_write_ex's size_t *written, 0 for SSL_write */
};

/* key: tid; value: the thread's SSL_write in progress. Entry → return. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ssl_write);
} ssl_writes SEC(".maps");

static __always_inline int on_write_entry(__u64 ssl, __u64 buf, __s64 num, __u64 written)
{
	__u64 id = bpf_get_current_pid_tgid();
	count(STAT_WRITE_HITS);
	if (!traced(id >> 32) || num <= 0)
		return 0;
	struct conn_state *st = conn_of(id >> 32, ssl);
	if (!st)
		return 0;
	__u64 skip = st->resend < (__u64)num ? st->resend : (__u64)num;
	st->resend -= skip;
	__u64 ts = bpf_ktime_get_ns();
	if ((__u64)num > skip)
		emit_tls(id, st, ssl, DIR_EGRESS, buf + skip, (__u32)(num - skip), ts);
	struct ssl_write w = { .ssl = ssl, .num = num, .written = written };
	__u32 tid = id;
	bpf_map_update_elem(&ssl_writes, &tid, &w, BPF_ANY);
	note_egress_call(id, ssl, ts);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_write, void *ssl, const void *buf, int num)
{
	return on_write_entry((__u64)ssl, (__u64)buf, num, 0);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex, void *ssl, const void *buf, __u64 num, __u64 *written)
{
	return on_write_entry((__u64)ssl, (__u64)buf, (__s64)num, (__u64)written);
}

/* Bytes an SSL call moved: SSL_read/SSL_write return them; the _ex calls return 1 and store them. */
static __always_inline __s64 moved_bytes(long ret, __u64 out)
{
	__s64 len = (int)ret;
	if (!out)
		return len;
	__u64 n = 0;
	if (len != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)out) < 0)
		return 0;
	return n;
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_return, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;
	count(STAT_WRITE_HITS);
	struct ssl_write *w = bpf_map_lookup_elem(&ssl_writes, &tid);
	if (!w)
		return 0;
	struct ssl_write c = *w;
	bpf_map_delete_elem(&ssl_writes, &tid);
	__s64 n = moved_bytes(ret, c.written);
	__u64 written = n <= 0 ? 0 : (__u64)n < c.num ? (__u64)n : c.num;
	if (written == c.num)
		return 0;
	struct conn_key key = { .tgid = id >> 32, .ssl = c.ssl };
	struct conn_state *st = bpf_map_lookup_elem(&conns, &key);
	if (st)
		st->resend += c.num - written;
	return 0;
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

	__s64 len = moved_bytes(ret, c.readbytes);
	if (len <= 0)
		return 0;
	struct conn_state *st = conn_of(id >> 32, c.ssl);
	if (st)
		emit_tls(id, st, c.ssl, DIR_INGRESS, c.buf, (__u32)len, bpf_ktime_get_ns());
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
