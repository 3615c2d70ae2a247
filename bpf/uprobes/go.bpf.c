// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go instrumentation: net/http server and client spans and database/sql spans, read from
 * Go's own structures, with parent/child links across goroutines.
 *
 * Plain uprobes only: at a function's entry and at each of its RET instructions (a
 * uretprobe rewrites the return address on a stack Go may move, which crashes the
 * target). Entry and return pair by goroutine id: Go's register ABI keeps the current
 * runtime.g in R14 (its goid is read from there), and a goroutine may change threads
 * between the two. Goroutine ids are never reused, unlike runtime.g structs, so a stale
 * entry can never be mistaken for a new goroutine's.
 *
 * - net/http.serverHandler.ServeHTTP(sh, rw ResponseWriter, req *Request): entry keeps
 *   req (RDI) and rw (RBX its itab, RCX its data: a *http.response, or over HTTP/2 —
 *   which net/http's bundled server also serves through here — a *http2responseWriter)
 *   and makes the goroutine's span context; return reads the request and the status
 *   (from the writer the itab names), and sends the event.
 * - net/http.(*Transport).roundTrip(req *Request) (*Response, error): req in RBX at entry;
 *   *Response in RAX and the error's itab in RBX at return.
 * - database/sql.(*DB).queryDC(ctx, txctx, dc, releaseConn, query string, args) and
 *   (*DB).execDC(ctx, dc, release, query string, args), as Beyla and OpenTelemetry Go
 *   auto-instrumentation choose: every DB/Conn/Tx Query and Exec without a prepared
 *   statement passes here. query is in R10/R11 (queryDC) or R8/R9 (execDC); the error's
 *   itab is in RBX (queryDC: *Rows, error) or RCX (execDC: Result, error) at return.
 * - net/http.(*persistConn).roundTrip(pc, req) and, over HTTP/2,
 *   (*http2clientStream).encodeAndWriteHeaders(cs, req), at their entries only, and the
 *   server's entry: the connection's address pair (and HTTP/2 stream id), for spans across
 *   processes on one host (go_links.h).
 * - net/http.Header.writeSubset, at its entry, only when the user asks for traceparent
 *   injection (go_links.h).
 * - google.golang.org/grpc.(*Server).handleStream, at its entry only: a grpc-go handler's
 *   goroutine gets a stand-in context, joined in user space to its call's span (go_grpc.h).
 * - runtime.newproc1(…) *g, at its returns only: the new g (RAX) already carries its goid
 *   and its creator's (parentGoid), so a goroutine started while a span is current
 *   inherits that span's context with one probe hit per goroutine.
 *
 * Probes attach per file; go_offsets holds each traced process's struct member offsets
 * (from its DWARF, or the table for its Go version): a process without them is not traced.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "go.h"
#include "socket_of.h"
#include "entry_ip.h"

/* key: tgid; value: the process's struct member offsets. Only these processes' hits count:
 * an entry is written whole (a hash map's update replaces the element), never seen half
 * set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct go_offsets);
} go_offsets SEC(".maps");

/* A goroutine of a process: its goid (runtime.g.goid of the g in R14). */
struct g_key {
	__u32 tgid;
	__u32 _pad;
	__u64 goid;
};

/* The span current on a goroutine: what its client and SQL spans are children of. */
struct go_ctx {
	__u8 trace_id[16];
	__u64 span_id;
	__u8 stand_in; /* a grpc-go handler's stand-in (go_grpc.h): its trace is not final */
	__u8 _pad[7];
};

/* key: goroutine; value: its current span. Set by a server entry (deleted at its return)
 * and by newproc1 for goroutines started under a span. LRU: goroutines end unseen, and
 * their ids are never reused, so an old entry is only wasted space. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct g_key);
	__type(value, struct go_ctx);
} g_ctx SEC(".maps");

struct http_call {
	__u64 start_ns;
	__u64 req;	/* *http.Request */
	__u64 rw;	/* server: rw's data word (*http.response, *http2responseWriter) */
	__u64 rw_itab;	/* server: rw's itab: which writer it is */
	__u64 entry_ip; /* server: where ServeHTTP runs, to place the writers' methods */
	struct go_span_ids ids;
};

/* key: goroutine; value: its ServeHTTP in progress. Entry → return. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct g_key);
	__type(value, struct http_call);
} server_calls SEC(".maps");

/* key: goroutine; value: its roundTrip in progress. Entry → return. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct g_key);
	__type(value, struct http_call);
} client_calls SEC(".maps");

struct sql_call {
	__u64 start_ns;
	struct go_span_ids ids;
	__u32 query_len;
	__u8 op;
	char query[GO_SQL_BYTES];
};

/* key: goroutine; value: its queryDC/execDC in progress, with the query text read at
 * entry (it may live on the goroutine's stack, which can move before the return). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct g_key);
	__type(value, struct sql_call);
} sql_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sql_call);
} sql_scratch SEC(".maps");

/*
 * A served request is ~1 KiB of records (its link and its span): 4 MiB hold ~4,000, 140 ms
 * of a 30,000 req/s flood, while the agent is off the CPU. The agent is woken once 256 KiB
 * wait (~9 ms of such a flood), whatever the ring's size.
 */
#define GO_EVENTS_BYTES (4 << 20)
#define GO_WAKE_BYTES (256 << 10)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GO_EVENTS_BYTES);
} go_events SEC(".maps");

/* key: enum go_stat; value: its per-CPU count. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GO_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} go_stats SEC(".maps");

/* Keep the header's types in the BTF, where user space reads them. */
const enum go_event_kind *_go_kind __attribute__((unused));
const enum go_sql_op *_go_op __attribute__((unused));
const enum go_stat *_go_stat __attribute__((unused));
const struct go_http_event *_go_http __attribute__((unused));
const struct go_sql_event *_go_sql __attribute__((unused));

static __always_inline void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&go_stats, &stat);
	if (v)
		*v += 1;
}

/* The agent reads the ring on a short timer; wake it early only once GO_WAKE_BYTES wait. */
static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&go_events, BPF_RB_AVAIL_DATA) > GO_WAKE_BYTES
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

/* The offsets of a traced process, or NULL when its hits do not count. */
static __always_inline struct go_offsets *traced(__u32 tgid)
{
	return bpf_map_lookup_elem(&go_offsets, &tgid);
}

static __always_inline __u64 read_u64(__u64 addr)
{
	__u64 v = 0;
	if (addr)
		bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

/* The current goroutine: the goid of the runtime.g in R14. */
static __always_inline struct g_key goroutine(struct pt_regs *ctx, __u32 tgid,
					      const struct go_offsets *o)
{
	struct g_key key = {.tgid = tgid, .goid = read_u64(ctx->r14 + o->g_goid)};
	return key;
}

static __always_inline __u64 random_u64(void)
{
	__u64 v = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32();
	return v ? v : 1;
}

/* New ids for a span: a child of `parent` (found `via`), or the root of a new trace. */
static __always_inline void new_ids(struct go_span_ids *ids, const struct go_ctx *parent,
				    __u32 via)
{
	ids->injected = 0;
	ids->_pad[0] = ids->_pad[1] = ids->_pad[2] = 0;
	if (parent) {
		__builtin_memcpy(ids->trace_id, parent->trace_id, 16);
		ids->parent_id = parent->span_id;
		ids->via = via;
	} else {
		__u64 hi = random_u64(), lo = random_u64();
		__builtin_memcpy(ids->trace_id, &hi, 8);
		__builtin_memcpy(ids->trace_id + 8, &lo, 8);
		ids->parent_id = 0;
		ids->via = GO_VIA_NONE;
	}
	ids->span_id = random_u64();
}

/* Copies at most `cap` bytes of a Go string (data, len); returns its true length. */
static __always_inline __u32 copy_str(char *dst, __u32 cap, __u64 data, __s64 len)
{
	if (!data || len <= 0)
		return 0;
	__u32 n = len < cap ? (__u32)len : cap;
	if (bpf_probe_read_user(dst, n, (void *)data) < 0)
		return 0;
	return len > 0xffffffffLL ? 0xffffffffu : (__u32)len;
}

/* Copies the Go string at `addr` (a string header: data, len). */
static __always_inline __u32 read_str(char *dst, __u32 cap, __u64 base, __u32 off)
{
	struct {
		__u64 data;
		__s64 len;
	} s = {};
	if (!base || off == GO_OFFSET_ABSENT)
		return 0;
	if (bpf_probe_read_user(&s, sizeof(s), (void *)(base + off)) < 0)
		return 0;
	return copy_str(dst, cap, s.data, s.len);
}

/*
 * An http.Request's first REQ_BULK bytes and its url.URL's first URL_BULK, each read at
 * once: every field a span takes from them lies there in each Go version (offsets.json),
 * and one read costs less than a read per field. They are read into the event's path and
 * query buffers, room until those strings are copied in. A field beyond them, or in a
 * struct that could not be read so far, is read alone.
 */
#define REQ_BULK (GO_PATH_BYTES + GO_QUERY_BYTES)
#define URL_BULK GO_PATH_BYTES
_Static_assert(REQ_BULK <= 256 && URL_BULK <= 256, "bulk_u64's bound");
_Static_assert(__builtin_offsetof(struct go_http_event, query) ==
		       __builtin_offsetof(struct go_http_event, path) + GO_PATH_BYTES,
	       "path and query are one buffer for the bulk reads");

/* The u64 at `off` in a struct at `base` whose first `size` bytes are in `bulk` (ok). */
static __always_inline __u64 bulk_u64(const char *bulk, bool ok, __u32 size, __u64 base,
				      __u32 off)
{
	if (ok && off <= size - 8) {
		__u64 v, at = off;
		/* A bound the verifier keeps, in the register the load uses (size ≤ 256). */
		asm volatile("%0 &= 0xff" : "+r"(at));
		__builtin_memcpy(&v, bulk + at, sizeof(v));
		return v;
	}
	return off == GO_OFFSET_ABSENT ? 0 : read_u64(base + off);
}

/* A Go string's header (data, len) at `off`, as bulk_u64 reads. */
struct go_str {
	__u64 data;
	__s64 len;
};

static __always_inline struct go_str bulk_str(const char *bulk, bool ok, __u32 size, __u64 base,
					      __u32 off)
{
	struct go_str s = {};
	if (off == GO_OFFSET_ABSENT)
		return s;
	s.data = bulk_u64(bulk, ok, size, base, off);
	s.len = (__s64)bulk_u64(bulk, ok, size, base, off + 8);
	return s;
}

/* What a span takes from its *http.Request besides the strings read_request copies. */
struct req_rest {
	struct go_str remote, pattern;
	__u64 pat, tls, proto_major, proto_minor;
};

/* Request fields common to both sides; a server's (`rest`) too. */
static __always_inline void read_request(struct go_http_event *e, const struct go_offsets *o,
					 __u64 req, bool client, struct req_rest *rest)
{
	char *bulk = e->path;
	bool ok = req && bpf_probe_read_user(bulk, REQ_BULK, (void *)req) == 0;
	__u64 url = bulk_u64(bulk, ok, REQ_BULK, req, o->req_url);
	struct go_str method = bulk_str(bulk, ok, REQ_BULK, req, o->req_method);
	struct go_str host = bulk_str(bulk, ok, REQ_BULK, req, o->req_host);
	e->content_length = (__s64)bulk_u64(bulk, ok, REQ_BULK, req, o->req_content_length);
	if (rest) {
		rest->remote = bulk_str(bulk, ok, REQ_BULK, req, o->req_remote_addr);
		rest->pattern = bulk_str(bulk, ok, REQ_BULK, req, o->req_pattern);
		rest->pat = bulk_u64(bulk, ok, REQ_BULK, req, o->req_pat);
		rest->tls = bulk_u64(bulk, ok, REQ_BULK, req, o->req_tls);
		rest->proto_major = bulk_u64(bulk, ok, REQ_BULK, req, o->req_proto_major);
		rest->proto_minor = bulk_u64(bulk, ok, REQ_BULK, req, o->req_proto_minor);
	}
	ok = url && bpf_probe_read_user(bulk, URL_BULK, (void *)url) == 0;
	struct go_str path = bulk_str(bulk, ok, URL_BULK, url, o->url_path);
	struct go_str query = bulk_str(bulk, ok, URL_BULK, url, o->url_raw_query);
	struct go_str scheme = {}, url_host = {};
	if (client) {
		scheme = bulk_str(bulk, ok, URL_BULK, url, o->url_scheme);
		url_host = bulk_str(bulk, ok, URL_BULK, url, o->url_host);
	}
	/* The bulk is spent: the strings go where it was. */
	e->method_len = copy_str(e->method, GO_METHOD_BYTES, method.data, method.len);
	e->path_len = copy_str(e->path, GO_PATH_BYTES, path.data, path.len);
	e->query_len = copy_str(e->query, GO_QUERY_BYTES, query.data, query.len);
	e->scheme_len = copy_str(e->scheme, GO_SCHEME_BYTES, scheme.data, scheme.len);
	e->host_len = copy_str(e->host, GO_HOST_BYTES, url_host.data, url_host.len);
	if (!e->host_len)
		e->host_len = copy_str(e->host, GO_HOST_BYTES, host.data, host.len);
}

static __always_inline struct go_http_event *reserve_http(__u32 kind, __u32 tgid,
							  const struct http_call *call)
{
	struct go_http_event *e = bpf_ringbuf_reserve(&go_events, sizeof(*e), 0);
	if (!e) {
		count(GO_STAT_DROPS);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->tgid = tgid;
	e->start_ns = call->start_ns;
	e->end_ns = bpf_ktime_get_ns();
	e->ids = call->ids;
	return e;
}

/* ---- An incoming traceparent, from Request.Header (map[string][]string) ---- */

#define GO_MAP_CLASSIC 1
#define GO_MAP_SWISS 2
#define TRACEPARENT_LEN 55

static __always_inline int hexval(__u8 c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parses "00-<trace id>-<parent id>-<flags>" into `out`; false when malformed. */
static __always_inline bool parse_traceparent(const __u8 *s, struct go_ctx *out)
{
	if (s[0] != '0' || s[1] != '0' || s[2] != '-' || s[35] != '-' || s[52] != '-')
		return false;
	__u8 any = 0;
	for (int i = 0; i < 16; i++) {
		int hi = hexval(s[3 + 2 * i]), lo = hexval(s[4 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		out->trace_id[i] = (hi << 4) | lo;
		any |= out->trace_id[i];
	}
	__u64 parent = 0;
	for (int i = 0; i < 16; i++) {
		int v = hexval(s[36 + i]);
		if (v < 0)
			return false;
		parent = (parent << 4) | v;
	}
	out->span_id = parent;
	return any && parent;
}

struct go_string {
	__u64 data;
	__s64 len;
};

/* Whether the 16 bytes at `a` and at `b` are equal, compared as two words. */
static __always_inline bool equal16(const void *a, const void *b)
{
	__u64 a0, a1, b0, b1;
	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/* Whether the map key (a Go string) at `key_at` is `name`, its first `len` bytes (≤ 16; the
 * rest zero). http.Header keys are canonical, so one comparison finds a header. */
static __always_inline bool key_is(__u64 key_at, const char name[16], __s64 len)
{
	struct go_string key = {};
	if (bpf_probe_read_user(&key, sizeof(key), (void *)key_at) < 0 || key.len != len)
		return false;
	char got[16] = {};
	if (bpf_probe_read_user(got, len, (void *)key.data) < 0)
		return false;
	return equal16(got, name);
}

/* Key and value of a map[string][]string entry: 16 + 24 bytes. */
#define SLOT_KEY 16
#define SLOT_VALUE 24

/* A swiss-table group: a control word (a byte per slot, high bit set when empty or
 * deleted), then 8 (key, value) slots. Where the value of key `name` is, or 0. */
static __always_inline __u64 value_in_group(__u64 group, const char name[16], __s64 len)
{
	__u64 ctrl = read_u64(group);
	for (int i = 0; i < 8; i++) {
		if ((ctrl >> (8 * i)) & 0x80)
			continue;
		__u64 slot = group + 8 + i * (SLOT_KEY + SLOT_VALUE);
		if (key_is(slot, name, len))
			return slot + SLOT_KEY;
	}
	return 0;
}

#define SWISS_GROUP_BYTES (8 + 8 * (SLOT_KEY + SLOT_VALUE))
/* The most groups of a large swiss map the header search reads. */
#define SEARCH_GROUPS 4
/* log2 of the most buckets of a classic map the traceparent search reads. */
#define TRACEPARENT_MAX_B 3

/* A swiss map's dirPtr and dirLen (at 16 and 24 of its Map), in one read. */
struct swiss_dir {
	__u64 ptr;
	__u64 len;
};

static __always_inline struct swiss_dir swiss_dir(__u64 m)
{
	struct swiss_dir d = {};
	if (bpf_probe_read_user(&d, sizeof(d), (void *)(m + 16)) < 0)
		d.ptr = 0;
	return d;
}

/*
 * Where the request's header `name` keeps its []string, or 0. Only the slots' keys are
 * compared in the search; what a caller reads of the value, it reads once, after it (the
 * verifier then checks that reading once, not once per slot). Classic maps (Go ≤ 1.23):
 * the first 2^max_b buckets, 8 slots each: tophash[8], keys[8], values[8]. Swiss maps
 * (Go 1.24+): a small map's one group (≤ 8 headers), or with `large`, the first SEARCH_GROUPS
 * groups of a one-table directory (Map: dirPtr at 16, dirLen at 24; table: groups' data at
 * 16, length mask at 24). Larger header sets are not searched.
 */
static __always_inline __u64 header_value(__u64 req, const struct go_offsets *o,
					  const char name[16], __s64 len, __u32 max_b, bool large)
{
	if (o->req_header == GO_OFFSET_ABSENT)
		return 0;
	__u64 m = read_u64(req + o->req_header);
	if (!m)
		return 0;
	if (o->header_map == GO_MAP_SWISS) {
		struct swiss_dir d = swiss_dir(m);
		if (!d.ptr)
			return 0;
		if (d.len == 0) /* a small map: dirPtr is its one group */
			return value_in_group(d.ptr, name, len);
		if (!large || d.len != 1)
			return 0;
		__u64 table = read_u64(d.ptr);
		__u64 groups = table ? read_u64(table + 16) : 0;
		__u64 mask = table ? read_u64(table + 24) : 0;
		for (__u64 g = 0; g < SEARCH_GROUPS; g++) {
			if (!groups || g > mask)
				break;
			__u64 at = value_in_group(groups + g * SWISS_GROUP_BYTES, name, len);
			if (at)
				return at;
		}
		return 0;
	}
	if (o->header_map != GO_MAP_CLASSIC)
		return 0;
	__u8 b = 0;
	bpf_probe_read_user(&b, 1, (void *)(m + 9));
	__u64 buckets = read_u64(m + 16);
	if (!buckets || b > max_b)
		return 0;
	for (__u32 i = 0; i < (1u << max_b); i++) {
		if (i >= (1u << b))
			break;
		__u64 bucket = buckets + i * (8 + 8 * (SLOT_KEY + SLOT_VALUE) + 8);
		__u8 tophash[8] = {};
		if (bpf_probe_read_user(tophash, sizeof(tophash), (void *)bucket) < 0)
			return 0;
		for (int j = 0; j < 8; j++) {
			if (tophash[j] < 5) /* empty or evacuated (minTopHash is 5) */
				continue;
			if (key_is(bucket + 8 + j * SLOT_KEY, name, len))
				return bucket + 8 + 8 * SLOT_KEY + j * SLOT_VALUE;
		}
	}
	return 0;
}

/* The first string of the []string at `value_at` into `out`: when `exact`, if it is `len`
 * bytes long; else its first `len` bytes, if it has as many. */
static __always_inline bool first_value(__u64 value_at, void *out, __s64 len, bool exact)
{
	struct go_string first = {};
	__u64 values = value_at ? read_u64(value_at) : 0; /* the slice's array */
	if (!values || bpf_probe_read_user(&first, sizeof(first), (void *)values) < 0 ||
	    (exact ? first.len != len : first.len < len))
		return false;
	return bpf_probe_read_user(out, len, (void *)first.data) == 0;
}

/* The request's "Traceparent" header (in up to 8 classic buckets or 4 groups), parsed. */
static __always_inline bool incoming_traceparent(__u64 req, const struct go_offsets *o,
						 struct go_ctx *out)
{
	const char name[16] = "Traceparent";
	__u8 text[TRACEPARENT_LEN] = {};
	__u64 value_at = header_value(req, o, name, 11, TRACEPARENT_MAX_B, true);
	return first_value(value_at, text, TRACEPARENT_LEN, true) && parse_traceparent(text, out);
}

/* Whether the request is a gRPC call: its Content-Type starts with "application/grpc".
 * Searched only in a small map (≤ 8 headers, Go 1.24+) or a classic map's first 2 buckets:
 * a gRPC request has few headers. */
static __always_inline bool grpc_request(__u64 req, const struct go_offsets *o)
{
	const char name[16] = "Content-Type", grpc[16] = "application/grpc";
	char text[16] = {};
	return first_value(header_value(req, o, name, 12, 1, false), text, 16, false) &&
	       equal16(text, grpc);
}

enum rw_kind {
	RW_UNKNOWN,
	RW_HTTP1, /* *http.response */
	RW_HTTP2, /* *http2responseWriter: net/http's bundled HTTP/2 server */
	RW_XNET,  /* *responseWriter of golang.org/x/net/http2's server */
};

/* rw_itab of a request begun at x/net's runHandler: its writer is x/net's, by type. */
#define RW_ITAB_XNET 1
/* rw_itab of a gRPC call begun at x/net's runHandler in a grpc-go server: no span here. */
#define RW_ITAB_XNET_QUIET 2

/* Which writer a handler got: its itab's first method (Header, the interface's methods
 * being sorted by name), placed relative to ServeHTTP's entry. */
static __always_inline enum rw_kind writer_kind(const struct http_call *call,
						const struct go_offsets *o)
{
	if (call->rw_itab == RW_ITAB_XNET)
		return RW_XNET;
	__u64 header = call->rw_itab ? read_u64(call->rw_itab + 24) : 0; /* itab.fun[0] */
	if (!header)
		return RW_UNKNOWN;
	__u32 rel = (__u32)(header - call->entry_ip);
	if (o->rw_h1_header != GO_OFFSET_ABSENT && rel == o->rw_h1_header)
		return RW_HTTP1;
	if (o->rw_h2_header != GO_OFFSET_ABSENT && rel == o->rw_h2_header)
		return RW_HTTP2;
	if (o->rw_xnet_header != GO_OFFSET_ABSENT && rel == o->rw_xnet_header)
		return RW_XNET;
	return RW_UNKNOWN;
}

/*
 * Where the status a handler wrote lives: in the *http.response, or in the state an HTTP/2
 * writer points to. 0 when unknown: no status rather than a wrong one.
 */
static __always_inline __u64 response_status_at(__u64 rw, enum rw_kind kind,
						const struct go_offsets *o)
{
	if (!rw)
		return 0;
	if (kind == RW_HTTP1)
		return rw + o->response_status;
	__u32 rws_at = kind == RW_HTTP2 ? o->h2_rw_rws
		       : kind == RW_XNET ? o->xnet_rw_rws
					 : GO_OFFSET_ABSENT;
	__u32 status = kind == RW_HTTP2 ? o->h2_rws_status : o->xnet_rws_status;
	if (rws_at == GO_OFFSET_ABSENT || status == GO_OFFSET_ABSENT)
		return 0;
	__u64 rws = read_u64(rw + rws_at);
	return rws ? rws + status : 0;
}

#include "go_links.h"
#include "go_grpc.h"

/* A request's handler starts on goroutine `key`: its span's ids, its links. */
static __always_inline int server_entry(struct pt_regs *ctx, __u32 tgid, struct g_key *key,
					const struct go_offsets *o, __u64 req, __u64 rw,
					__u64 rw_itab)
{
	struct http_call call = {.start_ns = bpf_ktime_get_ns(),
				 .req = req,
				 .rw = rw,
				 .rw_itab = rw_itab,
				 .entry_ip = entry_ip(ctx)};
	/* The caller's trace when the request carries a traceparent, else the traced Go client's
	 * at the other end of the connection (its offer is taken either way), else a new one. */
	struct go_ctx caller = {}, offer = {};
	__u32 via = incoming_traceparent(call.req, o, &caller) ? GO_VIA_TRACEPARENT : GO_VIA_NONE;
	struct go_conn_key conn = {};
	bool linked = server_conn(&call, o, key, &conn);
	if (linked && take_offer(&conn, &offer) && via == GO_VIA_NONE) {
		caller = offer;
		via = GO_VIA_PEER;
	}
	new_ids(&call.ids, via != GO_VIA_NONE ? &caller : NULL, via);
	struct go_ctx current = {.span_id = call.ids.span_id};
	__builtin_memcpy(current.trace_id, call.ids.trace_id, 16);
	bpf_map_update_elem(&server_calls, key, &call, BPF_ANY);
	bpf_map_update_elem(&g_ctx, key, &current, BPF_ANY);
	if (linked && server_link_wanted(&conn, call.start_ns, o))
		send_link(tgid, &call.ids, &conn, true, call.req, o);
	return 0;
}

SEC("uprobe")
int go_server_entry(struct pt_regs *ctx)
{
	count(GO_STAT_SERVER_ENTRY);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o)
		return 0;
	struct g_key key = goroutine(ctx, tgid, o);
	/* Called by x/net's runHandler (behind http2.ConfigureServer): the request is its. */
	struct http_call *outer = bpf_map_lookup_elem(&server_calls, &key);
	if (outer && (outer->rw_itab == RW_ITAB_XNET || outer->rw_itab == RW_ITAB_XNET_QUIET))
		return 0;
	return server_entry(ctx, tgid, &key, o, ctx->di, ctx->cx, ctx->bx);
}

/*
 * key: *http.Request; value: when x/net's runHandler began serving it. An `Upgrade: h2c`
 * request is served twice over the same *http.Request: by net/http's ServeHTTP, whose
 * handler (x/net's h2c) hijacks the connection, and as HTTP/2 stream 1 by runHandler on
 * another goroutine. Its HTTP/1 ServeHTTP then makes no span. An address freed and used
 * again by a later request is told apart by time: that request's ServeHTTP began after.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} xnet_requests SEC(".maps");

/*
 * x/net/http2's (*serverConn).runHandler(rw *responseWriter, req *http.Request, handler):
 * where every request of x/net's own server starts, whether or not it then passes through
 * net/http's ServeHTTP (h2c.NewHandler and ServeConn do not).
 */
SEC("uprobe")
int go_xnet_server_entry(struct pt_regs *ctx)
{
	count(GO_STAT_SERVER_ENTRY);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o)
		return 0;
	__u64 req = ctx->cx;
	/* A grpc-go server mounted on x/net's server (h2c.NewHandler(grpcServer, …)): its calls'
	 * spans come from the bytes, and there is no stream id here to join this one to them. */
	struct g_key key = goroutine(ctx, tgid, o);
	if (o->grpc_st_close != GO_OFFSET_ABSENT && grpc_request(req, o)) {
		/* Held so that the ServeHTTP it may pass through makes none either. */
		struct http_call quiet = {.rw = ctx->bx, .rw_itab = RW_ITAB_XNET_QUIET};
		bpf_map_update_elem(&server_calls, &key, &quiet, BPF_ANY);
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&xnet_requests, &req, &now, BPF_ANY);
	return server_entry(ctx, tgid, &key, o, req, ctx->bx, RW_ITAB_XNET);
}

/* The HTTP call in progress on the current goroutine in `calls` (server_calls or
 * client_calls), if the process is traced; `tgid`, `o` and `key` are filled on the way. */
static __always_inline struct http_call *call_here(struct pt_regs *ctx, void *calls, __u32 *tgid,
						   struct go_offsets **o, struct g_key *key)
{
	*tgid = bpf_get_current_pid_tgid() >> 32;
	*o = traced(*tgid);
	if (!*o)
		return NULL;
	*key = goroutine(ctx, *tgid, *o);
	return bpf_map_lookup_elem(calls, key);
}

/* A request's handler returned: its span. */
static __always_inline int server_end(struct pt_regs *ctx, __u32 tgid, struct g_key *key,
				      const struct go_offsets *o, struct http_call *call)
{
	struct go_http_event *e = reserve_http(GO_EVENT_HTTP_SERVER, tgid, call);
	if (!e)
		goto cleanup;
	struct req_rest r = {};
	read_request(e, o, call->req, false, &r);
	e->remote_len = copy_str(e->remote, GO_REMOTE_BYTES, r.remote.data, r.remote.len);
	e->tls = r.tls != 0;
	if (o->req_pattern != GO_OFFSET_ABSENT)
		e->route_len = copy_str(e->route, GO_ROUTE_BYTES, r.pattern.data, r.pattern.len);
	else if (o->req_pat != GO_OFFSET_ABSENT)
		e->route_len = read_str(e->route, GO_ROUTE_BYTES, r.pat, o->pattern_str);
	e->proto_major = r.proto_major;
	e->proto_minor = r.proto_minor;
	enum rw_kind kind = writer_kind(call, o);
	if (kind == RW_XNET) {
		/* x/net's server speaks HTTP/2 only; an upgraded request still says HTTP/1.1. */
		e->proto_major = 2;
		e->proto_minor = 0;
	}
	if (kind == RW_HTTP1 && e->proto_major == 2) {
		/* "PRI * HTTP/2.0" on an HTTP/1 connection: the h2c preface, handed to a
		 * handler that takes the connection over (x/net's h2c). Not a request. */
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		goto cleanup;
	}
	/* Go's int is 64-bit on amd64; 0 means the handler wrote nothing: 200. */
	__u64 status_at = response_status_at(call->rw, kind, o);
	__s64 status = status_at ? (__s64)read_u64(status_at) : -1;
	e->status = status == 0 ? 200 : (status >= 100 && status <= 999 ? (__s32)status : 0);
	count(GO_STAT_EVENTS);
	bpf_ringbuf_submit(e, wakeup_flags());
cleanup:
	bpf_map_delete_elem(&server_calls, key);
	bpf_map_delete_elem(&g_ctx, key);
	return 0;
}

SEC("uprobe")
int go_server_ret(struct pt_regs *ctx)
{
	count(GO_STAT_SERVER_RET);
	__u32 tgid;
	struct go_offsets *o;
	struct g_key key;
	struct http_call *call = call_here(ctx, &server_calls, &tgid, &o, &key);
	/* A request begun at runHandler ends at its writer's handlerDone. */
	if (!call || call->rw_itab == RW_ITAB_XNET || call->rw_itab == RW_ITAB_XNET_QUIET)
		return 0;
	/* Only a process with x/net's server has requests in xnet_requests. */
	__u64 *upgraded = o->rw_xnet_header != GO_OFFSET_ABSENT
				  ? bpf_map_lookup_elem(&xnet_requests, &call->req)
				  : NULL;
	if (upgraded && *upgraded > call->start_ns) {
		bpf_map_delete_elem(&xnet_requests, &call->req);
		bpf_map_delete_elem(&server_calls, &key);
		bpf_map_delete_elem(&g_ctx, &key);
		return 0;
	}
	return server_end(ctx, tgid, &key, o, call);
}

/*
 * x/net's (*responseWriter).handlerDone(), called by runHandler once the handler returned
 * (not after a panic), while the writer still holds its state: the status is read there,
 * as at runHandler's return the state has gone back to its pool.
 */
SEC("uprobe")
int go_xnet_handler_done(struct pt_regs *ctx)
{
	count(GO_STAT_SERVER_RET);
	__u32 tgid;
	struct go_offsets *o;
	struct g_key key;
	struct http_call *call = call_here(ctx, &server_calls, &tgid, &o, &key);
	if (!call || call->rw != ctx->ax)
		return 0;
	if (call->rw_itab == RW_ITAB_XNET_QUIET) {
		bpf_map_delete_elem(&server_calls, &key);
		return 0;
	}
	if (call->rw_itab != RW_ITAB_XNET)
		return 0;
	return server_end(ctx, tgid, &key, o, call);
}


/* A client request (req, its *http.Request) starts on goroutine `key`. `owner` is 0 for
 * net/http's Transport, RW_ITAB_XNET for x/net's. */
static __always_inline int client_entry(struct pt_regs *ctx, struct g_key *key,
					const struct go_offsets *o, __u64 req, __u64 owner)
{
	struct http_call call = {.start_ns = bpf_ktime_get_ns(), .req = req, .rw_itab = owner};
	struct go_ctx *parent = bpf_map_lookup_elem(&g_ctx, key);
	if (!client_traceparent(&call, parent, key, o))
		new_ids(&call.ids, parent, GO_VIA_GOROUTINE);
	note_h2_request(&call, key, o);
	bpf_map_update_elem(&client_calls, key, &call, BPF_ANY);
	return 0;
}

SEC("uprobe")
int go_client_entry(struct pt_regs *ctx)
{
	count(GO_STAT_CLIENT_ENTRY);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o)
		return 0;
	struct g_key key = goroutine(ctx, tgid, o);
	return client_entry(ctx, &key, o, ctx->bx, 0);
}

/*
 * x/net/http2's (*Transport).RoundTripOpt(req *http.Request, opt RoundTripOpt), where its
 * Transport used directly starts a request. Behind net/http's Transport
 * (http2.ConfigureTransport) it runs inside the probed roundTrip: that request is already
 * roundTrip's.
 */
SEC("uprobe")
int go_xnet_client_entry(struct pt_regs *ctx)
{
	count(GO_STAT_CLIENT_ENTRY);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o)
		return 0;
	struct g_key key = goroutine(ctx, tgid, o);
	if (bpf_map_lookup_elem(&client_calls, &key))
		return 0;
	return client_entry(ctx, &key, o, ctx->bx, RW_ITAB_XNET);
}

/* A client request's round trip returned (*http.Response, error): its span. */
static __always_inline int client_end(struct pt_regs *ctx, __u32 tgid, struct g_key *key,
				      const struct go_offsets *o, struct http_call *call)
{
	struct go_http_event *e = reserve_http(GO_EVENT_HTTP_CLIENT, tgid, call);
	if (!e)
		goto cleanup;
	read_request(e, o, call->req, true, NULL);
	__u64 resp = ctx->ax;
	e->error = ctx->bx != 0; /* the error's itab */
	if (resp && !e->error) {
		e->status = (__s32)read_u64(resp + o->resp_status_code);
		e->proto_major = read_u64(resp + o->resp_proto_major);
		e->proto_minor = read_u64(resp + o->resp_proto_minor);
	}
	count(GO_STAT_EVENTS);
	bpf_ringbuf_submit(e, wakeup_flags());
cleanup:
	if (inject_traceparent && o->req_header != GO_OFFSET_ABSENT) {
		/* Not written (HTTP/2, an error before the write): forget the header map. */
		__u64 m = read_u64(call->req + o->req_header);
		bpf_map_delete_elem(&inject_headers, &m);
	}
	forget_h2_request(call, key, o);
	bpf_map_delete_elem(&client_calls, key);
	return 0;
}

SEC("uprobe")
int go_client_ret(struct pt_regs *ctx)
{
	count(GO_STAT_CLIENT_RET);
	__u32 tgid;
	struct go_offsets *o;
	struct g_key key;
	struct http_call *call = call_here(ctx, &client_calls, &tgid, &o, &key);
	if (!call || call->rw_itab == RW_ITAB_XNET)
		return 0;
	return client_end(ctx, tgid, &key, o, call);
}

SEC("uprobe")
int go_xnet_client_ret(struct pt_regs *ctx)
{
	count(GO_STAT_CLIENT_RET);
	__u32 tgid;
	struct go_offsets *o;
	struct g_key key;
	struct http_call *call = call_here(ctx, &client_calls, &tgid, &o, &key);
	if (!call || call->rw_itab != RW_ITAB_XNET)
		return 0;
	return client_end(ctx, tgid, &key, o, call);
}

static __always_inline int sql_entry(struct pt_regs *ctx, __u8 op, __u64 data, __s64 len)
{
	count(GO_STAT_SQL_ENTRY);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o)
		return 0;
	__u32 zero = 0;
	struct sql_call *call = bpf_map_lookup_elem(&sql_scratch, &zero);
	if (!call)
		return 0;
	struct g_key key = goroutine(ctx, tgid, o);
	call->start_ns = bpf_ktime_get_ns();
	call->op = op;
	new_ids(&call->ids, bpf_map_lookup_elem(&g_ctx, &key), GO_VIA_GOROUTINE);
	call->query_len = copy_str(call->query, GO_SQL_BYTES, data, len);
	bpf_map_update_elem(&sql_calls, &key, call, BPF_ANY);
	return 0;
}

static __always_inline int sql_ret(struct pt_regs *ctx, bool error)
{
	count(GO_STAT_SQL_RET);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o)
		return 0;
	struct g_key key = goroutine(ctx, tgid, o);
	struct sql_call *call = bpf_map_lookup_elem(&sql_calls, &key);
	if (!call)
		return 0;
	struct go_sql_event *e = bpf_ringbuf_reserve(&go_events, sizeof(*e), 0);
	if (!e) {
		count(GO_STAT_DROPS);
		goto cleanup;
	}
	e->kind = GO_EVENT_SQL;
	e->tgid = tgid;
	e->start_ns = call->start_ns;
	e->end_ns = bpf_ktime_get_ns();
	e->ids = call->ids;
	e->op = call->op;
	e->error = error;
	e->_pad = 0;
	e->query_len = call->query_len;
	__builtin_memcpy(e->query, call->query, GO_SQL_BYTES);
	count(GO_STAT_EVENTS);
	bpf_ringbuf_submit(e, wakeup_flags());
cleanup:
	bpf_map_delete_elem(&sql_calls, &key);
	return 0;
}

SEC("uprobe")
int go_query_entry(struct pt_regs *ctx)
{
	return sql_entry(ctx, GO_SQL_QUERY, ctx->r10, (__s64)ctx->r11);
}

SEC("uprobe")
int go_query_ret(struct pt_regs *ctx)
{
	return sql_ret(ctx, ctx->bx != 0);
}

SEC("uprobe")
int go_exec_entry(struct pt_regs *ctx)
{
	return sql_entry(ctx, GO_SQL_EXEC, ctx->r8, (__s64)ctx->r9);
}

SEC("uprobe")
int go_exec_ret(struct pt_regs *ctx)
{
	return sql_ret(ctx, ctx->cx != 0);
}

/* A goroutine made by newproc1 inherits its creator's span, if any. */
static __always_inline int inherit(__u64 newg)
{
	count(GO_STAT_GOROUTINES);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o || o->g_parent_goid == GO_OFFSET_ABSENT)
		return 0;
	struct g_key parent = {.tgid = tgid, .goid = read_u64(newg + o->g_parent_goid)};
	struct go_ctx *current = bpf_map_lookup_elem(&g_ctx, &parent);
	if (!current)
		return 0;
	struct g_key child = {.tgid = tgid, .goid = read_u64(newg + o->g_goid)};
	bpf_map_update_elem(&g_ctx, &child, current, BPF_ANY);
	return 0;
}

/* newproc's closure handing the new goroutine to runqput(pp, newg, next): newg in BX. */
SEC("uprobe")
int go_newproc_queued(struct pt_regs *ctx)
{
	return inherit(ctx->bx);
}

/* At each RET of newproc1, where its call to runqput was not found: newg in AX. */
SEC("uprobe")
int go_newproc_ret(struct pt_regs *ctx)
{
	return inherit(ctx->ax);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
