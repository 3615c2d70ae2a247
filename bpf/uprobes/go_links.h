/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Part of go.bpf.c, included there only: trace context between processes.
 *
 * - Same-host links: a client request offers its span under its connection's address pair
 *   (read from the kernel socket under the net.Conn's file descriptor), in peer_offers for
 *   a traced Go server at the other end, and as a go_link_event for user space, where
 *   servers traced by the capture take it. A Go server reads its own connection's pair
 *   when its handler starts and continues the offer waiting there. Over HTTP/2 the key also
 *   holds the stream id, which both ends know: concurrent streams on one connection each
 *   take their own client's offer, whatever order their handlers start in. An HTTP/2
 *   request's stream goroutine finds its span through the request's header map (a map
 *   shared by requests in progress at once links none of them).
 * - traceparent injection (only when the user asks: inject_traceparent): when a client
 *   request's header lines are written (net/http.Header.writeSubset, on the goroutine that
 *   owns the connection's bufio.Writer, after the request line, Host, User-Agent and the
 *   framing headers), one complete line "Traceparent: 00-<trace>-<span>-01\r\n" is copied
 *   into the writer's buffer at its fill mark, which then moves past it — as if net/http had
 *   written the line itself. Only when the buffer has room, the bytes before the mark end
 *   a line, and the request carries no traceparent of its own; the header map is never
 *   touched.
 */

/* Set before load: write a traceparent into outgoing requests. */
const volatile bool inject_traceparent = false;
/* Set before load: do everything but the write, and say where it would have gone. The write
 * is then dead code to the verifier, so the program loads even where the helper is refused. */
const volatile bool inject_dry_run = false;

/* key: a connection's address pair; value: the span of the Go client request last sent on
 * it. A traced Go server at the other end takes it. LRU: an untraced server never does. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_conn_key);
	__type(value, struct go_ctx);
} peer_offers SEC(".maps");

/* key: a client request's header map (Request.Header); value: its roundTrip's goroutine.
 * Set at roundTrip's entry when injecting; taken when that map's lines are written. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct g_key);
} inject_headers SEC(".maps");

/*
 * key: a client request's header map (Request.Header); value: its roundTrip's goroutine.
 * An HTTP/2 request's HEADERS are written on a goroutine of its own (http2clientStream.
 * doRequest), which finds its span here: by the header map, which survives net/http's
 * shallow copies of the request (a body made rewindable). Entry → return.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct g_key);
} h2_requests SEC(".maps");

const struct go_link_event *_go_link __attribute__((unused));
const struct go_inject_event *_go_inject __attribute__((unused));
const enum go_parent_via *_go_via __attribute__((unused));

static __always_inline bool has(__u32 off)
{
	return off != GO_OFFSET_ABSENT;
}

/* The socket under a net.Conn whose data word is `conn`: a *net.TCPConn, or a *tls.Conn
 * over one. NULL when an offset is unknown or the chain does not end at a socket. */
static __always_inline struct sock *go_conn_socket(__u64 conn, bool tls, const struct go_offsets *o)
{
	if (!has(o->tls_conn) || !has(o->tcp_conn) || !has(o->conn_fd) || !has(o->netfd_pfd) ||
	    !has(o->pfd_sysfd))
		return NULL;
	if (tls) /* the tls.Conn's own net.Conn: its data word */
		conn = read_u64(conn + o->tls_conn + 8);
	__u64 fd = conn ? read_u64(conn + o->tcp_conn + o->conn_fd) : 0;
	if (!fd)
		return NULL;
	__s64 sysfd = (__s64)read_u64(fd + o->netfd_pfd + o->pfd_sysfd);
	if (sysfd < 0 || sysfd > 0x7fffffff)
		return NULL;
	return socket_of((int)sysfd);
}

/* The address pair of a TCP socket, client first; `server`: this end is the server. */
static __always_inline bool conn_key(struct sock *sk, bool server, struct go_conn_key *k)
{
	__u8 local[16] = {}, peer[16] = {};
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		local[10] = local[11] = peer[10] = peer[11] = 0xff;
		BPF_CORE_READ_INTO((__be32 *)&local[12], sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__be32 *)&peer[12], sk, __sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO((struct in6_addr *)local, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)peer, sk, __sk_common.skc_v6_daddr);
	} else {
		return false;
	}
	__u16 local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__builtin_memcpy(k->client_addr, server ? peer : local, 16);
	__builtin_memcpy(k->server_addr, server ? local : peer, 16);
	k->client_port = server ? peer_port : local_port;
	k->server_port = server ? local_port : peer_port;
	k->stream = 0;
	return local_port && peer_port;
}

/* Tells user space a request's span and its connection. */
static __always_inline void send_link(__u32 tgid, const struct go_span_ids *ids,
				      const struct go_conn_key *k, bool server, __u64 req,
				      const struct go_offsets *o)
{
	struct go_link_event *e = bpf_ringbuf_reserve(&go_events, sizeof(*e), 0);
	if (!e) {
		count(GO_STAT_DROPS);
		return;
	}
	e->kind = GO_EVENT_HTTP_LINK;
	e->tgid = tgid;
	e->ids = *ids;
	e->conn = *k;
	e->server = server;
	e->stand_in = e->_pad[0] = e->_pad[1] = 0;
	__u64 url = read_u64(req + o->req_url);
	e->method_len = read_str(e->method, GO_METHOD_BYTES, req, o->req_method);
	e->path_len = read_str(e->path, GO_PATH_BYTES, url, o->url_path);
	e->query_len = read_str(e->query, GO_QUERY_BYTES, url, o->url_raw_query);
	count(GO_STAT_EVENTS);
	bpf_ringbuf_submit(e, wakeup_flags());
}

/* The HTTP/2 connection and stream under a handler's *http2responseWriter, into `k`. */
static __always_inline bool server_h2_conn(const struct http_call *call, const struct go_offsets *o,
					   struct go_conn_key *k)
{
	if (!has(o->h2_rw_rws) || !has(o->h2_rws_stream) || !has(o->h2_stream_sc) ||
	    !has(o->h2_stream_id) || !has(o->h2_sc_conn) || writer_kind(call, o) != RW_HTTP2)
		return false;
	__u64 rws = read_u64(call->rw + o->h2_rw_rws);
	__u64 stream = rws ? read_u64(rws + o->h2_rws_stream) : 0;
	__u64 sc = stream ? read_u64(stream + o->h2_stream_sc) : 0;
	__u64 conn = sc ? read_u64(sc + o->h2_sc_conn + 8) : 0; /* the net.Conn's data word */
	__u32 id = 0;
	if (!conn || bpf_probe_read_user(&id, sizeof(id), (void *)(stream + o->h2_stream_id)) < 0 ||
	    !id)
		return false;
	struct sock *sk = go_conn_socket(conn, read_u64(call->req + o->req_tls) != 0, o);
	if (!sk || !conn_key(sk, true, k))
		return false;
	k->stream = id;
	return true;
}

/*
 * An HTTP/1 connection's address pair, by the goroutine serving it: net/http serves each
 * connection on a goroutine of its own for the connection's life, and goroutine ids are
 * never reused, so the pair read at its first request holds for the next ones (reading it
 * is a dozen probe reads through the net.Conn and the file table). The *http.conn is kept
 * too: a goroutine found serving another connection reads the pair again.
 */
struct served_conn {
	__u64 c; /* *http.conn */
	struct go_conn_key k;
};

/* key: a connection's goroutine; value: its connection. LRU: goroutines end unseen. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct g_key);
	__type(value, struct served_conn);
} served_conns SEC(".maps");

/*
 * A server's request on goroutine `g`, at ServeHTTP's entry: the address pair of its
 * connection (and over HTTP/2 its stream), into `k`. False when it cannot be read.
 */
static __always_inline bool server_conn(const struct http_call *call, const struct go_offsets *o,
					const struct g_key *g, struct go_conn_key *k)
{
	if (!has(o->response_conn) || !has(o->conn_rwc) || !has(o->req_proto_major))
		return false;
	__s64 major = (__s64)read_u64(call->req + o->req_proto_major);
	if (major == 2) /* rw is not a *response */
		return server_h2_conn(call, o, k);
	if (major != 1)
		return false;
	__u64 c = read_u64(call->rw + o->response_conn);
	if (!c)
		return false;
	struct served_conn *known = bpf_map_lookup_elem(&served_conns, g);
	if (known && known->c == c) {
		*k = known->k;
		return true;
	}
	__u64 rwc = read_u64(c + o->conn_rwc + 8);
	struct sock *sk = rwc ? go_conn_socket(rwc, read_u64(call->req + o->req_tls) != 0, o) : NULL;
	if (!sk || !conn_key(sk, true, k))
		return false;
	struct served_conn fresh = {.c = c, .k = *k};
	bpf_map_update_elem(&served_conns, g, &fresh, BPF_ANY);
	return true;
}

/*
 * A server's link is for user space to take a traced client's offer that is not in
 * peer_offers (a client traced by the capture). A connection on which user space found none
 * to take (its client is not traced, or is Go, continued here) it marks quiet: its
 * requests then send a link once a second instead of each one, so a client traced later is
 * found within a second. Over HTTP/2 in a process with grpc-go every stream sends its link
 * (user space joins them to the calls the bytes give).
 */
struct server_link {
	__u64 sent_ns; /* bpf_ktime_get_ns() of the last link sent (or of user space's mark) */
	__u32 quiet;
	__u32 _pad;
};

/* key: a served connection's address pair, stream 0; value: its links (set by both sides). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_conn_key);
	__type(value, struct server_link);
} server_links SEC(".maps");

const struct server_link *_server_link __attribute__((unused));

#define QUIET_LINK_NS 1000000000ULL

/* Whether a request served on `conn` at `now` sends its link (see struct server_link). */
static __always_inline bool server_link_wanted(const struct go_conn_key *conn, __u64 now,
					       const struct go_offsets *o)
{
	if (conn->stream != 0 && has(o->grpc_st_close))
		return true;
	struct go_conn_key k = *conn;
	k.stream = 0;
	struct server_link *s = bpf_map_lookup_elem(&server_links, &k);
	if (!s) {
		struct server_link first = {.sent_ns = now};
		bpf_map_update_elem(&server_links, &k, &first, BPF_ANY);
		return true;
	}
	if (s->quiet && now - s->sent_ns < QUIET_LINK_NS)
		return false;
	s->sent_ns = now;
	return true;
}

/* The offer of the traced Go client at the other end of conn, taken (once) into `out`. */
static __always_inline bool take_offer(const struct go_conn_key *k, struct go_ctx *out)
{
	struct go_ctx *offer = bpf_map_lookup_elem(&peer_offers, k);
	if (!offer)
		return false;
	*out = *offer;
	bpf_map_delete_elem(&peer_offers, k);
	return true;
}

/* A Go map[string][]string the header search reads whole (incoming_traceparent's bounds). */
static __always_inline bool header_map_small(__u64 m, const struct go_offsets *o)
{
	if (o->header_map == GO_MAP_SWISS) {
		struct swiss_dir d = swiss_dir(m);
		if (!d.ptr)
			return false;
		if (d.len == 0)
			return true;
		__u64 table = d.len == 1 ? read_u64(d.ptr) : 0;
		return table && read_u64(table + 24) < SEARCH_GROUPS; /* groups' length mask */
	}
	if (o->header_map != GO_MAP_CLASSIC)
		return false;
	/* hmap: count, flags, B at 9, …, buckets at 16, oldbuckets at 24. At most 8 entries
	 * with no growth in progress: no overflow bucket, nothing left in the old buckets. */
	__u8 b = 0;
	bpf_probe_read_user(&b, 1, (void *)(m + 9));
	return read_u64(m) <= 8 && b <= TRACEPARENT_MAX_B && read_u64(m + 24) == 0;
}

/*
 * At a client request's start: a traceparent the request already carries names its span
 * (the trace continues through it, as the server's side will); else, when injecting and the
 * header search is complete, the request's header map is noted for the write.
 */
static __always_inline bool client_traceparent(struct http_call *call, const struct go_ctx *parent,
					       const struct g_key *key, const struct go_offsets *o)
{
	struct go_ctx header = {};
	if (incoming_traceparent(call->req, o, &header)) {
		__builtin_memcpy(call->ids.trace_id, header.trace_id, 16);
		call->ids.span_id = header.span_id;
		call->ids.parent_id = 0;
		call->ids.via = GO_VIA_NONE;
		if (parent && parent->span_id != header.span_id &&
		    equal16(parent->trace_id, header.trace_id)) {
			call->ids.parent_id = parent->span_id;
			call->ids.via = GO_VIA_GOROUTINE;
		}
		return true;
	}
	/* Under a stand-in the trace id is not the one user space will give: nothing is written
	 * rather than an id no span will have. */
	if (!inject_traceparent || !has(o->req_header) || (parent && parent->stand_in))
		return false;
	__u64 m = read_u64(call->req + o->req_header);
	if (m && header_map_small(m, o))
		bpf_map_update_elem(&inject_headers, &m, key, BPF_ANY);
	return false;
}

/* The request is sent over TLS: its URL says https (through a proxy too: CONNECT, then TLS). */
static __always_inline bool url_https(__u64 req, const struct go_offsets *o)
{
	char scheme[6] = {};
	__u64 url = read_u64(req + o->req_url);
	return read_str(scheme, sizeof(scheme), url, o->url_scheme) == 5 && scheme[4] == 's';
}

/* Offers a client request's span on connection `k` (to a Go server here, and user space). */
static __always_inline void offer_client(__u32 tgid, const struct http_call *call,
					 const struct go_conn_key *k, const struct go_offsets *o)
{
	struct go_ctx offer = {.span_id = call->ids.span_id};
	__builtin_memcpy(offer.trace_id, call->ids.trace_id, 16);
	bpf_map_update_elem(&peer_offers, k, &offer, BPF_ANY);
	send_link(tgid, &call->ids, k, false, call->req, o);
}

/*
 * At a client request's start: its header map, for its HTTP/2 stream's goroutine. A map
 * another request in progress already holds (one Header shared by concurrent requests) is
 * marked as no one's (goid 0) for good: neither request can then be told from the other.
 */
static __always_inline void note_h2_request(const struct http_call *call, const struct g_key *key,
					    const struct go_offsets *o)
{
	if (!has(o->h2_cs_id) || !has(o->req_header))
		return;
	__u64 h = read_u64(call->req + o->req_header);
	if (!h)
		return;
	struct g_key *prev = bpf_map_lookup_elem(&h2_requests, &h);
	if (prev && prev->goid != key->goid &&
	    (prev->goid == 0 || bpf_map_lookup_elem(&client_calls, prev))) {
		struct g_key none = {.tgid = key->tgid, .goid = 0};
		bpf_map_update_elem(&h2_requests, &h, &none, BPF_ANY);
		return;
	}
	bpf_map_update_elem(&h2_requests, &h, key, BPF_ANY);
}

/* At a client request's end: its header map, if still its own. */
static __always_inline void forget_h2_request(const struct http_call *call, const struct g_key *key,
					      const struct go_offsets *o)
{
	if (!has(o->h2_cs_id) || !has(o->req_header))
		return;
	__u64 h = read_u64(call->req + o->req_header);
	struct g_key *owner = bpf_map_lookup_elem(&h2_requests, &h);
	if (owner && owner->tgid == key->tgid && owner->goid == key->goid)
		bpf_map_delete_elem(&h2_requests, &h);
}

/*
 * net/http.(*persistConn).roundTrip(pc, req), at its entry, on the goroutine of the
 * Transport.roundTrip it serves: the connection is chosen, the request not yet written.
 */
SEC("uprobe")
int go_conn_entry(struct pt_regs *ctx)
{
	count(GO_STAT_CONN_ENTRY);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o || !has(o->persist_conn))
		return 0;
	struct g_key key = goroutine(ctx, tgid, o);
	struct http_call *call = bpf_map_lookup_elem(&client_calls, &key);
	if (!call)
		return 0;
	__u64 conn = read_u64(ctx->ax + o->persist_conn + 8);
	struct sock *sk = conn ? go_conn_socket(conn, url_https(call->req, o), o) : NULL;
	struct go_conn_key k = {};
	if (!sk || !conn_key(sk, false, &k))
		return 0;
	offer_client(tgid, call, &k, o);
	return 0;
}

/*
 * net/http.(*http2clientStream).encodeAndWriteHeaders(cs, req), at its entry, on the
 * stream's own goroutine: the stream id is assigned (cs.ID) and its HEADERS are about to be
 * written. HTTP/2 runs many requests on one connection at once and their server handlers
 * start in any order, so the offer is keyed by the address pair and the stream id, which
 * the server reads from its own stream: a request can only take the offer of the stream
 * it came on.
 */
SEC("uprobe")
int go_h2_client_headers(struct pt_regs *ctx)
{
	count(GO_STAT_H2_HEADERS);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o || !has(o->h2_cs_cc) || !has(o->h2_cs_id) || !has(o->h2_cc_tconn) ||
	    !has(o->req_header))
		return 0;
	__u64 cs = ctx->ax, req = ctx->bx;
	__u64 h = read_u64(req + o->req_header);
	struct g_key *owner = h ? bpf_map_lookup_elem(&h2_requests, &h) : NULL;
	if (!owner || owner->tgid != tgid || !owner->goid)
		return 0;
	struct g_key key = *owner;
	struct http_call *call = bpf_map_lookup_elem(&client_calls, &key);
	/* The request itself, or a shallow copy of it (same header map and URL). */
	if (!call || (call->req != req &&
		      read_u64(call->req + o->req_url) != read_u64(req + o->req_url)))
		return 0;
	__u64 cc = read_u64(cs + o->h2_cs_cc);
	__u64 conn = cc ? read_u64(cc + o->h2_cc_tconn + 8) : 0; /* the net.Conn's data word */
	__u32 id = 0;
	if (!conn || bpf_probe_read_user(&id, sizeof(id), (void *)(cs + o->h2_cs_id)) < 0 || !id)
		return 0;
	struct sock *sk = go_conn_socket(conn, url_https(req, o), o);
	struct go_conn_key k = {};
	if (!sk || !conn_key(sk, false, &k))
		return 0;
	k.stream = id;
	offer_client(tgid, call, &k, o);
	return 0;
}

#define TP_LINE_LEN 70 /* "Traceparent: " 13, the value 55, "\r\n" 2 */

static __always_inline void hex_id(char *out, const __u8 *bytes, int n)
{
	const char digits[16] = "0123456789abcdef";
	for (int i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
}

/* The line for `ids`; the span id as W3C writes it: the u64's big-endian bytes. */
static __always_inline void traceparent_line(char *line, const struct go_span_ids *ids)
{
	const char head[16] = "Traceparent: 00-";
	__builtin_memcpy(line, head, 16);
	hex_id(line + 16, ids->trace_id, 16);
	line[48] = '-';
	__u8 span[8];
	for (int i = 0; i < 8; i++)
		span[i] = ids->span_id >> (56 - 8 * i);
	hex_id(line + 49, span, 8);
	line[65] = '-';
	line[66] = '0';
	line[67] = '1';
	line[68] = '\r';
	line[69] = '\n';
}

/* The dry run's record: the line, the fill mark and the bytes before it. */
static __always_inline void send_dry_run(__u32 tgid, const struct go_span_ids *ids,
					 const char *line, __u64 data, __s64 n)
{
	struct go_inject_event *e = bpf_ringbuf_reserve(&go_events, sizeof(*e), 0);
	if (!e) {
		count(GO_STAT_DROPS);
		return;
	}
	e->kind = GO_EVENT_INJECT_DRY;
	e->tgid = tgid;
	e->ids = *ids;
	e->at = n;
	e->_pad = 0;
	__builtin_memset(e->line, 0, sizeof(e->line));
	__builtin_memcpy(e->line, line, TP_LINE_LEN);
	/* A whole window from the buffer (at least this long: checked by the caller) ending at
	 * the mark, or its start when less is filled. */
	__s64 start = n > GO_INJECT_HEAD_BYTES ? n - GO_INJECT_HEAD_BYTES : 0;
	e->head_len = n - start;
	if (bpf_probe_read_user(e->head, GO_INJECT_HEAD_BYTES, (void *)(data + start)) < 0)
		e->head_len = 0;
	bpf_ringbuf_submit(e, wakeup_flags());
}

/*
 * net/http.Header.writeSubset(h, w io.Writer, exclude, trace), at its entry (attached only
 * when injecting). h in RAX; w's data word in RCX: for a request, the connection's
 * *bufio.Writer (Request.write wraps anything else in one). Not loaded unless asked for
 * ("?"): a kernel in lockdown refuses any program that calls bpf_probe_write_user.
 */
SEC("?uprobe")
int go_inject_traceparent(struct pt_regs *ctx)
{
	count(GO_STAT_HEADER_WRITE);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o || !has(o->bufw_buf) || !has(o->bufw_n))
		return 0;
	__u64 h = ctx->ax;
	struct g_key *owner = bpf_map_lookup_elem(&inject_headers, &h);
	if (!owner)
		return 0; /* a response's headers, or a request not to inject into */
	struct g_key key = *owner;
	bpf_map_delete_elem(&inject_headers, &h);
	struct http_call *call = key.tgid == tgid ? bpf_map_lookup_elem(&client_calls, &key) : NULL;
	if (!call)
		return 0;
	__u64 w = ctx->cx;
	struct {
		__u64 data;
		__s64 len;
		__s64 cap;
	} buf = {};
	__s64 n = -1;
	char tail[2] = {};
	if (!w || bpf_probe_read_user(&buf, sizeof(buf), (void *)(w + o->bufw_buf)) < 0 ||
	    bpf_probe_read_user(&n, sizeof(n), (void *)(w + o->bufw_n)) < 0)
		goto skip;
	/* bufio's buffer is made whole (len == cap); the fill mark is after a complete line. */
	if (!buf.data || buf.len != buf.cap || buf.len > (1 << 24) || n < 2 ||
	    n + TP_LINE_LEN > buf.len)
		goto skip;
	if (bpf_probe_read_user(tail, 2, (void *)(buf.data + n - 2)) < 0 || tail[0] != '\r' ||
	    tail[1] != '\n')
		goto skip;
	char line[TP_LINE_LEN];
	traceparent_line(line, &call->ids);
	if (inject_dry_run) {
		if (buf.len >= GO_INJECT_HEAD_BYTES)
			send_dry_run(tgid, &call->ids, line, buf.data, n);
		goto skip;
	}
	if (bpf_probe_write_user((void *)(buf.data + n), line, TP_LINE_LEN) < 0)
		goto skip;
	n += TP_LINE_LEN;
	if (bpf_probe_write_user((void *)(w + o->bufw_n), &n, sizeof(n)) < 0)
		goto skip; /* the bytes lie past the mark: net/http overwrites them */
	call->ids.injected = 1;
	count(GO_STAT_INJECTED);
	return 0;
skip:
	count(GO_STAT_INJECT_SKIPPED);
	return 0;
}
