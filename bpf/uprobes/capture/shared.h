/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Part of capture.bpf.c, included there only: the settings, maps and helpers every part
 * uses — the traced processes, the TLS connections' stream offsets, the ring and its
 * event assembly, the counters, and the sending of one TLS call's plaintext.
 */

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

/*
 * The same processes as bits, one per tgid, for the programs every process on the host runs
 * (socket I/O, syscalls, probes in shared libraries): an array lookup is inlined by the
 * verifier, a hash lookup is not, and an untraced process is the common case. Words
 * [0, PID_WORDS) are written by user space alone, [PID_WORDS, 2 * PID_WORDS) by the fork and
 * exit programs alone (atomically), so neither writer can undo the other's bit. A set bit
 * only sends the call on to traced_tgids, which decides.
 */
#define PID_MAX_LIMIT_ (1u << 22) /* the kernel's PID_MAX_LIMIT on 64-bit */
#define PID_WORDS (PID_MAX_LIMIT_ / 64)
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * PID_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} traced_bits SEC(".maps");

/* False when `tgid` is surely not traced: its bit is clear in both halves. */
static __always_inline bool maybe_traced(__u32 tgid)
{
	__u32 word = tgid / 64;
	__u64 bit = 1ULL << (tgid % 64);
	__u64 *set = bpf_map_lookup_elem(&traced_bits, &word);
	if (!set)
		return true; /* beyond any pid: let traced_tgids say */
	if (*set & bit)
		return true;
	word += PID_WORDS;
	set = bpf_map_lookup_elem(&traced_bits, &word);
	return set && (*set & bit);
}

/* The bit of a process the fork program began to trace (or, cleared, one that exited). */
static __always_inline void set_forked_bit(__u32 tgid, bool on)
{
	__u32 word = PID_WORDS + tgid / 64;
	__u64 bit = 1ULL << (tgid % 64);
	__u64 *set = bpf_map_lookup_elem(&traced_bits, &word);
	if (!set)
		return;
	if (on)
		__sync_fetch_and_or(set, bit);
	else
		__sync_fetch_and_and(set, ~bit);
}

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

/*
 * key: tid; value: the thread's last TLS write, until its socket syscall. Apart from
 * ssl_calls: Node.js reads (SSL_read) between a write into its memory BIO and the socket
 * write that sends it, and that read must not make the write's socket unknown.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct ssl_call);
} egress_calls SEC(".maps");

struct conn_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ssl;
};

struct conn_state {
	__u64 pos[2]; /* stream offset per direction */
	__u64 sock;   /* struct sock * last seen under this SSL* */
	__u64 resend; /* bytes sent to user space by a write that did not write them (openssl.h) */
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
	return maybe_traced(tgid) && bpf_map_lookup_elem(&traced_tgids, &tgid) != NULL;
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

/* Sends the plaintext of one SSL call on connection st and advances its stream offset. */
static __always_inline void emit_tls(__u64 id, struct conn_state *st, __u64 ssl, __u8 dir,
				     __u64 buf, __u32 len, __u64 ts)
{
	if (dir > DIR_EGRESS)
		return;
	__u64 pos = st->pos[dir];
	st->pos[dir] = pos + len;
	struct data_event *e = data_header(id, SOURCE_TLS, ssl, dir, pos, len, ts);
	if (e)
		send_buffer(e, buf, len < capture_bytes ? len : capture_bytes);
}

/* The socket syscall that follows a write's entry, on this thread, names the connection's socket. */
static __always_inline void note_egress_call(__u64 id, __u64 ssl, __u64 ts)
{
	struct ssl_call call = { .ssl = ssl, .ts = ts, .direction = DIR_EGRESS };
	__u32 tid = id;
	bpf_map_update_elem(&egress_calls, &tid, &call, BPF_ANY);
}

static __always_inline int on_write(struct pt_regs *ctx, __u64 ssl, __u64 buf, __s64 num)
{
	__u64 id = bpf_get_current_pid_tgid();
	count(STAT_WRITE_HITS);
	if (!traced(id >> 32) || num <= 0)
		return 0;
	struct conn_state *st = conn_of(id >> 32, ssl);
	if (!st)
		return 0;
	__u64 ts = bpf_ktime_get_ns();
	emit_tls(id, st, ssl, DIR_EGRESS, buf, (__u32)num, ts);
	note_egress_call(id, ssl, ts);
	return 0;
}
