/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Part of go.bpf.c, included there only (after go_links.h): the goroutine of a grpc-go
 * handler. grpc-go's calls get their spans from the bytes (its own HTTP/2 transport, which
 * no net/http probe sees), so the span a handler's calls are children of is made in user
 * space, later than those calls' own ids are made here. The handler's goroutine therefore
 * gets a stand-in context at its start, with the connection's address pair and the stream
 * id: user space joins the stand-in to the span the bytes give that stream (same process,
 * pair and stream), and moves the stand-in's children into it.
 *
 * google.golang.org/grpc.(*Server).handleStream(s, t ServerTransport, stream *ServerStream),
 * at its entry (as OpenTelemetry Go auto-instrumentation chooses): it runs on the goroutine
 * the handler runs on, one per stream (or a worker's, which runs one stream at a time and
 * gets the next stream's context at its next entry). t's itab in RBX, its data in RCX,
 * stream in RDI. Only grpc-go's own transport (*http2Server) counts: a server behind
 * net/http (grpc.Server.ServeHTTP) already has the net/http span as its context.
 */

/* A net.Addr at `at` that is a *net.TCPAddr (its itab's Network `network` bytes from
 * `entry_ip`, placed by user space): its IP as 16 bytes (IPv4 as ::ffff:a.b.c.d, as conn_key
 * spells it) and its port. */
static __always_inline bool tcp_addr(__u64 at, __u64 entry_ip, __u32 network,
				     const struct go_offsets *o, __u8 *ip, __u16 *port)
{
	struct {
		__u64 itab;
		__u64 data;
	} iface = {};
	if (bpf_probe_read_user(&iface, sizeof(iface), (void *)at) < 0 || !iface.itab || !iface.data)
		return false;
	if ((__u32)(read_u64(iface.itab + 24) - entry_ip) != network) /* itab.fun[0] */
		return false;
	struct {
		__u64 data;
		__s64 len;
	} s = {};
	if (bpf_probe_read_user(&s, sizeof(s), (void *)(iface.data + o->tcpaddr_ip)) < 0 || !s.data)
		return false;
	if (s.len == 4) {
		ip[10] = ip[11] = 0xff;
		if (bpf_probe_read_user(ip + 12, 4, (void *)s.data) < 0)
			return false;
	} else if (s.len != 16 || bpf_probe_read_user(ip, 16, (void *)s.data) < 0) {
		return false;
	}
	__s64 p = (__s64)read_u64(iface.data + o->tcpaddr_port);
	if (p <= 0 || p > 0xffff)
		return false;
	*port = (__u16)p;
	return true;
}

/* The id of the transport.Stream embedded at `at` (by pointer before v1.77): a
 * client-opened stream's, odd; 0 when unreadable or not one. */
static __always_inline __u32 stream_id(__u64 at, const struct go_offsets *o)
{
	__u64 s = o->grpc_ss_stream_ptr ? read_u64(at) : at;
	__u32 id = 0;
	if (!s || bpf_probe_read_user(&id, sizeof(id), (void *)(s + o->grpc_stream_id)) < 0)
		return 0;
	return id & 1 ? id : 0;
}

SEC("uprobe")
int go_grpc_handler(struct pt_regs *ctx)
{
	count(GO_STAT_GRPC_STREAM);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o || !has(o->grpc_st_close) || !has(o->tcpaddr_network) || !has(o->grpc_st_peer) ||
	    !has(o->grpc_ss_stream) || !has(o->grpc_ss_stream_ptr) || !has(o->grpc_stream_id) ||
	    !has(o->peer_addr) ||
	    !has(o->peer_local_addr) || !has(o->tcpaddr_ip) || !has(o->tcpaddr_port))
		return 0;
	__u64 itab = ctx->bx, st = ctx->cx, stream = ctx->di;
	if (!itab || !st || !stream || (__u32)(read_u64(itab + 24) - entry_ip(ctx)) != o->grpc_st_close)
		return 0;
	struct go_conn_key k = {};
	__u64 peer = st + o->grpc_st_peer;
	__u32 net = o->tcpaddr_network;
	if (!tcp_addr(peer + o->peer_addr, entry_ip(ctx), net, o, k.client_addr, &k.client_port) ||
	    !tcp_addr(peer + o->peer_local_addr, entry_ip(ctx), net, o, k.server_addr, &k.server_port))
		return 0;
	k.stream = stream_id(stream + o->grpc_ss_stream, o);
	if (!k.stream)
		return 0;
	struct go_link_event *e = bpf_ringbuf_reserve(&go_events, sizeof(*e), 0);
	if (!e) {
		count(GO_STAT_DROPS);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = GO_EVENT_GRPC_HANDLER;
	e->tgid = tgid;
	e->server = 1;
	e->conn = k;
	new_ids(&e->ids, NULL, GO_VIA_NONE);
	struct go_ctx stand_in = {.span_id = e->ids.span_id, .stand_in = 1};
	__builtin_memcpy(stand_in.trace_id, e->ids.trace_id, 16);
	struct g_key key = goroutine(ctx, tgid, o);
	bpf_map_update_elem(&g_ctx, &key, &stand_in, BPF_ANY);
	count(GO_STAT_EVENTS);
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

/*
 * grpc-go's client: a call's span comes from the bytes, whose HEADERS the transport's own
 * writer goroutine sends, so the calling goroutine's context reaches it through the stream:
 * (*http2Client).NewStream runs on the caller's goroutine and returns the stream with its id
 * assigned. Its entry notes the caller's context and the connection's address pair (the
 * transport's localAddr and remoteAddr, checked to be *net.TCPAddr); each of its returns
 * sends them with the stream id, for user space to give the call's span that parent
 * (`src/context/caller_streams.ts`). Only where the goroutine has a context: a call made
 * outside any traced request costs one map lookup.
 */
struct grpc_call {
	struct go_ctx caller;
	struct go_conn_key conn;
};

/* key: the calling goroutine; value: its context and connection. Entry → return. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct g_key);
	__type(value, struct grpc_call);
} grpc_calls SEC(".maps");

/* transport.(*http2Client).NewStream(t, ctx, callHdr, …), at its entry: t in RAX. */
SEC("uprobe")
int go_grpc_call_entry(struct pt_regs *ctx)
{
	count(GO_STAT_GRPC_CALL);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o || !has(o->grpc_h2c_local) || !has(o->grpc_h2c_remote) ||
	    !has(o->tcpaddr_network_cl) || !has(o->tcpaddr_ip) || !has(o->tcpaddr_port))
		return 0;
	struct g_key key = goroutine(ctx, tgid, o);
	struct go_ctx *caller = bpf_map_lookup_elem(&g_ctx, &key);
	__u64 t = ctx->ax;
	if (!caller || !t)
		return 0;
	struct grpc_call call = {.caller = *caller};
	__u32 net = o->tcpaddr_network_cl;
	if (!tcp_addr(t + o->grpc_h2c_local, entry_ip(ctx), net, o, call.conn.client_addr,
		      &call.conn.client_port) ||
	    !tcp_addr(t + o->grpc_h2c_remote, entry_ip(ctx), net, o, call.conn.server_addr,
		      &call.conn.server_port))
		return 0;
	bpf_map_update_elem(&grpc_calls, &key, &call, BPF_ANY);
	return 0;
}

/* At each of NewStream's returns: the *ClientStream in RAX (nil on error). */
SEC("uprobe")
int go_grpc_call_ret(struct pt_regs *ctx)
{
	count(GO_STAT_GRPC_CALL);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct go_offsets *o = traced(tgid);
	if (!o || !has(o->grpc_cs_stream) || !has(o->grpc_stream_id))
		return 0;
	struct g_key key = goroutine(ctx, tgid, o);
	struct grpc_call *call = bpf_map_lookup_elem(&grpc_calls, &key);
	if (!call)
		return 0;
	struct grpc_call c = *call;
	bpf_map_delete_elem(&grpc_calls, &key);
	__u64 cs = ctx->ax;
	c.conn.stream = cs ? stream_id(cs + o->grpc_cs_stream, o) : 0;
	if (!c.conn.stream)
		return 0;
	struct go_link_event *e = bpf_ringbuf_reserve(&go_events, sizeof(*e), 0);
	if (!e) {
		count(GO_STAT_DROPS);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = GO_EVENT_GRPC_CALL;
	e->tgid = tgid;
	e->conn = c.conn;
	/* The caller's context: the call's parent. */
	__builtin_memcpy(e->ids.trace_id, c.caller.trace_id, 16);
	e->ids.span_id = c.caller.span_id;
	e->stand_in = c.caller.stand_in;
	count(GO_STAT_EVENTS);
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}
