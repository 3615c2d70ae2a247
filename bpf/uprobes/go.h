/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Events and settings of the Go instrumentation (go.bpf.c): net/http server and client,
 * database/sql. This header is the one definition of their layout: user space reads it
 * from the object's BTF, by field name. Fixed-width types only, no BPF includes.
 */
#ifndef UPSPAN_GO_H
#define UPSPAN_GO_H

/* Bytes kept of each text field; the true length is reported beside it. */
#define GO_METHOD_BYTES 16
#define GO_SCHEME_BYTES 8
#define GO_HOST_BYTES 64
#define GO_PATH_BYTES 128
#define GO_QUERY_BYTES 128
#define GO_ROUTE_BYTES 64
#define GO_REMOTE_BYTES 48
#define GO_SQL_BYTES 256

/* A struct member the target's Go version does not have (go_offsets values). */
#define GO_OFFSET_ABSENT 0xffffffffu

enum go_event_kind {
	GO_EVENT_HTTP_SERVER = 1, /* a go_http_event: serverHandler.ServeHTTP */
	GO_EVENT_HTTP_CLIENT = 2, /* a go_http_event: (*Transport).roundTrip */
	GO_EVENT_SQL = 3,	  /* a go_sql_event: (*DB).queryDC or (*DB).execDC */
	GO_EVENT_HTTP_LINK = 4,	  /* a go_link_event: a request's span and its connection */
	GO_EVENT_INJECT_DRY = 5,  /* a go_inject_event: where a traceparent would have gone */
	GO_EVENT_GRPC_HANDLER = 6, /* a go_link_event: a grpc-go handler's goroutine and stream */
	GO_EVENT_GRPC_CALL = 7,	   /* a go_link_event: a grpc-go client stream and its caller */
};

/* How a span's parent was found (go_span_ids.via). */
enum go_parent_via {
	GO_VIA_NONE = 0,	/* a root */
	GO_VIA_GOROUTINE = 1,	/* the span current on its goroutine, or the one that started it */
	GO_VIA_TRACEPARENT = 2, /* the request's traceparent header */
	GO_VIA_PEER = 3,	/* the traced Go client at the other end of its connection */
};

enum go_sql_op {
	GO_SQL_QUERY = 1,
	GO_SQL_EXEC = 2,
};

/* Indexes into the per-CPU `go_stats` array: probe hits per program, events, drops. */
enum go_stat {
	GO_STAT_SERVER_ENTRY,
	GO_STAT_SERVER_RET,
	GO_STAT_CLIENT_ENTRY,
	GO_STAT_CLIENT_RET,
	GO_STAT_SQL_ENTRY,
	GO_STAT_SQL_RET,
	GO_STAT_GOROUTINES,
	GO_STAT_CONN_ENTRY,	/* persistConn.roundTrip entries: a client request's connection */
	GO_STAT_H2_HEADERS,	/* http2clientStream.encodeAndWriteHeaders entries: an h2 stream's */
	GO_STAT_HEADER_WRITE,	/* Header.writeSubset entries (only probed when injecting) */
	GO_STAT_INJECTED,	/* traceparent lines written into a request */
	GO_STAT_INJECT_SKIPPED, /* a request to inject into whose buffer had no room or looked wrong */
	GO_STAT_GRPC_STREAM,	/* grpc-go Server.handleStream entries: a call's handler starts */
	GO_STAT_GRPC_CALL,	/* grpc-go http2Client.NewStream entries and returns */
	GO_STAT_EVENTS,
	GO_STAT_DROPS,
	GO_STAT_MAX,
};

/*
 * Struct member offsets of one traced process (go_offsets values), in bytes, from its own
 * DWARF or from the measured table for its Go version. GO_OFFSET_ABSENT: not in this
 * version (Request.Pattern before Go 1.23, Request.pat before Go 1.22).
 */
struct go_offsets {
	__u32 req_method;	  /* net/http.Request.Method (string) */
	__u32 req_url;		  /* net/http.Request.URL (*url.URL) */
	__u32 req_host;		  /* net/http.Request.Host (string) */
	__u32 req_content_length; /* net/http.Request.ContentLength (int64) */
	__u32 req_remote_addr;	  /* net/http.Request.RemoteAddr (string) */
	__u32 req_tls;		  /* net/http.Request.TLS (*tls.ConnectionState) */
	__u32 req_pattern;	  /* net/http.Request.Pattern (string, Go 1.23+) */
	__u32 req_pat;		  /* net/http.Request.pat (*http.pattern, Go 1.22) */
	__u32 pattern_str;	  /* net/http.pattern.str (string) */
	__u32 url_scheme;	  /* net/url.URL.Scheme */
	__u32 url_host;		  /* net/url.URL.Host */
	__u32 url_path;		  /* net/url.URL.Path */
	__u32 url_raw_query;	  /* net/url.URL.RawQuery */
	__u32 response_status;	  /* net/http.response.status (int; 0 means 200) */
	__u32 resp_status_code;	  /* net/http.Response.StatusCode (int) */
	__u32 g_goid;		  /* runtime.g.goid (uint64) */
	__u32 g_parent_goid;	  /* runtime.g.parentGoid (uint64, Go 1.21+) */
	__u32 req_header;	  /* net/http.Request.Header (map[string][]string) */
	__u32 header_map;	  /* how Go lays out that map: 1 classic buckets, 2 swiss tables */
	__u32 req_proto_major;	  /* net/http.Request.ProtoMajor (int): 2 for HTTP/2 */
	__u32 req_proto_minor;	  /* net/http.Request.ProtoMinor (int) */
	__u32 resp_proto_major;	  /* net/http.Response.ProtoMajor (int) */
	__u32 resp_proto_minor;	  /* net/http.Response.ProtoMinor (int) */
	__u32 h2_rw_rws;	  /* net/http.http2responseWriter.rws (*http2responseWriterState) */
	__u32 h2_rws_status;	  /* net/http.http2responseWriterState.status (int; 0 means 200) */
	/*
	 * Which ResponseWriter a handler got, by its itab's first method (Header): where
	 * net/http.(*response).Header and (*http2responseWriter).Header lie, as signed
	 * distances from serverHandler.ServeHTTP's entry (so PIE load addresses cancel out).
	 * GO_OFFSET_ABSENT: not in the binary. Any other writer gets no status.
	 */
	__u32 rw_h1_header;
	__u32 rw_h2_header;
	__u32 rw_xnet_header; /* golang.org/x/net/http2.(*responseWriter).Header */
	/* x/net/http2's own server (behind http2.ConfigureServer): from the binary's DWARF
	 * only, as its layout follows the x/net version, not Go's. */
	__u32 xnet_rw_rws;     /* golang.org/x/net/http2.responseWriter.rws */
	__u32 xnet_rws_status; /* golang.org/x/net/http2.responseWriterState.status */
	/* The connection under a request (same-host links), and the buffer its headers go to. */
	__u32 response_conn;	  /* net/http.response.conn (*http.conn) */
	__u32 conn_rwc;		  /* net/http.conn.rwc (net.Conn) */
	__u32 persist_conn;	  /* net/http.persistConn.conn (net.Conn) */
	__u32 tls_conn;		  /* crypto/tls.Conn.conn (net.Conn) */
	__u32 tcp_conn;		  /* net.TCPConn.conn (net.conn) */
	__u32 conn_fd;		  /* net.conn.fd (*net.netFD) */
	__u32 netfd_pfd;	  /* net.netFD.pfd (internal/poll.FD) */
	__u32 pfd_sysfd;	  /* internal/poll.FD.Sysfd (int) */
	__u32 bufw_buf;		  /* bufio.Writer.buf ([]byte) */
	__u32 bufw_n;		  /* bufio.Writer.n (int) */
	/* The bundled HTTP/2 server's and client's streams and connections. */
	__u32 h2_rws_stream; /* net/http.http2responseWriterState.stream (*http2stream) */
	__u32 h2_stream_sc;  /* net/http.http2stream.sc (*http2serverConn) */
	__u32 h2_stream_id;  /* net/http.http2stream.id (uint32) */
	__u32 h2_sc_conn;    /* net/http.http2serverConn.conn (net.Conn) */
	__u32 h2_cs_cc;	     /* net/http.http2clientStream.cc (*http2ClientConn) */
	__u32 h2_cs_id;	     /* net/http.http2clientStream.ID (uint32) */
	__u32 h2_cc_tconn;   /* net/http.http2ClientConn.tconn (net.Conn) */
	/* grpc-go's server (go_grpc.h): from the binary's DWARF, or the table by grpc-go version. */
	__u32 grpc_st_peer;	/* grpc/internal/transport.http2Server.peer (peer.Peer) */
	__u32 grpc_ss_stream;	/* grpc/internal/transport.ServerStream.Stream (embedded) */
	__u32 grpc_ss_stream_ptr; /* 1: embedded as *Stream (before v1.77), 0: as Stream */
	__u32 grpc_stream_id;	/* grpc/internal/transport.Stream.id (uint32) */
	__u32 peer_addr;	/* grpc/peer.Peer.Addr (net.Addr) */
	__u32 peer_local_addr;	/* grpc/peer.Peer.LocalAddr (net.Addr) */
	__u32 tcpaddr_ip;	/* net.TCPAddr.IP ([]byte) */
	__u32 tcpaddr_port;	/* net.TCPAddr.Port (int) */
	/* Which transport and which address a handler got, by their itabs' first methods:
	 * transport.(*http2Server).Close and net.(*TCPAddr).Network, as signed distances from
	 * grpc.(*Server).handleStream's entry. GO_OFFSET_ABSENT: not in the binary. */
	__u32 grpc_st_close;
	__u32 tcpaddr_network;
	/* grpc-go's client (go_grpc.h): the same sources as its server's. */
	__u32 grpc_cs_stream;	/* grpc/internal/transport.ClientStream.Stream (embedded, as
				 * ServerStream's: by pointer before v1.77) */
	__u32 grpc_h2c_local;	/* grpc/internal/transport.http2Client.localAddr (net.Addr) */
	__u32 grpc_h2c_remote;	/* grpc/internal/transport.http2Client.remoteAddr (net.Addr) */
	__u32 tcpaddr_network_cl; /* net.(*TCPAddr).Network from (*http2Client).NewStream */
};

/* The trace context of a span: new ids made in BPF, the parent's span id or 0. */
struct go_span_ids {
	__u8 trace_id[16];
	__u64 span_id;
	__u64 parent_id; /* 0: a root span */
	__u32 via;	 /* enum go_parent_via: how the parent was found */
	__u8 injected;	 /* client: these ids were written into the request as its traceparent */
	__u8 _pad[3];
};

/* One HTTP request, served (SERVER) or made (CLIENT), sent at the function's return. */
struct go_http_event {
	__u32 kind; /* enum go_event_kind */
	__u32 tgid;
	__u64 start_ns; /* bpf_ktime_get_ns() at entry: CLOCK_MONOTONIC */
	__u64 end_ns;	/* at return */
	struct go_span_ids ids;
	__s64 content_length; /* request body size, -1 unknown */
	__s32 status;	      /* response status; 0: none (client error) */
	__u8 error;	      /* client: roundTrip returned an error */
	__u8 tls;	      /* server: the request came over TLS (Request.TLS != nil) */
	__u8 proto_major;     /* HTTP version of the exchange (ProtoMajor); 0 unknown */
	__u8 proto_minor;
	/* True lengths of the strings; at most the field's size was copied. */
	__u32 method_len;
	__u32 scheme_len;
	__u32 host_len; /* server: Request.Host; client: URL.Host, else Request.Host */
	__u32 path_len;
	__u32 query_len;
	__u32 route_len; /* Go 1.22+: the ServeMux pattern that matched */
	__u32 remote_len;
	__u32 _pad2;
	char method[GO_METHOD_BYTES];
	char scheme[GO_SCHEME_BYTES];
	char host[GO_HOST_BYTES];
	char path[GO_PATH_BYTES];
	char query[GO_QUERY_BYTES];
	char route[GO_ROUTE_BYTES];
	char remote[GO_REMOTE_BYTES];
};

/* One database/sql query or exec, sent at the function's return. */
struct go_sql_event {
	__u32 kind; /* GO_EVENT_SQL */
	__u32 tgid;
	__u64 start_ns;
	__u64 end_ns;
	struct go_span_ids ids;
	__u8 op;    /* enum go_sql_op */
	__u8 error; /* the call returned a non-nil error */
	__u16 _pad;
	__u32 query_len; /* true length; at most GO_SQL_BYTES copied */
	char query[GO_SQL_BYTES];
};

/*
 * Both ends of a TCP connection; IPv4 as ::ffff:a.b.c.d, so both ends spell it alike. Over
 * HTTP/2 also the stream: many requests share one connection at once, and both ends know
 * each request's stream id, so an offer is taken by the stream it was made for.
 */
struct go_conn_key {
	__u8 client_addr[16];
	__u8 server_addr[16];
	__u16 client_port;
	__u16 server_port;
	__u32 stream; /* HTTP/2 stream id; 0 over HTTP/1 */
};

/*
 * A request's span and the connection it travels on, sent when it is known (a client's
 * before the request is written, a server's when its handler starts), so spans of other
 * processes at the other end can be linked before their own children are made.
 */
struct go_link_event {
	__u32 kind; /* GO_EVENT_HTTP_LINK */
	__u32 tgid;
	struct go_span_ids ids;
	struct go_conn_key conn;
	__u8 server; /* 1: a request served on conn; 0: one sent on it */
	__u8 stand_in; /* GO_EVENT_GRPC_CALL: the caller's context is a grpc-go handler's stand-in */
	__u8 _pad[2];
	__u32 method_len;
	__u32 path_len;
	__u32 query_len;
	char method[GO_METHOD_BYTES];
	char path[GO_PATH_BYTES];
	char query[GO_QUERY_BYTES];
};

#define GO_INJECT_HEAD_BYTES 192

/*
 * A traceparent injection's dry run (inject_dry_run): every check passed and the line was
 * made, but nothing was written. Sent so tests can see where it would have gone.
 */
struct go_inject_event {
	__u32 kind; /* GO_EVENT_INJECT_DRY */
	__u32 tgid;
	struct go_span_ids ids;
	__u64 at;	/* the writer's fill mark: the line would start at this byte */
	__u32 head_len; /* bytes of `head` used: the last ones before the mark */
	__u32 _pad;
	char line[72];	/* the line that would have been written (70 bytes) */
	char head[GO_INJECT_HEAD_BYTES];
};

#endif /* UPSPAN_GO_H */
