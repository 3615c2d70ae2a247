// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * OpenSSL plaintext capture: SSL_write/SSL_write_ex at entry (one hit per write call),
 * SSL_read/SSL_read_ex at entry and return (two hits per read call). The socket under an
 * SSL* is learnt from the first socket syscall made inside an SSL call on the same thread
 * (syscall tracepoints: kprobes may be unavailable). Attached once per file, for every
 * process: the traced_tgids map says whose calls count.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tls.h"

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10

/* Most bytes captured per SSL call; the rest is reported by length only. */
const volatile __u32 capture_bytes = TLS_CHUNK;

/* key: tgid; value: unused. Only these processes' calls are captured. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} traced_tgids SEC(".maps");

/* An SSL call in progress on a thread. */
struct ssl_call {
	__u64 ssl;
	__u64 buf;
	__u64 readbytes; /* SSL_read_ex's size_t *readbytes, 0 for SSL_read */
	__u64 ts;	 /* entry time */
	__u8 direction;
};

/* A write's socket syscall follows its entry at once; an older entry is stale (a memory
 * BIO whose bytes the application writes out later, maybe for another connection). */
#define EGRESS_CALL_TTL_NS 10000000ULL

/* key: tid; value: the thread's SSL call in progress. Read entry → read return. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

struct conn_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ssl;
};

struct conn_state {
	__u64 pos[2]; /* stream offset per direction */
	__u64 sock;   /* struct sock * last seen under this SSL* */
};

/* key: (tgid, SSL*); value: stream offsets and socket. LRU: SSL_free is not probed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

/* 2 MiB: the reader keeps up with ~1.5 M small events/s, and the agent maps the ring
 * twice (for wrap-around), so every MiB here is two MiB of its resident memory. */
#define EVENTS_BYTES (2 << 20)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_BYTES);
} events SEC(".maps");

/*
 * The agent reads the ring on a short timer, so an event wakes it only when the ring is
 * filling up. A wake-up per event would cost the traced thread an irq_work and the agent
 * a scheduler round trip for every SSL call.
 */
static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > EVENTS_BYTES / 4 ? BPF_RB_FORCE_WAKEUP
										 : BPF_RB_NO_WAKEUP;
}

/* Event assembly space: a data event is too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tls_data_event);
} data_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tls_socket_event);
} socket_scratch SEC(".maps");

/* key: which counter; value: its per-CPU count. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TLS_STAT_MAX);
	__type(key, __u32); /* enum tls_stat: array maps take integer keys only */
	__type(value, __u64);
} stats SEC(".maps");

/* Keep the enums in the object's BTF: user space reads their values there. */
const enum tls_event_kind *_event_kind __attribute__((unused));
const enum tls_direction *_direction __attribute__((unused));
const enum tls_stat *_stat __attribute__((unused));

static __always_inline void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &stat);
	if (v)
		*v += 1;
}

static __always_inline bool traced(__u32 tgid)
{
	return bpf_map_lookup_elem(&traced_tgids, &tgid) != NULL;
}

static __always_inline struct conn_state *conn_of(__u32 tgid, __u64 ssl)
{
	struct conn_key key = { .tgid = tgid, .ssl = ssl };
	struct conn_state *st = bpf_map_lookup_elem(&conns, &key);
	if (st)
		return st;
	struct conn_state zero = {};
	bpf_map_update_elem(&conns, &key, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&conns, &key);
}

/* Sends the plaintext of one call as chunk events and advances the stream offset. */
static __always_inline void emit_data(__u64 id, __u64 ssl, __u8 dir, __u64 buf, __u32 len,
				      __u64 ts)
{
	__u32 tgid = id >> 32, zero = 0;
	struct conn_state *st = conn_of(tgid, ssl);
	struct tls_data_event *e = bpf_map_lookup_elem(&data_scratch, &zero);
	if (!st || !e || dir > TLS_EGRESS)
		return;

	__u64 pos = st->pos[dir];
	st->pos[dir] = pos + len;

	__u32 captured = len < capture_bytes ? len : capture_bytes;
	e->kind = TLS_EVENT_DATA;
	e->tgid = tgid;
	e->tid = (__u32)id;
	e->direction = dir;
	e->ts_ns = ts;
	e->conn = ssl;
	e->call_pos = pos;
	e->call_len = len;

	for (__u32 i = 0; i < TLS_MAX_CHUNKS; i++) {
		__u32 off = i * TLS_CHUNK;
		if (off >= captured)
			break;
		__u64 n = captured - off;
		if (n > TLS_CHUNK)
			n = TLS_CHUNK;
		e->chunk_off = off;
		e->last = off + n >= captured;
		/* Keep n's bound in the register the verifier checks. */
		asm volatile("%0 &= 0x7fff" : "+r"(n));
		if (n > TLS_CHUNK)
			break;
		if (bpf_probe_read_user(e->data, n, (void *)(buf + off)) < 0)
			n = 0;
		e->data_len = n;
		if (bpf_ringbuf_output(&events, e, offsetof(struct tls_data_event, data) + n, wakeup_flags()) < 0)
			count(TLS_STAT_DROPS);
		else
			count(TLS_STAT_EVENTS);
	}
}

static __always_inline int on_write(struct pt_regs *ctx, __u64 ssl, __u64 buf, __s64 num)
{
	__u64 id = bpf_get_current_pid_tgid();
	count(TLS_STAT_WRITE_HITS);
	if (!traced(id >> 32) || num <= 0)
		return 0;
	__u64 ts = bpf_ktime_get_ns();
	emit_data(id, ssl, TLS_EGRESS, buf, (__u32)num, ts);
	/* The socket syscall that follows, on this thread, names the connection's socket. */
	struct ssl_call call = { .ssl = ssl, .ts = ts, .direction = TLS_EGRESS };
	__u32 tid = id;
	bpf_map_update_elem(&ssl_calls, &tid, &call, BPF_ANY);
	return 0;
}

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
	count(TLS_STAT_READ_ENTRY_HITS);
	if (!traced(id >> 32))
		return 0;
	struct ssl_call call = {
		.ssl = ssl,
		.buf = buf,
		.readbytes = readbytes,
		.ts = bpf_ktime_get_ns(),
		.direction = TLS_INGRESS,
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
	count(TLS_STAT_READ_RETURN_HITS);
	struct ssl_call *call = bpf_map_lookup_elem(&ssl_calls, &tid);
	if (!call)
		return 0;
	struct ssl_call c = *call;
	bpf_map_delete_elem(&ssl_calls, &tid);
	if (c.direction != TLS_INGRESS)
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
	emit_data(id, c.ssl, TLS_INGRESS, c.buf, (__u32)len, bpf_ktime_get_ns());
	return 0;
}

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

static __always_inline int on_socket_syscall(int fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id, tgid = id >> 32, zero = 0;
	struct ssl_call *call = bpf_map_lookup_elem(&ssl_calls, &tid);
	if (!call)
		return 0;
	struct sock *sk = socket_of(fd);
	if (!sk)
		return 0;
	__u64 ssl = call->ssl, call_ts = call->ts, now = bpf_ktime_get_ns();
	/* A write's socket syscall comes right after its entry: forget the call so later
	 * syscalls of this thread are not taken for it. Reads end at their return probe. */
	if (call->direction == TLS_EGRESS) {
		bpf_map_delete_elem(&ssl_calls, &tid);
		if (now - call_ts > EGRESS_CALL_TTL_NS)
			return 0;
	}

	struct conn_state *st = conn_of(tgid, ssl);
	if (!st || st->sock == (__u64)sk)
		return 0;
	st->sock = (__u64)sk;

	struct tls_socket_event *e = bpf_map_lookup_elem(&socket_scratch, &zero);
	if (!e)
		return 0;
	e->kind = TLS_EVENT_SOCKET;
	e->tgid = tgid;
	e->tid = tid;
	e->fd = fd;
	e->ts_ns = now;
	e->call_ts = call_ts;
	e->conn = ssl;
	e->sock = (__u64)sk;
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__builtin_memset(e->local_addr, 0, sizeof(e->local_addr));
	__builtin_memset(e->peer_addr, 0, sizeof(e->peer_addr));
	if (e->family == AF_INET) {
		BPF_CORE_READ_INTO((__be32 *)e->local_addr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__be32 *)e->peer_addr, sk, __sk_common.skc_daddr);
	} else if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO((struct in6_addr *)e->local_addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)e->peer_addr, sk, __sk_common.skc_v6_daddr);
	}
	count(TLS_STAT_SOCKETS);
	if (bpf_ringbuf_output(&events, e, sizeof(*e), wakeup_flags()) < 0)
		count(TLS_STAT_DROPS);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int sys_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return on_socket_syscall((int)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_write")
int sys_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return on_socket_syscall((int)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int sys_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return on_socket_syscall((int)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int sys_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return on_socket_syscall((int)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int sys_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return on_socket_syscall((int)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int sys_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return on_socket_syscall((int)ctx->args[0]);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
