/**
 * The Go instrumentation as a table: which function is probed, by which program of
 * `bpf/uprobes/go.bpf.c` at its entry and at each of its `RET` instructions (never a
 * uretprobe: Go moves stacks), and what it is for.
 *
 * @module
 */

/** What a probed function contributes. */
export type GoProbeGroup =
  | "http.server"
  | "xnet.server"
  | "xnet.client"
  | "http.client"
  | "http.link"
  | "http2.link"
  | "inject"
  | "grpc.server"
  | "grpc.client"
  | "sql"
  | "goroutines";

/** One probed function. */
export interface GoProbe {
  /** The function's name in the Go function table. */
  symbol: string;
  /** Program attached at the function's entry, if any. */
  entry?: string;
  /** Program attached at every `RET` of the function, if any. */
  ret?: string;
  /**
   * Program attached at the function's direct calls of `callee` or, with `after`, at the
   * first instruction after each that the kernel emulates: where the callee has returned.
   */
  call?: { callee: string; program: string; after?: boolean };
  /** Probed only where the probes on these functions could not all be placed, instead of them. */
  fallbackFor?: string[];
  /** What the probe is for. */
  group: GoProbeGroup;
  /** In binaries that link a module most do not: when absent, not said. */
  optional?: boolean;
}

/**
 * The probed functions. database/sql's `queryDC`/`execDC` are where every DB, Conn and
 * Tx Query/Exec without a prepared statement passes (the choice of Beyla and
 * OpenTelemetry Go auto-instrumentation); `newproc`'s call of `runqput` hands a span's context to
 * the goroutines started under it (one hit per goroutine the process starts; net/http starts
 * one per request to watch its connection);
 * `persistConn.roundTrip` gives a client request's connection, for linking to the server at
 * its other end (one hit per request), and `http2clientStream.encodeAndWriteHeaders` an HTTP/2
 * request's connection and stream id (one hit per HTTP/2 request); `Header.writeSubset` is where a `traceparent` line is
 * written when the user asks for it (one hit per request and per response served).
 */
export const GO_PROBES: readonly GoProbe[] = [
  {
    symbol: "net/http.serverHandler.ServeHTTP",
    entry: "go_server_entry",
    group: "http.server",
  },
  // A request's handler has returned where its server goes on: an HTTP/1 connection's serve
  // loop after its call of ServeHTTP, an HTTP/2 stream's writer at handlerDone. Probes there
  // sit on instructions the kernel emulates; one on ServeHTTP's RET is single-stepped, at
  // about ten times the cost (see src/symbols/entry_site.ts).
  {
    symbol: "net/http.(*conn).serve",
    call: { callee: "net/http.serverHandler.ServeHTTP", program: "go_server_ret", after: true },
    group: "http.server",
    optional: true,
  },
  {
    symbol: "net/http.(*http2responseWriter).handlerDone",
    entry: "go_server_ret",
    group: "http.server",
    optional: true,
  },
  {
    symbol: "net/http.serverHandler.ServeHTTP",
    ret: "go_server_ret",
    group: "http.server",
    fallbackFor: ["net/http.(*conn).serve", "net/http.(*http2responseWriter).handlerDone"],
  },
  {
    // golang.org/x/net/http2's own server (h2c.NewHandler, ServeConn; also behind
    // ConfigureServer, whose nested ServeHTTP then adds nothing): a request starts at
    // runHandler and ends at its writer's handlerDone, where the status still is. Both or
    // neither are probed.
    symbol: "golang.org/x/net/http2.(*serverConn).runHandler",
    entry: "go_xnet_server_entry",
    group: "xnet.server",
    optional: true,
  },
  {
    symbol: "golang.org/x/net/http2.(*responseWriter).handlerDone",
    entry: "go_xnet_handler_done",
    group: "xnet.server",
    optional: true,
  },
  {
    symbol: "net/http.(*Transport).roundTrip",
    entry: "go_client_entry",
    ret: "go_client_ret",
    group: "http.client",
  },
  {
    // golang.org/x/net/http2's Transport used directly (not behind net/http's Transport,
    // whose roundTrip it then runs inside of and which owns the request). RoundTripOpt
    // does the work in older x/net; in newer (v0.58) it is a wrapper of roundTripOpt that
    // the compiler inlines into its callers. Where both run, the outer one owns the request.
    symbol: "golang.org/x/net/http2.(*Transport).RoundTripOpt",
    entry: "go_xnet_client_entry",
    ret: "go_xnet_client_ret",
    group: "xnet.client",
    optional: true,
  },
  {
    symbol: "golang.org/x/net/http2.(*Transport).roundTripOpt",
    entry: "go_xnet_client_entry",
    ret: "go_xnet_client_ret",
    group: "xnet.client",
    optional: true,
  },
  {
    symbol: "database/sql.(*DB).queryDC",
    entry: "go_query_entry",
    ret: "go_query_ret",
    group: "sql",
  },
  {
    symbol: "database/sql.(*DB).execDC",
    entry: "go_exec_entry",
    ret: "go_exec_ret",
    group: "sql",
  },
  {
    // Entry only: the connection a client request goes out on, before it is written.
    symbol: "net/http.(*persistConn).roundTrip",
    entry: "go_conn_entry",
    group: "http.link",
  },
  {
    // Entry only: an HTTP/2 request's connection and stream id, just before its HEADERS.
    symbol: "net/http.(*http2clientStream).encodeAndWriteHeaders",
    entry: "go_h2_client_headers",
    group: "http2.link",
  },
  {
    // Entry only, and only when the user asks for traceparent injection.
    symbol: "net/http.Header.writeSubset",
    entry: "go_inject_traceparent",
    group: "inject",
  },
  {
    // Entry only: a grpc-go handler's goroutine, its connection and stream (one hit per call
    // served); its calls' parent is the span the bytes give that stream.
    symbol: "google.golang.org/grpc.(*Server).handleStream",
    entry: "go_grpc_handler",
    group: "grpc.server",
  },
  {
    // A grpc-go client stream's caller and id (one hit at entry and one at a return per call
    // made): the caller's context becomes the parent of the call's span from the bytes.
    symbol: "google.golang.org/grpc/internal/transport.(*http2Client).NewStream",
    entry: "go_grpc_call_entry",
    ret: "go_grpc_call_ret",
    group: "grpc.client",
  },
  {
    // The new g, which carries its own and its creator's goroutine ids, passed to runqput
    // right after newproc1 made it: a probe on that call is emulated by the kernel, where
    // one on newproc1's RET is single-stepped (see src/symbols/entry_site.ts).
    symbol: "runtime.newproc.func1",
    call: { callee: "runtime.runqput", program: "go_newproc_queued" },
    group: "goroutines",
    optional: true,
  },
  {
    symbol: "runtime.newproc1",
    ret: "go_newproc_ret",
    group: "goroutines",
    fallbackFor: ["runtime.newproc.func1"],
  },
];
