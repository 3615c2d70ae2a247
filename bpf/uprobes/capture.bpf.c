// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The conversation capture: the bytes traced processes read and write on their
 * connections, numbered per direction so user space can reassemble them exactly.
 *
 * - TLS: OpenSSL SSL_write/SSL_write_ex at entry (one hit per write call), SSL_read/
 *   SSL_read_ex at entry and return (two hits per read call). The socket under an SSL* is
 *   learnt from the first socket syscall made inside an SSL call on the same thread.
 * - Plain sockets: the read and write syscall families, at entry (arguments) and exit
 *   (bytes moved), on TCP sockets only, skipping ciphertext (syscalls inside an SSL call,
 *   or a connection that opens with a TLS record) and connections user space gave up on.
 *
 * Syscall tracepoints stand in for kprobes, which may be unavailable. Uprobes are attached
 * once per file, tracepoints once: the traced_tgids map says whose calls count.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "capture.h"

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define MSG_PEEK 2

/* Most bytes captured per SSL call; the rest is reported by length only. */
const volatile __u32 capture_bytes = CHUNK_BYTES;
/* Tell user space of every exec on the host (it is looking for processes to trace). */
const volatile __u8 watch_exec = 0;

/* key: tgid; value: enum trace_flags. Only these processes' calls are captured. */
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
	__type(value, struct data_event);
} data_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct socket_event);
} socket_scratch SEC(".maps");

/* key: which counter; value: its per-CPU count. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32); /* enum capture_stat: array maps take integer keys only */
	__type(value, __u64);
} stats SEC(".maps");

/* Keep the enums in the object's BTF: user space reads their values there. */
const enum event_kind *_event_kind __attribute__((unused));
const enum direction *_direction __attribute__((unused));
const enum capture_stat *_stat __attribute__((unused));
const enum event_source *_source __attribute__((unused));
const enum trace_flags *_flags __attribute__((unused));
const struct process_event *_process_event __attribute__((unused));

static __always_inline void count_n(__u32 stat, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &stat);
	if (v)
		*v += n;
}

static __always_inline void count(__u32 stat)
{
	count_n(stat, 1);
}

static __always_inline bool traced(__u32 tgid)
{
	return bpf_map_lookup_elem(&traced_tgids, &tgid) != NULL;
}

/* A plain socket's stream offsets. */
struct sock_state {
	__u64 pos[2];
};

/* key: struct sock *; value: its stream offsets. Removed when the process closes it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sock_state);
} socks SEC(".maps");

/*
 * key: struct sock *; value: unused. Plain sockets whose bytes are not shipped: ciphertext
 * (the TLS probes give the plaintext) and connections user space found no parser for.
 * Written by both sides; LRU, as a socket closed by another process is never seen closing.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} ignored_socks SEC(".maps");

/* A plain-socket syscall in progress on a thread: its arguments, for its exit. */
struct sock_call {
	__u64 sk;
	__u64 buf;	/* the buffer, or the iovec array when iovcnt > 0 */
	__u64 ts;	/* entry time */
	__s32 fd;
	__u32 iovcnt;
	__u8 direction;
	__u8 no_data;	/* sendfile: bytes moved, none to copy */
};

/* key: tid; value: the thread's plain-socket syscall in progress. Entry → exit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct sock_call);
} sock_calls SEC(".maps");

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

/* Fills in a data event's header for a call that moved len bytes from stream offset pos. */
static __always_inline struct data_event *data_header(__u64 id, __u8 source, __u64 conn,
						      __u8 dir, __u64 pos, __u32 len, __u64 ts)
{
	__u32 zero = 0;
	struct data_event *e = bpf_map_lookup_elem(&data_scratch, &zero);
	if (!e)
		return NULL;
	e->kind = EVENT_DATA;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->direction = dir;
	e->source = source;
	e->ts_ns = ts;
	e->conn = conn;
	e->call_pos = pos;
	e->call_len = len;
	return e;
}

/* Sends bytes [off, off + n) of the call, read from buf, as one chunk event. */
static __always_inline void send_chunk(struct data_event *e, __u64 buf, __u32 off, __u64 n,
				       bool last)
{
	/* Keep n's bound in the register the verifier checks. */
	asm volatile("%0 &= 0x7fff" : "+r"(n));
	if (n > CHUNK_BYTES)
		return;
	if (n > 0 && bpf_probe_read_user(e->data, n, (void *)buf) < 0)
		n = 0;
	e->chunk_off = off;
	e->data_len = n;
	e->last = last;
	if (bpf_ringbuf_output(&events, e, offsetof(struct data_event, data) + n, wakeup_flags()) < 0)
		count(STAT_DROPS);
	else
		count(STAT_EVENTS);
}

/* Sends the first `captured` bytes of one buffer, in chunks. */
static __always_inline void send_buffer(struct data_event *e, __u64 buf, __u32 captured)
{
	for (__u32 i = 0; i < MAX_CHUNKS; i++) {
		__u32 off = i * CHUNK_BYTES;
		if (off >= captured && i > 0)
			break;
		__u32 n = captured - off;
		if (n > CHUNK_BYTES)
			n = CHUNK_BYTES;
		send_chunk(e, buf + off, off, n, off + n >= captured);
	}
}

struct iovec_user {
	__u64 base;
	__u64 len;
};

/*
 * Sends the first `captured` bytes spread over an iovec array, one chunk per buffer. The
 * chunks stay contiguous: capture stops at the first buffer not taken whole.
 */
static __always_inline void send_iovecs(struct data_event *e, __u64 iov, __u32 iovcnt,
					__u32 captured)
{
	__u32 off = 0;
	for (__u32 i = 0; i < MAX_IOVECS; i++) {
		struct iovec_user v = {};
		if (i >= iovcnt || off >= captured ||
		    bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(v))) < 0) {
			send_chunk(e, 0, off, 0, true); /* marks the call's end */
			return;
		}
		__u64 n = v.len < captured - off ? v.len : captured - off;
		bool partial = n > CHUNK_BYTES;
		if (partial)
			n = CHUNK_BYTES;
		bool last = partial || off + n >= captured || i + 1 == MAX_IOVECS;
		if (n > 0 || last)
			send_chunk(e, v.base, off, n, last);
		if (last)
			return;
		off += n;
	}
}

/* ---- TLS: OpenSSL ---- */

/* Sends the plaintext of one SSL call and advances its stream offset. */
static __always_inline void emit_tls(__u64 id, __u64 ssl, __u8 dir, __u64 buf, __u32 len,
				     __u64 ts)
{
	struct conn_state *st = conn_of(id >> 32, ssl);
	if (!st || dir > DIR_EGRESS)
		return;
	__u64 pos = st->pos[dir];
	st->pos[dir] = pos + len;
	struct data_event *e = data_header(id, SOURCE_TLS, ssl, dir, pos, len, ts);
	if (e)
		send_buffer(e, buf, len < capture_bytes ? len : capture_bytes);
}

static __always_inline int on_write(struct pt_regs *ctx, __u64 ssl, __u64 buf, __s64 num)
{
	__u64 id = bpf_get_current_pid_tgid();
	count(STAT_WRITE_HITS);
	if (!traced(id >> 32) || num <= 0)
		return 0;
	__u64 ts = bpf_ktime_get_ns();
	emit_tls(id, ssl, DIR_EGRESS, buf, (__u32)num, ts);
	/* The socket syscall that follows, on this thread, names the connection's socket. */
	struct ssl_call call = { .ssl = ssl, .ts = ts, .direction = DIR_EGRESS };
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

/* ---- TLS: Go's crypto/tls ---- */

/*
 * (*crypto/tls.Conn).Write(b []byte) and Read(b []byte), Go's register ABI: the receiver in
 * RAX, b's pointer and length in RBX and RCX, n in RAX at return. Plain uprobes only, never
 * uretprobes (Go moves stacks): Read is probed at entry and at each RET, paired by the
 * goroutine's g (R14), which stays the same for one call even if the goroutine moves to
 * another thread while it waits for data.
 */
struct go_read_key {
	__u32 tgid;
	__u32 _pad;
	__u64 g;
};

struct go_read {
	__u64 conn;
	__u64 buf;
};

/* key: (tgid, g); value: the Read in progress on that goroutine. Entry → RET. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_read_key);
	__type(value, struct go_read);
} go_reads SEC(".maps");

SEC("uprobe")
int go_tls_write(struct pt_regs *ctx)
{
	return on_write(ctx, ctx->ax, ctx->bx, (__s64)ctx->cx);
}

SEC("uprobe")
int go_tls_read(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	count(STAT_READ_ENTRY_HITS);
	if (!traced(id >> 32))
		return 0;
	struct go_read_key key = { .tgid = id >> 32, .g = ctx->r14 };
	struct go_read r = { .conn = ctx->ax, .buf = ctx->bx };
	bpf_map_update_elem(&go_reads, &key, &r, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_tls_read_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	count(STAT_READ_RETURN_HITS);
	struct go_read_key key = { .tgid = id >> 32, .g = ctx->r14 };
	struct go_read *r = bpf_map_lookup_elem(&go_reads, &key);
	if (!r)
		return 0;
	struct go_read c = *r;
	bpf_map_delete_elem(&go_reads, &key);
	__s64 n = (__s64)ctx->ax;
	if (n > 0)
		emit_tls(id, c.conn, DIR_INGRESS, c.buf, (__u32)n, bpf_ktime_get_ns());
	return 0;
}

/* ---- Sockets ---- */

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

/* Sends a socket event (kind EVENT_SOCKET or EVENT_CLOSE) with the socket's addresses. */
static __always_inline void send_socket(__u64 id, __u32 kind, __u8 source, __u64 conn,
					struct sock *sk, int fd, __u64 call_ts, __u64 now)
{
	__u32 zero = 0;
	struct socket_event *e = bpf_map_lookup_elem(&socket_scratch, &zero);
	if (!e)
		return;
	e->kind = kind;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->fd = fd;
	e->ts_ns = now;
	e->call_ts = call_ts;
	e->conn = conn;
	e->sock = (__u64)sk;
	e->source = source;
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
	count(STAT_SOCKETS);
	if (bpf_ringbuf_output(&events, e, sizeof(*e), wakeup_flags()) < 0)
		count(STAT_DROPS);
}

static __always_inline void ignore_sock(struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u8 one = 1;
	bpf_map_update_elem(&ignored_socks, &key, &one, BPF_ANY);
}

/*
 * A socket syscall made inside an SSL call on this thread: the socket under that SSL*, told
 * to user space when it changes. Its bytes are ciphertext, so the plain path ignores them.
 * False when the call is a stale write (a memory BIO's), so the syscall is not the call's.
 */
static __always_inline bool learn_tls_socket(__u64 id, struct ssl_call *call, int fd)
{
	__u32 tid = id;
	__u64 ssl = call->ssl, call_ts = call->ts, now = bpf_ktime_get_ns();
	/* A write's socket syscall comes right after its entry: forget the call so later
	 * syscalls of this thread are not taken for it. Reads end at their return probe. */
	if (call->direction == DIR_EGRESS) {
		bpf_map_delete_elem(&ssl_calls, &tid);
		if (now - call_ts > EGRESS_CALL_TTL_NS)
			return false;
	}
	struct sock *sk = socket_of(fd);
	if (!sk)
		return true;
	struct conn_state *st = conn_of(id >> 32, ssl);
	if (!st || st->sock == (__u64)sk)
		return true;
	st->sock = (__u64)sk;
	ignore_sock(sk);
	send_socket(id, EVENT_SOCKET, SOURCE_TLS, ssl, sk, fd, call_ts, now);
	return true;
}

/* TCP only: UDP datagrams and local IPC carry nothing we parse. */
static __always_inline bool is_tcp(struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return (family == AF_INET || family == AF_INET6) && BPF_CORE_READ(sk, sk_type) == SOCK_STREAM;
}

/* Entry of a read or write syscall: note its arguments for the exit, on TCP sockets. */
static __always_inline int on_io_enter(int fd, __u64 buf, __u32 iovcnt, __u8 dir, bool no_data)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id, tgid = id >> 32;
	__u32 *flags = bpf_map_lookup_elem(&traced_tgids, &tgid);
	if (!flags)
		return 0;
	struct ssl_call *call = bpf_map_lookup_elem(&ssl_calls, &tid);
	if (call && learn_tls_socket(id, call, fd))
		return 0;
	if (!(*flags & TRACE_SOCKETS))
		return 0;
	count(STAT_SYSCALLS);
	struct sock *sk = socket_of(fd);
	if (!sk || !is_tcp(sk))
		return 0;
	__u64 key = (__u64)sk;
	if (bpf_map_lookup_elem(&ignored_socks, &key))
		return 0;
	struct sock_call c = {
		.sk = key,
		.buf = buf,
		.ts = bpf_ktime_get_ns(),
		.fd = fd,
		.iovcnt = iovcnt,
		.direction = dir,
		.no_data = no_data,
	};
	bpf_map_update_elem(&sock_calls, &tid, &c, BPF_ANY);
	return 0;
}

/* A TLS record header: content type 20–23, version 3.x. */
static __always_inline bool looks_like_tls(__u64 buf)
{
	__u8 h[3] = {};
	if (bpf_probe_read_user(h, sizeof(h), (void *)buf) < 0)
		return false;
	return h[0] >= 20 && h[0] <= 23 && h[1] == 3 && h[2] <= 4;
}

/* Exit of a read or write syscall: send the bytes it moved. */
static __always_inline int on_io_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;
	struct sock_call *call = bpf_map_lookup_elem(&sock_calls, &tid);
	if (!call)
		return 0;
	struct sock_call c = *call;
	bpf_map_delete_elem(&sock_calls, &tid);
	if (ret <= 0)
		return 0;
	__u32 len = ret;

	struct sock_state *st = bpf_map_lookup_elem(&socks, &c.sk);
	if (!st) {
		/* First bytes seen: a connection that opens with a TLS record is ciphertext
		 * that no SSL probe decrypts (a runtime with its own TLS); leave it. */
		__u64 first = c.buf;
		if (c.iovcnt > 0 && bpf_probe_read_user(&first, sizeof(first), (void *)c.buf) < 0)
			return 0;
		if (!c.no_data && looks_like_tls(first)) {
			ignore_sock((struct sock *)c.sk);
			count_n(STAT_IGNORED_BYTES, len);
			return 0;
		}
		struct sock_state zero = {};
		bpf_map_update_elem(&socks, &c.sk, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&socks, &c.sk);
		if (!st)
			return 0;
		send_socket(id, EVENT_SOCKET, SOURCE_SOCKET, c.sk, (struct sock *)c.sk, c.fd, c.ts,
			    bpf_ktime_get_ns());
	}
	__u32 dir = c.direction & 1; /* a bound the verifier keeps */
	__u64 pos = st->pos[dir];
	st->pos[dir] = pos + len;
	struct data_event *e = data_header(id, SOURCE_SOCKET, c.sk, dir, pos, len, c.ts);
	if (!e)
		return 0;
	__u32 captured = c.no_data ? 0 : len < capture_bytes ? len : capture_bytes;
	if (c.iovcnt > 0)
		send_iovecs(e, c.buf, c.iovcnt, captured);
	else
		send_buffer(e, c.buf, captured);
	return 0;
}

/* recvmsg/sendmsg: the iovec array of a struct user_msghdr. */
static __always_inline int on_msg_enter(int fd, __u64 msg, __u8 dir)
{
	struct user_msghdr m = {};
	if (bpf_probe_read_user(&m, sizeof(m), (void *)msg) < 0)
		return 0;
	__u32 n = m.msg_iovlen;
	return on_io_enter(fd, (__u64)m.msg_iov, n ? n : 1, dir, false);
}

SEC("tracepoint/syscalls/sys_enter_read")
int sys_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return on_io_enter(ctx->args[0], ctx->args[1], 0, DIR_INGRESS, false);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int sys_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[3] & MSG_PEEK) /* the bytes stay queued: the next read moves them */
		return 0;
	return on_io_enter(ctx->args[0], ctx->args[1], 0, DIR_INGRESS, false);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int sys_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return on_io_enter(ctx->args[0], ctx->args[1], ctx->args[2], DIR_INGRESS, false);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int sys_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] & MSG_PEEK)
		return 0;
	return on_msg_enter(ctx->args[0], ctx->args[1], DIR_INGRESS);
}

SEC("tracepoint/syscalls/sys_enter_write")
int sys_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return on_io_enter(ctx->args[0], ctx->args[1], 0, DIR_EGRESS, false);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int sys_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return on_io_enter(ctx->args[0], ctx->args[1], 0, DIR_EGRESS, false);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int sys_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return on_io_enter(ctx->args[0], ctx->args[1], ctx->args[2], DIR_EGRESS, false);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int sys_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return on_msg_enter(ctx->args[0], ctx->args[1], DIR_EGRESS);
}

/* sendfile(out_fd, in_fd, …): bytes sent straight from a file (nginx bodies). */
SEC("tracepoint/syscalls/sys_enter_sendfile64")
int sys_enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	return on_io_enter(ctx->args[0], 0, 0, DIR_EGRESS, true);
}

SEC("tracepoint/syscalls/sys_exit_read")
int sys_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return on_io_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int sys_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return on_io_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_readv")
int sys_exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	return on_io_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int sys_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	return on_io_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_write")
int sys_exit_write(struct trace_event_raw_sys_exit *ctx)
{
	return on_io_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int sys_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	return on_io_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_writev")
int sys_exit_writev(struct trace_event_raw_sys_exit *ctx)
{
	return on_io_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int sys_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	return on_io_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int sys_exit_sendfile64(struct trace_event_raw_sys_exit *ctx)
{
	return on_io_exit(ctx->ret);
}

/* close(fd) of a plain socket we numbered: the connection is over; forget it. */
SEC("tracepoint/syscalls/sys_enter_close")
int sys_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!traced(tgid))
		return 0;
	int fd = ctx->args[0];
	struct sock *sk = socket_of(fd);
	if (!sk)
		return 0;
	__u64 key = (__u64)sk;
	bpf_map_delete_elem(&ignored_socks, &key);
	if (bpf_map_delete_elem(&socks, &key) == 0)
		send_socket(id, EVENT_CLOSE, SOURCE_SOCKET, key, sk, fd, 0, bpf_ktime_get_ns());
	return 0;
}

/* ---- Processes ---- */

static __always_inline void send_process(__u32 kind, __u32 tgid)
{
	struct process_event e = { .kind = kind, .tgid = tgid, .ts_ns = bpf_ktime_get_ns() };
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	if (bpf_ringbuf_output(&events, &e, sizeof(e), wakeup_flags()) < 0)
		count(STAT_DROPS);
}

/* Any process's exec, when user space watches for new processes: it decides whom to trace. */
SEC("tracepoint/sched/sched_process_exec")
int sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (watch_exec || traced(tgid))
		send_process(EVENT_EXEC, tgid);
	return 0;
}

/* A traced process's last thread ended: stop capturing for it (its pid may be reused). */
SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(struct trace_event_raw_sched_process_template *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if ((__u32)id != tgid || !traced(tgid))
		return 0;
	bpf_map_delete_elem(&traced_tgids, &tgid);
	send_process(EVENT_EXIT, tgid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
