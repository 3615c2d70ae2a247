/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Part of capture.bpf.c, included there only: the plain-socket read and write syscall
 * families, the socket under an SSL call, and close.
 */

#include "socket_of.h"

#define SOCK_STREAM 1
#define MSG_PEEK 2

/* A plain socket's stream offsets, and the process whose socket it is. */
struct sock_state {
	__u64 pos[2];
	__u32 tgid; /* the close may be seen outside the process (a reset, in softirq) */
	__u32 _pad;
};

/* key: struct sock *; value: its stream offsets. Removed when the connection ends. */
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

/* Most bytes of small buffers packed into one chunk: half of it, so that an offset and a
 * length, each bounded by it, stay within data[]. */
#define PACK_BYTES (CHUNK_BYTES / 2)

struct iovec_user {
	__u64 base;
	__u64 len;
};

/* Sends the `fill` bytes packed in data[], which start at `off` within the call. */
static __always_inline void send_packed(struct data_event *e, __u32 off, __u32 fill, bool last)
{
	asm volatile("%0 &= 0x7fff" : "+r"(fill));
	if (fill > CHUNK_BYTES)
		return;
	e->chunk_off = off;
	e->data_len = fill;
	e->last = last;
	if (bpf_ringbuf_output(&events, e, offsetof(struct data_event, data) + fill,
			       wakeup_flags()) < 0)
		count(STAT_DROPS);
	else
		count(STAT_EVENTS);
}

/*
 * Sends the first `captured` bytes spread over an iovec array. Small buffers are packed into
 * one chunk, up to PACK_BYTES (HTTP/2 and gRPC writers pass dozens: one event, not one per
 * buffer); a larger buffer gets a chunk of its own. The chunks stay contiguous: capture
 * stops at the first buffer not taken whole. A first buffer larger than a chunk is sent in
 * several, as a plain write's would be (a request head of 16 KiB or more, as nginx writes
 * it upstream, comes whole within capture_bytes).
 */
static __always_inline void send_iovecs(struct data_event *e, __u64 iov, __u32 iovcnt,
					__u32 captured)
{
	__u32 off = 0;	/* offset within the call of data[0] */
	__u32 fill = 0; /* bytes in data[] */
	bool last = false;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < MAX_IOVECS && !last; i++) {
		struct iovec_user v = {};
		if (i >= iovcnt || off + fill >= captured ||
		    bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(v))) < 0)
			break;
		if (i == 0 && v.len > CHUNK_BYTES) {
			send_buffer(e, v.base, v.len < captured ? v.len : captured);
			return;
		}
		__u64 n = v.len < captured - off - fill ? v.len : captured - off - fill;
		if (n == 0)
			continue;
		if (fill > 0 && fill + n > PACK_BYTES) {
			send_packed(e, off, fill, false);
			off += fill;
			fill = 0;
		}
		if (n > CHUNK_BYTES) {
			n = CHUNK_BYTES;
			last = true;
		}
		if (fill == 0) {
			asm volatile("%0 &= 0x7fff" : "+r"(n));
			if (n > CHUNK_BYTES ||
			    bpf_probe_read_user(e->data, n, (void *)v.base) < 0)
				break;
		} else {
			/* fill + n ≤ PACK_BYTES, so each is below it: bounds the verifier can check. */
			asm volatile("%0 &= 0x1fff" : "+r"(fill));
			asm volatile("%0 &= 0x3fff" : "+r"(n));
			if (n > PACK_BYTES ||
			    bpf_probe_read_user(e->data + fill, n, (void *)v.base) < 0)
				break;
		}
		fill += n;
	}
	send_packed(e, off, fill, true); /* also marks the call's end */
}

/*
 * Sends a socket event (kind EVENT_SOCKET or EVENT_CLOSE) with the socket's addresses. Built
 * on the stack, not in a per-CPU scratch: a connection's end may be seen in softirq, which
 * can interrupt a program on the same CPU halfway through its own event.
 */
static __always_inline void send_socket(__u64 id, __u32 kind, __u8 source, __u64 conn,
					struct sock *sk, int fd, __u64 call_ts, __u64 now)
{
	struct socket_event ev = {};
	struct socket_event *e = &ev;
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
 * `known`: the socket when the hook gave it (the socket tracepoints), else looked up from fd.
 */
static __always_inline bool learn_tls_socket(__u64 id, struct ssl_call *call, int fd,
					     struct sock *known)
{
	__u32 tid = id;
	__u64 ssl = call->ssl, call_ts = call->ts, now = bpf_ktime_get_ns();
	struct sock *sk = known ? known : socket_of(fd);
	/* A write's ciphertext goes to a socket: I/O on a pipe or eventfd in between is not it. */
	if (!sk && call->direction == DIR_EGRESS)
		return false;
	/* A write's socket syscall comes right after its entry: forget the call so later
	 * syscalls of this thread are not taken for it. Reads end at their return probe. */
	if (call->direction == DIR_EGRESS) {
		bpf_map_delete_elem(&egress_calls, &tid);
		if (now - call_ts > EGRESS_CALL_TTL_NS)
			return false;
	}
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

/*
 * A read or write family call's facts, in *c: false when it is not to be captured (not a
 * traced process's, made inside an SSL call — its socket is learnt instead — not on a TCP
 * socket, or on one ignored). `known` is the socket when the hook was given it, else NULL:
 * it is looked up from fd.
 */
static __always_inline bool io_call(int fd, struct sock *known, __u64 buf, __u32 iovcnt,
				    __u8 dir, bool no_data, struct sock_call *c)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id, tgid = id >> 32;
	if (!maybe_traced(tgid))
		return false;
	__u32 *flags = bpf_map_lookup_elem(&traced_tgids, &tgid);
	if (!flags)
		return false;
	struct ssl_call *call = bpf_map_lookup_elem(&ssl_calls, &tid);
	if (!call)
		call = bpf_map_lookup_elem(&egress_calls, &tid);
	if (call && learn_tls_socket(id, call, fd, known))
		return false;
	if (!(*flags & TRACE_SOCKETS))
		return false;
	count(STAT_SYSCALLS);
	struct sock *sk = known ? known : socket_of(fd);
	if (!sk || !is_tcp(sk))
		return false;
	__u64 key = (__u64)sk;
	if (bpf_map_lookup_elem(&ignored_socks, &key))
		return false;
	c->sk = key;
	c->buf = buf;
	c->ts = bpf_ktime_get_ns();
	c->fd = fd;
	c->iovcnt = iovcnt;
	c->direction = dir;
	c->no_data = no_data;
	return true;
}

/* A syscall hook's entry: keeps the call's facts for its exit, on this thread. */
static __always_inline int hold_call(struct sock_call *c)
{
	__u32 tid = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&sock_calls, &tid, c, BPF_ANY);
	return 0;
}

/* Entry of a read or write syscall: note its arguments for the exit, on TCP sockets. */
static __always_inline int on_io_enter(int fd, __u64 buf, __u32 iovcnt, __u8 dir, bool no_data)
{
	struct sock_call c = {};
	return io_call(fd, NULL, buf, iovcnt, dir, no_data, &c) ? hold_call(&c) : 0;
}

/* A TLS record header: content type 20–23, version 3.x. */
static __always_inline bool looks_like_tls(__u64 buf)
{
	__u8 h[3] = {};
	if (bpf_probe_read_user(h, sizeof(h), (void *)buf) < 0)
		return false;
	return h[0] >= 20 && h[0] <= 23 && h[1] == 3 && h[2] <= 4;
}

/* A captured call is done, having moved ret bytes: send them. */
static __always_inline int io_done(struct sock_call *call, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sock_call c = *call;
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
		struct sock_state fresh = { .tgid = id >> 32 };
		bpf_map_update_elem(&socks, &c.sk, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&socks, &c.sk);
		if (!st)
			return 0;
		send_socket(id, EVENT_SOCKET, SOURCE_SOCKET, c.sk, (struct sock *)c.sk, c.fd, c.ts,
			    bpf_ktime_get_ns());
	}
	__u32 dir = c.direction & 1; /* a bound the verifier keeps */
	__u64 pos = st->pos[dir];
	st->pos[dir] = pos + len;
	/* Read bytes are stamped when they arrived (a read may wait long for them), written
	 * bytes when they began to leave, as SSL_read and SSL_write are. */
	__u64 ts = dir == DIR_INGRESS ? bpf_ktime_get_ns() : c.ts;
	struct data_event *e = data_header(id, SOURCE_SOCKET, c.sk, dir, pos, len, ts);
	if (!e)
		return 0;
	__u32 captured = c.no_data ? 0 : len < capture_bytes ? len : capture_bytes;
	if (c.iovcnt > 0)
		send_iovecs(e, c.buf, c.iovcnt, captured);
	else
		send_buffer(e, c.buf, captured);
	return 0;
}

/* Exit of a read or write syscall: send the bytes it moved. */
static __always_inline int on_io_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!maybe_traced(id >> 32))
		return 0;
	__u32 tid = id;
	struct sock_call *call = bpf_map_lookup_elem(&sock_calls, &tid);
	if (!call)
		return 0;
	struct sock_call c = *call;
	bpf_map_delete_elem(&sock_calls, &tid);
	return io_done(&c, ret);
}

/* recvmsg/sendmsg: the iovec array of a struct user_msghdr. */
static __always_inline bool msg_call(int fd, struct sock *known, __u64 msg, __u8 dir,
				     struct sock_call *c)
{
	struct user_msghdr m = {};
	if (bpf_probe_read_user(&m, sizeof(m), (void *)msg) < 0)
		return false;
	__u32 n = m.msg_iovlen;
	return io_call(fd, known, (__u64)m.msg_iov, n ? n : 1, dir, false, c);
}

static __always_inline int on_msg_enter(int fd, __u64 msg, __u8 dir)
{
	struct sock_call c = {};
	return msg_call(fd, NULL, msg, dir, &c) ? hold_call(&c) : 0;
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

/*
 * A plain socket's connection is over: forget it, and tell its process's conversation so
 * when it was numbered. Told as the owner's event whoever's context this is.
 */
static __always_inline int close_sock(struct sock *sk, int fd)
{
	__u64 key = (__u64)sk;
	bpf_map_delete_elem(&ignored_socks, &key);
	struct sock_state *st = bpf_map_lookup_elem(&socks, &key);
	if (!st)
		return 0;
	__u64 owner = (__u64)st->tgid << 32 | st->tgid;
	if (bpf_map_delete_elem(&socks, &key) == 0)
		send_socket(owner, EVENT_CLOSE, SOURCE_SOCKET, key, sk, fd, 0, bpf_ktime_get_ns());
	return 0;
}

/* close(fd) */
static __always_inline int on_close_enter(int fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!traced(id >> 32))
		return 0;
	struct sock *sk = socket_of(fd);
	return sk ? close_sock(sk, fd) : 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int sys_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return on_close_enter(ctx->args[0]);
}
