import assert from "node:assert/strict";
import type { Direction, SocketInfo, StreamChunk } from "../../model/stream_chunk.ts";
import { PROTOCOLS } from "../../spans/registry.ts";
import { testConnection } from "../_test_connection.ts";
import { countingIds } from "../_test_wire.ts";
import { loadCapture, type Piece } from "./_testdata.ts";
import { sniffHttp2 } from "./protocol.ts";
import { ThreadRequests } from "../../context/thread_requests.ts";
import { PeerLinks } from "../../context/peer_links.ts";
import { ServedStreams } from "../../context/served_streams.ts";
import type { TraceContext } from "../../model/trace_context.ts";
import type { IdGenerator } from "../../model/ids.ts";
import type { OfferWaiter } from "../protocol.ts";

/** Replays a capture into a registry connection as the server's or the client's probe saw it. */
/** How {@linkcode traced} sets the connection up. */
interface TracedOptions {
  socket?: SocketInfo;
  /** The process's HTTP spans come from its own probes (Go's net/http). */
  httpElsewhere?: boolean;
  /** Its gRPC calls still come from the bytes (it links grpc-go). Default true. */
  rpcFromBytes?: boolean;
  threads?: ThreadRequests;
  ids?: IdGenerator;
  peers?: PeerLinks;
  served?: ServedStreams;
  offerWaiters?: Set<OfferWaiter>;
  offerWaitNs?: bigint;
  /** Leaves the connection open at the end of the pieces. */
  open?: boolean;
}

/** Replays a capture into a registry connection as the server's or the client's probe saw it. */
function traced(pieces: Piece[], role: "server" | "client", o: TracedOptions = {}) {
  const t = testConnection(PROTOCOLS, {
    ids: o.ids ?? countingIds(),
    elsewhere: (_pid, family) => (o.httpElsewhere ?? false) && family === "http",
    rpcFromBytes: () => o.rpcFromBytes ?? true,
    ...(o.threads ? { threads: o.threads } : {}),
    ...(o.peers ? { peers: o.peers } : {}),
    ...(o.served ? { served: o.served } : {}),
    ...(o.offerWaiters ? { offerWaiters: o.offerWaiters } : {}),
    ...(o.offerWaitNs ? { offerWaitNs: o.offerWaitNs } : {}),
  });
  if (o.socket) t.conn.setSocket(o.socket);
  const pos = { ingress: 0, egress: 0 };
  for (const p of pieces) {
    // The client's bytes are what a server reads and what a client writes.
    const direction: Direction = (p.side === 0) === (role === "server") ? "ingress" : "egress";
    const chunk: StreamChunk = {
      pid: 100,
      tid: 7,
      conn: "c1",
      secure: true,
      direction,
      pos: pos[direction],
      data: p.bytes,
      callEnd: pos[direction] + p.bytes.length,
      last: true,
      monoNs: 1_000_000n + p.ns,
    };
    pos[direction] += p.bytes.length;
    t.conn.push(chunk);
  }
  if (!o.open) t.conn.close();
  return t;
}

const SOCKET: SocketInfo = {
  pid: 100,
  conn: "c1",
  socket: "s1",
  fd: 5,
  family: "ipv4",
  localAddress: "127.0.0.1",
  localPort: 8443,
  peerAddress: "127.0.0.1",
  peerPort: 50000,
  monoNs: 1n,
  callMonoNs: 1n,
};

/** The same connection from the client's end. */
const CLIENT_SOCKET: SocketInfo = { ...SOCKET, localPort: 50000, peerPort: 8443 };

Deno.test("http2 protocol: nginx (server side) spans through the registry, HTTP attributes as HTTP/1's", () => {
  const [conn] = loadCapture("nginx_h2c");
  const { spans, conn: c, counters } = traced(conn!, "server", { socket: SOCKET });
  assert.equal(c.protocol, "http2");
  assert.deepEqual(
    spans.map((
      s,
    ) => [
      s.name,
      s.kind,
      s.attributes["url.path"],
      s.attributes["http.response.status_code"],
      s.attributes["http.response.body.size"],
      s.status.code,
    ]),
    [
      ["GET", "SERVER", "/index.html", 200, 15, "UNSET"],
      ["GET", "SERVER", "/missing", 404, 153, "UNSET"],
      ["GET", "SERVER", "/big.bin", 200, 20000, "UNSET"],
      ["GET", "SERVER", "/index.html", 200, 15, "UNSET"],
    ],
  );
  const s = spans[0]!;
  assert.equal(s.attributes["network.protocol.version"], "2");
  assert.equal(s.attributes["url.scheme"], "https");
  assert.equal(s.attributes["user_agent.original"], "nghttp2/1.52.0");
  assert.equal(s.attributes["server.address"], "127.0.0.1");
  assert.equal(s.attributes["client.port"], 50000);
  assert.equal(spans[3]!.attributes["url.query"], "again=1");
  // traceparent from the request headers continues the trace.
  for (const sp of spans) {
    assert.equal(sp.traceId, "0af7651916cd43dd8448eb211c80319c");
    assert.equal(sp.parentSpanId, "b7ad6b7169203331");
  }
  assert.equal(counters.spans, 4);
  assert.equal(counters.requestsDropped, 0);
});

Deno.test("http2 protocol: the client's side of the same bytes: CLIENT spans, 404 is an error", () => {
  const [conn] = loadCapture("nginx_h2c");
  const { spans } = traced(conn!, "client", { socket: CLIENT_SOCKET });
  assert.deepEqual(
    spans.map((s) => [s.kind, s.attributes["url.full"], s.status.code, s.attributes["error.type"]]),
    [
      ["CLIENT", "https://127.0.0.1:39823/index.html", "UNSET", undefined],
      ["CLIENT", "https://127.0.0.1:39823/missing", "ERROR", "404"],
      ["CLIENT", "https://127.0.0.1:39823/big.bin", "UNSET", undefined],
      ["CLIENT", "https://127.0.0.1:39823/index.html?again=1", "UNSET", undefined],
    ],
  ); // (the port of :authority is the recording proxy's)
});

Deno.test("http2 protocol: HEAD and a refused POST (curl), request body size from DATA", () => {
  const [, head, post] = loadCapture("nginx_h2c");
  const h = traced(head!, "server").spans;
  assert.deepEqual(
    h.map((
      s,
    ) => [
      s.name,
      s.attributes["http.response.status_code"],
      s.attributes["http.response.body.size"],
    ]),
    [["HEAD", 200, undefined]],
  );
  const p = traced(post!, "server").spans;
  assert.deepEqual(
    p.map((
      s,
    ) => [
      s.name,
      s.attributes["http.response.status_code"],
      s.attributes["http.request.body.size"],
      s.attributes["http.response.body.size"],
    ]),
    [["POST", 405, 11, 157]],
  );
});

Deno.test("http2 protocol: grpc-go calls become gRPC spans, server and client statuses", () => {
  const [conn] = loadCapture("grpc_go");
  const server = traced(conn!, "server").spans;
  assert.deepEqual(
    server.map((
      s,
    ) => [
      s.name,
      s.attributes["rpc.system"],
      s.attributes["rpc.grpc.status_code"],
      s.status.code,
      s.attributes["rpc.grpc.response.message_count"],
    ]),
    [
      ["demo.Echo/Say", "grpc", 0, "UNSET", 1],
      ["demo.Echo/Say", "grpc", 5, "UNSET", 0],
      ["demo.Echo/Count", "grpc", 0, "UNSET", 4],
    ],
  );
  const client = traced(conn!, "client").spans;
  assert.deepEqual(client.map((s) => [s.name, s.status, s.attributes["error.type"]]), [
    ["demo.Echo/Say", { code: "UNSET" }, undefined],
    ["demo.Echo/Say", { code: "ERROR", message: "failed as asked" }, "NOT_FOUND"],
    ["demo.Echo/Count", { code: "UNSET" }, undefined],
  ]);
});

Deno.test("http2 protocol: where HTTP spans come from probes (Go's net/http), gRPC calls only", () => {
  const [grpc] = loadCapture("grpc_go");
  for (const role of ["server", "client"] as const) {
    const all = traced(grpc!, role, { socket: SOCKET }).spans;
    const kept = traced(grpc!, role, { socket: SOCKET, httpElsewhere: true });
    assert.equal(kept.conn.protocol, "http2", "claimed, not given up");
    assert.deepEqual(kept.spans.map((s) => s.name), all.map((s) => s.name));
    assert.equal(kept.spans.length, 3);
  }
  const [nginx] = loadCapture("nginx_h2c");
  const plain = traced(nginx!, "server", { socket: SOCKET, httpElsewhere: true });
  assert.equal(plain.conn.protocol, "http2");
  assert.deepEqual(plain.spans, [], "plain HTTP/2 is left to the probes");
  assert.equal(plain.counters.requestsDropped, 0, "not counted as lost either");
  // Go runs goroutines on any thread: a thread serving a request parents no gRPC call.
  const threads = new ThreadRequests();
  const serving = { traceId: "ab".repeat(16), spanId: "cd".repeat(8), parentSpanId: "" };
  threads.begin(100, 7, serving, 0n);
  for (const httpElsewhere of [false, true]) {
    const { spans } = traced(grpc!, "client", { socket: CLIENT_SOCKET, httpElsewhere, threads });
    const parents = spans.map((s) => s.parentSpanId);
    assert.deepEqual(parents, httpElsewhere ? ["", "", ""] : Array(3).fill(serving.spanId));
  }
  // A process without grpc-go: its HTTP/2 connections are given up at once, as HTTP/1's.
  const none = traced(grpc!, "server", {
    socket: SOCKET,
    httpElsewhere: true,
    rpcFromBytes: false,
  });
  assert.equal(none.conn.state, "given-up");
  assert.deepEqual(none.spans, []);
});

Deno.test("http2 protocol: a Go server's call read before its traced client's write waits for its offer", () => {
  // On loopback a write is recorded as its syscall ends, after the server it woke may have
  // read: a Go server's call then found no offer. It looks again after the read, and its
  // handler's goroutine (`served`) is told its ids only then.
  const [grpc] = loadCapture("grpc_go");
  const told: TraceContext[] = [];
  class Told extends ServedStreams {
    override served(_pid: number, _conn: string, _stream: number, call: TraceContext): void {
      told.push({ ...call });
    }
  }
  const go = (peers: PeerLinks, offerWaiters: Set<OfferWaiter>, ids: IdGenerator) =>
    traced(grpc!, "server", {
      socket: SOCKET,
      httpElsewhere: true,
      ids,
      peers,
      served: new Told(),
      offerWaiters,
      offerWaitNs: 30_000_000n,
      open: true,
    });
  const look = (waiters: Set<OfferWaiter>, nowNs: bigint) => {
    for (const w of waiters) if (!w.lookAgain(nowNs)) waiters.delete(w);
  };

  const peers = new PeerLinks(), waiters = new Set<OfferWaiter>(), ids = countingIds();
  const server = go(peers, waiters, ids);
  assert.deepEqual([told.length, server.spans.length, waiters.size], [0, 0, 1], "held");
  const client = traced(grpc!, "client", {
    socket: CLIENT_SOCKET,
    httpElsewhere: true,
    ids,
    peers,
  });
  assert.equal(client.spans.length, 3);
  look(waiters, 2_000_000n);
  const calls = client.spans.map((s) => [s.traceId, s.spanId]);
  assert.deepEqual(told.map((c) => [c.traceId, c.parentSpanId]), calls, "told with the client's");
  assert.deepEqual(server.spans.map((s) => [s.traceId, s.parentSpanId]), calls);
  assert.equal(waiters.size, 0);

  // No offer: held for the wait after the first call's head, then told as they are (the
  // connection has gone quiet: the calls behind it wait no more).
  told.length = 0;
  const alone = go(new PeerLinks(), waiters, countingIds());
  look(waiters, 20_000_000n); // the first call's head came at 9.5 ms, the others' at 55-56
  assert.deepEqual([told.length, alone.spans.length], [0, 0], "within the wait");
  look(waiters, 60_000_000n);
  assert.deepEqual(told.map((c) => c.parentSpanId), ["", "", ""]);
  assert.deepEqual(alone.spans.map((s) => s.parentSpanId), ["", "", ""]);
  assert.equal(waiters.size, 0, "nothing waits any more");
});

Deno.test("http2 protocol: joined mid-way, spans only with what is known, never wrong", () => {
  const [conn] = loadCapture("nginx_h2c");
  const full = traced(conn!, "server").spans;
  // Skip the client's first piece (preface, settings, the first requests) entirely.
  const t = testConnection(PROTOCOLS, { ids: countingIds() });
  const rest = conn!.slice(1);
  let pos = { ingress: 1000, egress: 0 };
  t.conn.push({
    pid: 100,
    tid: 7,
    conn: "c1",
    secure: false,
    direction: "ingress",
    pos: 0,
    data: new Uint8Array(0),
    callEnd: 1000,
    last: true,
    monoNs: 1n,
  });
  for (const p of rest) {
    const direction: Direction = p.side === 0 ? "ingress" : "egress";
    t.conn.push({
      pid: 100,
      tid: 7,
      conn: "c1",
      secure: false,
      direction,
      pos: pos[direction],
      data: p.bytes,
      callEnd: pos[direction] + p.bytes.length,
      last: true,
      monoNs: p.ns,
    });
    pos = { ...pos, [direction]: pos[direction] + p.bytes.length };
  }
  t.conn.close();
  // Without the requests no span can be made; and none is made up.
  assert.equal(t.spans.length, 0);
  assert.equal(full.length, 4);
});

Deno.test("http2 sniff: preface, server SETTINGS, mid-way HEADERS; not HTTP/1, PostgreSQL or TLS", () => {
  const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  assert.equal(sniffHttp2(enc("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), "client");
  assert.equal(sniffHttp2(enc("PRI * HTTP")), "more");
  assert.equal(sniffHttp2(Uint8Array.of(0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100)), "server");
  assert.equal(sniffHttp2(Uint8Array.of(0, 0, 1, 1, 4, 0, 0, 0, 3, 0x82)), "client");
  assert.equal(sniffHttp2(Uint8Array.of(0, 0, 1, 1, 5, 0, 0, 0, 3, 0x88)), "server");
  assert.equal(sniffHttp2(enc("GET / HTTP/1.1\r\n")), "no");
  assert.equal(sniffHttp2(Uint8Array.of(0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f)), "no"); // PG SSLRequest
  assert.equal(sniffHttp2(Uint8Array.of(0x16, 3, 1, 0, 0xc8, 1, 0, 0, 0xc4)), "no"); // TLS hello
  assert.equal(sniffHttp2(Uint8Array.of(0, 0, 0, 4, 1, 0, 0, 0, 0)), "no"); // a SETTINGS ack
});
