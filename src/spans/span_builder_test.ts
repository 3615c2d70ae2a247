import assert from "node:assert/strict";
import { SpanBuilder, type SpanBuilderOptions } from "./span_builder.ts";
import type { Span } from "../model/span.ts";
import type { SocketInfo, StreamChunk } from "../model/stream_chunk.ts";
import { countingIds, label, socketOf, Wire } from "../protocols/_test_wire.ts";
import { mulberry32 } from "../prng.ts";
import { CAPTURES } from "../protocols/_testdata.ts";

const EPOCH = 1_700_000_000_000_000_000n;

function setup(options: Partial<SpanBuilderOptions> = {}) {
  const spans: Span[] = [];
  const builder = new SpanBuilder({
    toUnixNano: (monoNs) => EPOCH + monoNs,
    resource: (pid) => ({ "service.name": "shop", "process.pid": pid }),
    onSpan: (s) => spans.push(s),
    ids: countingIds(),
    socketWaitNs: 0n,
    ...options,
  });
  const wire = new Wire();
  const feed = (chunks: StreamChunk[]) => chunks.forEach((c) => builder.chunk(c));
  return { builder, spans, wire, feed };
}

const GET_USERS = "GET /api/users?id=7&sig=abc HTTP/1.1\r\nHost: api.example.com\r\n" +
  "User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
const OK_HELLO = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

Deno.test("spans: a server exchange, socket known first", () => {
  const { builder, spans, wire, feed } = setup();
  builder.socket(socketOf());
  feed(wire.call("ingress", GET_USERS, 1_000n, { tid: 31 }));
  feed(wire.call("egress", OK_HELLO, 5_000n, { tid: 32 }));
  assert.deepEqual(spans, [{
    traceId: "00000000000000000000000000000001",
    spanId: "0000000000000002",
    parentSpanId: "",
    name: "GET",
    kind: "SERVER",
    startTimeUnixNano: EPOCH + 1_000n,
    endTimeUnixNano: EPOCH + 5_000n,
    attributes: {
      "http.request.method": "GET",
      "url.path": "/api/users",
      "url.query": "id=7&sig=REDACTED",
      "url.scheme": "https",
      "http.response.status_code": 200,
      "network.protocol.version": "1.1",
      "server.address": "api.example.com",
      "server.port": 443,
      "client.address": "10.1.0.9",
      "client.port": 51000,
      "network.peer.address": "10.1.0.9",
      "network.peer.port": 51000,
      "user_agent.original": "curl/8.5.0",
      "http.response.body.size": 5,
      "thread.id": 31,
    },
    status: { code: "UNSET" },
    resource: { "service.name": "shop", "process.pid": 100 },
  }]);
  assert.equal(builder.stats.spans, 1);
  assert.equal(builder.stats.chunks, 2);
  assert.equal(builder.stats.bytes, GET_USERS.length + OK_HELLO.length);
  assert.equal(builder.stats.connections, 1);
  assert.equal(builder.stats.parseErrors, 0);
});

Deno.test("spans: a client exchange, socket known after the first chunk", () => {
  const { builder, spans, wire, feed } = setup();
  const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  feed(wire.call(
    "egress",
    `POST /v1/charge HTTP/1.1\r\nHost: pay.example:9443\r\ntraceparent: ${tp}\r\n` +
      'Content-Length: 4\r\n\r\n{"a"',
    10_000n,
    { tid: 9, chunkSize: 16 },
  ));
  builder.socket({ ...socketOf(), localPort: 51000, peerPort: 9443 });
  feed(wire.call(
    "ingress",
    "HTTP/1.1 402 Payment Required\r\nContent-Length: 2\r\n\r\nno",
    20_000n,
  ));
  assert.deepEqual(spans, [{
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    parentSpanId: "",
    name: "POST",
    kind: "CLIENT",
    startTimeUnixNano: EPOCH + 10_000n,
    endTimeUnixNano: EPOCH + 20_000n,
    attributes: {
      "http.request.method": "POST",
      "url.path": "/v1/charge",
      "url.scheme": "https",
      "url.full": "https://pay.example:9443/v1/charge",
      "http.response.status_code": 402,
      "network.protocol.version": "1.1",
      "server.address": "pay.example",
      "server.port": 9443,
      "network.peer.address": "10.1.0.9",
      "network.peer.port": 9443,
      "http.request.body.size": 4,
      "http.response.body.size": 2,
      "thread.id": 9,
      "error.type": "402",
    },
    status: { code: "ERROR" },
    resource: { "service.name": "shop", "process.pid": 100 },
    parentSampled: true,
  }]);
});

Deno.test("spans: a server continues an incoming trace", () => {
  const { spans, wire, feed } = setup();
  feed(wire.call(
    "ingress",
    "GET / HTTP/1.1\r\nTraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n",
    1n,
  ));
  feed(wire.call("egress", "HTTP/1.1 500 Boom\r\nContent-Length: 0\r\n\r\n", 2n));
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.traceId, "0af7651916cd43dd8448eb211c80319c");
  assert.equal(spans[0]!.parentSpanId, "b7ad6b7169203331");
  assert.equal(spans[0]!.spanId, "0000000000000001");
  assert.deepEqual(spans[0]!.status, { code: "ERROR" });
  assert.equal(spans[0]!.attributes["error.type"], "500");
  assert.equal(spans[0]!.attributes["server.address"], undefined); // no Host, no socket
});

Deno.test("spans: pipelined requests pair with responses first in, first out", () => {
  const { spans, wire, feed } = setup();
  feed(wire.call(
    "ingress",
    "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
      "HEAD /3 HTTP/1.1\r\nHost: h\r\n\r\n",
    100n,
  ));
  feed(wire.call(
    "egress",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nBB",
    200n,
  ));
  feed(wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n", 300n));
  assert.deepEqual(
    spans.map((s) => [
      label(s),
      s.attributes["http.response.status_code"],
      s.attributes["http.request.body.size"],
      s.attributes["http.response.body.size"],
      s.startTimeUnixNano - EPOCH,
      s.endTimeUnixNano - EPOCH,
    ]),
    [
      ["GET /1", 200, undefined, 1, 100n, 200n],
      ["POST /2", 201, 3, 2, 100n, 200n],
      ["HEAD /3", 200, undefined, undefined, 100n, 300n],
    ],
  );
});

Deno.test("spans: HEAD, 204 and 304 on one connection keep the stream in step", () => {
  const { spans, wire, feed } = setup();
  const exchanges: [string, string][] = [
    ["HEAD /a HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"],
    ["DELETE /b HTTP/1.1\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n"],
    ["GET /c HTTP/1.1\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"],
    ["GET /d HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
  ];
  let t = 0n;
  for (const [rq, rs] of exchanges) {
    feed(wire.call("ingress", rq, ++t));
    feed(wire.call("egress", rs, ++t));
  }
  assert.deepEqual(spans.map((s) => `${label(s)} ${s.attributes["http.response.status_code"]}`), [
    "HEAD /a 200",
    "DELETE /b 204",
    "GET /c 304",
    "GET /d 200",
  ]);
});

Deno.test("spans: 100 Continue then 200 is one span", () => {
  const { builder, spans, wire, feed } = setup();
  feed(wire.call(
    "egress",
    "PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 6\r\n\r\n",
    1n,
  ));
  feed(wire.call("ingress", "HTTP/1.1 100 Continue\r\n\r\n", 2n));
  feed(wire.call("egress", "abcdef", 3n));
  feed(wire.call("ingress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4n));
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.kind, "CLIENT");
  assert.equal(spans[0]!.attributes["http.response.status_code"], 200);
  assert.equal(spans[0]!.attributes["http.request.body.size"], 6);
  assert.equal(spans[0]!.endTimeUnixNano - EPOCH, 4n);
  assert.equal(builder.stats.unpairedResponses, 0);
});

Deno.test("spans: 101 Switching Protocols ends HTTP parsing on the connection", () => {
  const { builder, spans, wire, feed } = setup();
  feed(
    wire.call(
      "ingress",
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
      1n,
    ),
  );
  feed(wire.call("egress", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 2n));
  feed(
    wire.call("ingress", "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58 GET / HTTP/1.1\r\n\r\n", 3n),
  );
  feed(wire.call("egress", "\x81\x05hello", 4n));
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.attributes["http.response.status_code"], 101);
  assert.equal(builder.stats.parseErrors, 0);
  assert.equal(builder.stats.unpairedResponses, 0);
});

Deno.test("spans: a 1 MB response captured in part still has its full size", () => {
  const { spans, wire, feed } = setup();
  feed(wire.call("ingress", "GET /big HTTP/1.1\r\n\r\n", 1n));
  const head = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
  feed(wire.call("egress", head + "x".repeat(4000), 2n, { uncaptured: 1048576 - 4000 }));
  feed(wire.call("ingress", "GET /next HTTP/1.1\r\n\r\n", 3n));
  feed(wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4n));
  assert.deepEqual(
    spans.map((s) => [label(s), s.attributes["http.response.body.size"]]),
    [["GET /big", 1048576], ["GET /next", 0]],
  );
});

Deno.test("spans: a request split byte by byte is still recognised", () => {
  const { spans, wire, feed } = setup();
  feed(wire.call("egress", "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n", 1n, { chunkSize: 1 }));
  feed(
    wire.call("ingress", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 2n, { chunkSize: 1 }),
  );
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.kind, "CLIENT");
  assert.equal(spans[0]!.attributes["url.full"], "https://h/slow");
});

Deno.test("spans: out-of-order and duplicate chunks", () => {
  const { builder, spans, wire, feed } = setup();
  const req = wire.call("ingress", GET_USERS, 1n, { chunkSize: 10 });
  const resp = wire.call("egress", OK_HELLO, 2n, { chunkSize: 7 });
  feed([req[1]!, req[0]!, ...req.slice(2), req[3]!]);
  feed([...resp.slice(3), ...resp.slice(0, 3)]);
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.attributes["http.response.body.size"], 5);
  assert.ok(builder.stats.outOfOrderChunks > 0);
  assert.equal(builder.stats.duplicateChunks, 1);
  assert.equal(builder.stats.gaps, 0);
});

Deno.test("spans: lost records inside headers resync at the next request", () => {
  const { builder, spans, wire, feed } = setup();
  feed(wire.call("ingress", "GET /lost HTTP/1.1\r\nHo", 1n));
  wire.lose("ingress", 30);
  feed(wire.call("ingress", "GET /found HTTP/1.1\r\n\r\n", 2n));
  builder.tick(2n + 60_000_000n); // the hole waited past 50 ms
  feed(wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3n));
  assert.deepEqual(spans.map((s) => label(s)), ["GET /found"]);
  assert.equal(builder.stats.lostGaps, 1);
  assert.equal(builder.stats.gapBytes, 30);
  assert.equal(builder.stats.parseErrors, 1);
});

Deno.test("spans: requests without a response time out and are counted", () => {
  const { builder, spans, wire, feed } = setup({ requestTimeoutNs: 1_000n });
  feed(wire.call("ingress", "GET /a HTTP/1.1\r\n\r\n", 100n));
  builder.tick(600n);
  assert.equal(builder.stats.requestsDropped, 0);
  builder.tick(1_200n);
  assert.equal(builder.stats.requestsDropped, 1);
  feed(wire.call("ingress", "GET /b HTTP/1.1\r\n\r\n", 1_300n));
  feed(wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1_400n));
  assert.deepEqual(spans.map((s) => label(s)), ["GET /b"]);
});

Deno.test("spans: a response with no request is counted, not paired", () => {
  const { builder, spans, wire, feed } = setup();
  feed(wire.call("ingress", "GET /a HTTP/1.1\r\n\r\n", 1n));
  feed(wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2n));
  feed(wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3n));
  assert.equal(spans.length, 1);
  // held for a while in case its request's records are late…
  assert.equal(builder.stats.unpairedResponses, 0);
  // …but a request that started later cannot be the one it answered
  feed(wire.call("ingress", "GET /b HTTP/1.1\r\n\r\n", 4n));
  assert.equal(builder.stats.unpairedResponses, 1);
  feed(wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5n));
  assert.deepEqual(spans.map((s) => label(s)), ["GET /a", "GET /b"]);
  feed(wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 6n));
  builder.flush();
  assert.equal(builder.stats.unpairedResponses, 2);
});

Deno.test("spans: a response delivered before its request's records still pairs", () => {
  const { builder, spans, wire } = setup();
  const req = wire.call("ingress", "GET /late HTTP/1.1\r\nHost: h\r\n\r\n", 10n, { chunkSize: 8 });
  const resp = wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 20n);
  builder.chunk(req[0]!);
  builder.chunk(req[2]!); // req[1] is late: the request is held in the reassembler
  resp.forEach((c) => builder.chunk(c));
  assert.equal(spans.length, 0);
  req.slice(3).forEach((c) => builder.chunk(c));
  builder.chunk(req[1]!);
  assert.deepEqual(
    spans.map((s) => [label(s), s.startTimeUnixNano - EPOCH, s.endTimeUnixNano - EPOCH]),
    [
      ["GET /late", 10n, 20n],
    ],
  );
  assert.equal(builder.stats.unpairedResponses, 0);
});

Deno.test("spans: pos 0 again starts a new connection under the same key", () => {
  const { builder, spans, wire, feed } = setup();
  builder.socket(socketOf());
  feed(wire.call("ingress", "GET /old HTTP/1.1\r\n\r\n", 1n));
  wire.restart();
  builder.socket({ ...socketOf(), peerPort: 52000 }); // the new connection's socket
  feed(wire.call("egress", "GET /new HTTP/1.1\r\nHost: other\r\n\r\n", 2n)); // now a client
  feed(wire.call("ingress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3n));
  assert.deepEqual(spans.map((s) => [label(s), s.kind, s.attributes["network.peer.port"]]), [
    ["GET /new", "CLIENT", 52000],
  ]);
  assert.equal(builder.stats.connectionResets, 1);
  assert.equal(builder.stats.requestsDropped, 1);
});

Deno.test("spans: a new socket for a used key is a new connection", () => {
  const { builder, spans, wire, feed } = setup();
  builder.socket(socketOf());
  feed(wire.call("ingress", "GET /old HTTP/1.0\r\n\r\n", 1n));
  feed(wire.call("egress", "HTTP/1.0 200 OK\r\n\r\nread until close", 2n));
  feed(wire.call("ingress", "GET /unanswered HTTP/1.0\r\n\r\n", 3n));
  builder.socket(socketOf()); // the same socket again: nothing changes
  assert.equal(builder.stats.connectionResets, 0);
  // A freed SSL* reused by the next connection: stream offsets go on counting (the BPF
  // side keeps them per key), the socket differs, seen in a call that began at 4.
  builder.socket({ ...socketOf(), socket: "sock-2", fd: 9, peerPort: 52000, callMonoNs: 4n });
  // the old connection is over: its response read until close is complete
  assert.deepEqual(spans.map((s) => [label(s), s.attributes["http.response.body.size"]]), [
    ["GET /old", 16],
  ]);
  assert.equal(builder.stats.connectionResets, 1);
  assert.equal(builder.stats.requestsDropped, 1);
  feed(wire.call("ingress", "GET /new HTTP/1.1\r\n\r\n", 4n));
  feed(wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5n));
  assert.deepEqual(spans.map((s) => [label(s), s.attributes["client.port"]]), [
    ["GET /old", 51000],
    ["GET /new", 52000],
  ]);
});

Deno.test("spans: a response read until close ends at flush", () => {
  const { builder, spans, wire, feed } = setup();
  feed(wire.call("ingress", "GET /old HTTP/1.0\r\n\r\n", 1n));
  feed(wire.call("egress", "HTTP/1.0 200 OK\r\n\r\nsome", 2n));
  feed(wire.call("egress", " body", 3n));
  assert.equal(spans.length, 0);
  builder.flush();
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.attributes["network.protocol.version"], "1.0");
  assert.equal(spans[0]!.attributes["http.response.body.size"], 9);
  assert.equal(spans[0]!.endTimeUnixNano - EPOCH, 3n);
  assert.equal(builder.stats.connections, 0);
});

Deno.test("spans: idle connections are closed by tick", () => {
  const { builder, spans, wire, feed } = setup({ idleTimeoutNs: 1_000n });
  feed(wire.call("ingress", "GET / HTTP/1.0\r\n\r\n", 10n));
  feed(wire.call("egress", "HTTP/1.0 200 OK\r\n\r\nuntil close", 20n));
  builder.tick(500n);
  assert.equal(builder.stats.connections, 1);
  builder.tick(1_100n);
  assert.equal(builder.stats.connections, 0);
  assert.equal(builder.stats.connectionsEvicted, 1);
  assert.equal(spans.length, 1);
});

Deno.test("spans: the number of connections is bounded", () => {
  const { builder, wire, feed } = setup({ maxConnections: 16 });
  for (let i = 0; i < 40; i++) {
    feed(wire.call("ingress", "GET / HTTP/1.1\r\n\r\n", BigInt(i), { conn: `k${i}` }));
  }
  assert.ok(builder.stats.connections <= 16);
  assert.equal(builder.stats.connections + builder.stats.connectionsEvicted, 40);
  assert.equal(builder.stats.requestsDropped, builder.stats.connectionsEvicted);
});

Deno.test("spans: a connection that is neither HTTP nor SQL is given up, once", () => {
  const given: string[] = [];
  const { builder, spans, wire, feed } = setup({
    onNotParsed: (pid, c) => given.push(`${pid}/${c}`),
  });
  for (let i = 0; i < 10; i++) {
    feed(wire.call("egress", "\x7fELF\x02\x01\x01\x00", BigInt(i)));
    feed(wire.call("ingress", "\xff\xfe\xfd\xfc", BigInt(i)));
  }
  assert.equal(spans.length, 0);
  assert.equal(builder.stats.nonHttpConnections, 1);
  assert.equal(builder.stats.sql.nonSqlConnections, 1);
  assert.equal(builder.stats.parseErrors, 0);
  assert.deepEqual(given, ["100/c1"]);
});

Deno.test("spans: a PostgreSQL conversation becomes SQL client spans", () => {
  const { spans, wire, feed } = setup();
  const msg = (type: string, body: string) => {
    const len = body.length + 4;
    return type +
      String.fromCharCode(len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255) + body;
  };
  const startup = "\x00\x03\x00\x00user\x00app\x00database\x00shop\x00\x00";
  const len = startup.length + 4;
  feed(wire.call("egress", String.fromCharCode(0, 0, len >> 8, len & 255) + startup, 1n));
  feed(wire.call("ingress", msg("R", "\x00\x00\x00\x00") + msg("Z", "I"), 2n));
  feed(wire.call("egress", msg("Q", "SELECT * FROM users WHERE id = 42\x00"), 3n, { tid: 9 }));
  feed(wire.call("ingress", msg("C", "SELECT 1\x00") + msg("Z", "I"), 4n));
  assert.equal(spans.length, 1);
  const [span] = spans;
  assert.equal(span!.name, "SELECT users");
  assert.equal(span!.kind, "CLIENT");
  assert.equal(span!.attributes["db.system.name"], "postgresql");
  assert.equal(span!.attributes["db.namespace"], "shop");
  assert.equal(span!.attributes["db.query.text"], "SELECT * FROM users WHERE id = ?");
});

Deno.test("spans: separate processes and connections do not mix", () => {
  const { spans, wire, feed } = setup();
  feed(wire.call("ingress", "GET /p1 HTTP/1.1\r\n\r\n", 1n, { pid: 1 }));
  feed(wire.call("ingress", "GET /p2 HTTP/1.1\r\n\r\n", 2n, { pid: 2 }));
  feed(wire.call("ingress", "GET /p1b HTTP/1.1\r\n\r\n", 3n, { pid: 1, conn: "c2" }));
  feed(
    wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4n, { pid: 1, conn: "c2" }),
  );
  feed(wire.call("egress", "HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n", 5n, { pid: 2 }));
  feed(wire.call("egress", "HTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n", 6n, { pid: 1 }));
  assert.deepEqual(
    spans.map((
      s,
    ) => [label(s), s.attributes["http.response.status_code"], s.resource["process.pid"]]),
    [["GET /p1b", 200, 1], ["GET /p2", 201, 2], ["GET /p1", 202, 1]],
  );
});

Deno.test("spans: random chunking, reordering and duplicates give the same spans", () => {
  const exchanges: [string, string][] = [
    [GET_USERS, OK_HELLO],
    [
      "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
      "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n",
    ],
    ["HEAD /h HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 77\r\n\r\n"],
  ];
  const clean = (() => {
    const { builder, spans, wire, feed } = setup();
    exchanges.forEach(([rq, rs], i) => {
      feed(wire.call("ingress", rq, BigInt(2 * i)));
      feed(wire.call("egress", rs, BigInt(2 * i + 1)));
    });
    builder.flush();
    return spans.map((s) => [label(s), s.attributes]);
  })();
  assert.equal(clean.length, 3);
  for (let seed = 1; seed <= 200; seed++) {
    const rand = mulberry32(seed);
    const { builder, spans, wire } = setup();
    const chunks: StreamChunk[] = [];
    exchanges.forEach(([rq, rs], i) => {
      const size = 1 + Math.floor(rand() * 20);
      chunks.push(...wire.call("ingress", rq, BigInt(2 * i), { chunkSize: size }));
      chunks.push(...wire.call("egress", rs, BigInt(2 * i + 1), { chunkSize: size }));
    });
    // Within each call's records: swap neighbours and repeat some (never a pos-0 record,
    // which would mean a new connection). Calls stay in causal order.
    for (let i = 0; i + 1 < chunks.length; i++) {
      const a = chunks[i]!;
      const b = chunks[i + 1]!;
      if (a.direction !== b.direction || a.callEnd !== b.callEnd) continue;
      if (rand() < 0.3) [chunks[i], chunks[i + 1]] = [b, a];
      if (rand() < 0.1 && chunks[i]!.pos > 0) chunks.splice(i, 0, chunks[i]!);
    }
    chunks.forEach((c) => builder.chunk(c));
    builder.flush();
    assert.deepEqual(spans.map((s) => [label(s), s.attributes]), clean, `seed ${seed}`);
    assert.equal(builder.stats.gaps, 0, `seed ${seed}`);
  }
});

Deno.test("spans: random records never throw and every span is well formed", () => {
  const pieces = [
    "GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
    "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "HTTP/1.0 200 OK\r\n\r\nclose",
    "HTTP/1.1 101 Switching Protocols\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\n",
    "\x16\x03\x01\x00\x05hello",
    "\r\n",
  ];
  const rand = mulberry32(4242);
  const { builder, spans } = setup({
    maxConnections: 8,
    reorderWaitNs: 100n,
    idleTimeoutNs: 5_000n,
  });
  const pos = new Map<string, number>();
  let t = 0n;
  for (let i = 0; i < 20_000; i++) {
    t += BigInt(Math.floor(rand() * 50));
    const conn = `k${Math.floor(rand() * 12)}`;
    const direction = rand() < 0.5 ? "ingress" : "egress";
    const key = `${conn}/${direction}`;
    const r = rand();
    if (r < 0.02) {
      pos.delete(`${conn}/ingress`);
      pos.delete(`${conn}/egress`);
      continue;
    }
    if (r < 0.04) {
      builder.socket({ ...socketOf(conn), peerPort: Math.floor(rand() * 3) });
      continue;
    }
    if (r < 0.06) {
      builder.tick(t);
      continue;
    }
    // Mostly what this connection's role would carry in this direction, sometimes anything.
    const server = Number(conn.slice(1)) % 2 === 0;
    const requests = (direction === "ingress") === server;
    const text = rand() < 0.8
      ? (requests ? pieces[Math.floor(rand() * 2)]! : pieces[2 + Math.floor(rand() * 2)]!)
      : pieces[Math.floor(rand() * pieces.length)]!;
    const cut = rand() < 0.1 ? Math.floor(rand() * text.length) : 0;
    const data = Uint8Array.from(text.slice(cut), (c) => c.charCodeAt(0));
    let p = pos.get(key) ?? 0;
    if (rand() < 0.05) p += Math.floor(rand() * 100); // lost records
    if (rand() < 0.05) p = Math.max(0, p - Math.floor(rand() * 20)); // duplicates
    const callEnd = p + data.length + (rand() < 0.05 ? Math.floor(rand() * 1000) : 0);
    pos.set(key, Math.max(pos.get(key) ?? 0, callEnd));
    builder.chunk({
      pid: 1,
      tid: 2,
      conn,
      secure: true,
      direction,
      pos: p,
      data,
      callEnd,
      last: true,
      monoNs: t,
    });
  }
  builder.flush();
  assert.equal(builder.stats.spans, spans.length);
  assert.ok(spans.length > 1000, `only ${spans.length} spans`);
  assert.equal(builder.stats.connections, 0);
  for (const s of spans) {
    assert.match(s.traceId, /^[0-9a-f]{32}$/);
    assert.match(s.spanId, /^[0-9a-f]{16}$/);
    assert.ok(s.startTimeUnixNano <= s.endTimeUnixNano);
    assert.equal(typeof s.attributes["http.response.status_code"], "number");
  }
});

Deno.test("spans: a finished exchange waits briefly for its socket's addresses", () => {
  const { builder, spans } = setup({ socketWaitNs: 50_000_000n });
  const enc = (t: string) => new TextEncoder().encode(t);
  const chunk = (direction: "ingress" | "egress", text: string, monoNs: bigint) => {
    const data = enc(text);
    return {
      pid: 7,
      tid: 7,
      conn: "0x1",
      secure: true,
      direction,
      pos: 0,
      data,
      callEnd: data.length,
      last: true,
      monoNs,
    };
  };
  // The request was buffered during the handshake: no syscall named the socket before the
  // response's write, whose socket fact arrives just after the response's bytes.
  builder.chunk(chunk("ingress", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 1_000n));
  builder.chunk(chunk("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2_000n));
  assert.equal(spans.length, 0, "held for the socket");
  builder.socket({
    pid: 7,
    conn: "0x1",
    socket: "s1",
    callMonoNs: 2_500n,
    fd: 5,
    family: "ipv4",
    localAddress: "127.0.0.1",
    localPort: 8443,
    peerAddress: "127.0.0.2",
    peerPort: 40000,
    monoNs: 2_500n,
  });
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.attributes["client.address"], "127.0.0.2");
  assert.equal(spans[0]!.attributes["client.port"], 40000);

  // Without any socket fact (a memory BIO), the span goes out after the wait.
  builder.chunk({ ...chunk("ingress", "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", 3_000n), conn: "0x2" });
  builder.chunk({
    ...chunk("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4_000n),
    conn: "0x2",
  });
  builder.tick(4_000n + 10_000_000n);
  assert.equal(spans.length, 1, "still within the wait");
  builder.tick(4_000n + 60_000_000n);
  assert.equal(spans.length, 2);
  assert.equal(spans[1]!.attributes["url.path"], "/b");
  assert.equal(spans[1]!.attributes["client.address"], undefined);
});

Deno.test("spans: socket facts seen first, before a tick, are kept for the connection", () => {
  const { builder, spans } = setup();
  const boot = 3_600_000_000_000n; // an hour after boot: the run's first record
  builder.socket({
    pid: 7,
    conn: "0x9",
    socket: "s9",
    callMonoNs: boot,
    fd: 5,
    family: "ipv4",
    localAddress: "127.0.0.1",
    localPort: 8443,
    peerAddress: "127.0.0.3",
    peerPort: 40001,
    monoNs: boot,
  });
  builder.tick(boot + 1_000_000n);
  const enc = (t: string) => new TextEncoder().encode(t);
  const req = enc("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
  const resp = enc("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  const base = { pid: 7, tid: 7, conn: "0x9", secure: true, pos: 0, last: true };
  builder.chunk({
    ...base,
    direction: "ingress",
    data: req,
    callEnd: req.length,
    monoNs: boot + 2_000_000n,
  });
  builder.chunk({
    ...base,
    direction: "egress",
    data: resp,
    callEnd: resp.length,
    monoNs: boot + 3_000_000n,
  });
  // A client on this host that may be traced: its offer is waited for, then given up.
  assert.equal(spans.length, 0);
  builder.tick(boot + 40_000_000n);
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.attributes["client.address"], "127.0.0.3");
});

Deno.test("spans: a reused key whose request was written before its socket was seen", () => {
  // A client: SSL_write's bytes are captured at its entry, and the socket is learnt from
  // the write syscall inside it, so the new connection's request arrives first.
  const { builder, spans, wire, feed } = setup();
  builder.socket(socketOf());
  feed(wire.call("egress", "GET /one HTTP/1.1\r\nHost: a\r\n\r\n", 10n));
  feed(wire.call("ingress", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 20n));
  feed(wire.call("egress", "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n", 30n));
  builder.socket({ ...socketOf(), socket: "sock-2", peerPort: 52000, callMonoNs: 30n });
  feed(wire.call("egress", "body", 31n));
  feed(wire.call("ingress", "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 40n));
  const seen = spans.map((s) => [
    s.attributes["url.path"],
    s.attributes["http.response.status_code"],
    s.attributes["network.peer.port"],
  ]);
  assert.deepEqual(seen, [["/one", 200, 51000], ["/two", 201, 52000]]);
  assert.equal(builder.stats.requestsDropped, 0);
  assert.equal(builder.stats.lostGaps, 0, "offsets go on across the reuse: no hole");
});

/** One end of an IPv4 TCP connection as the capture tells it: socket `s-CONN`. */
function tcpEnd(
  pid: number,
  conn: string,
  [localAddress, localPort]: [string, number],
  [peerAddress, peerPort]: [string, number],
): SocketInfo {
  return {
    family: "ipv4",
    fd: 5,
    monoNs: 0n,
    callMonoNs: 0n,
    pid,
    conn,
    socket: `s-${conn}`,
    localAddress,
    localPort,
    peerAddress,
    peerPort,
  };
}

Deno.test("spans: a traced client calling a traced server on this host: one trace", () => {
  const { builder, spans, wire, feed } = setup();
  const ends = { family: "ipv4" as const, fd: 5, monoNs: 0n, callMonoNs: 0n };
  const server = { ...ends, pid: 2, conn: "sv", socket: "s-sv" };
  const request = "GET /chain HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n\r\n";
  const response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  // The client's request is captured before its socket is learnt (inside that write).
  feed(wire.call("egress", request, 10n, { pid: 1, conn: "cl" }));
  builder.socket(tcpEnd(1, "cl", ["127.0.0.1", 50000], ["127.0.0.1", 8443]));
  builder.socket(tcpEnd(2, "sv", ["127.0.0.1", 8443], ["127.0.0.1", 50000]));
  feed(wire.call("ingress", request, 11n, { pid: 2, conn: "sv" }));
  feed(wire.call("egress", response, 12n, { pid: 2, conn: "sv" }));
  feed(wire.call("ingress", response, 13n, { pid: 1, conn: "cl" }));
  const [serverSpan, clientSpan] = spans;
  assert.equal(serverSpan!.kind, "SERVER");
  assert.equal(clientSpan!.kind, "CLIENT");
  assert.equal(serverSpan!.traceId, clientSpan!.traceId);
  assert.equal(serverSpan!.parentSpanId, clientSpan!.spanId);
  assert.equal(clientSpan!.parentSpanId, "");

  // Another connection between other ports is not linked.
  feed(wire.call("ingress", request, 20n, { pid: 2, conn: "other" }));
  builder.socket({
    ...server,
    conn: "other",
    socket: "s-o",
    localAddress: "127.0.0.1",
    localPort: 8443,
    peerAddress: "127.0.0.1",
    peerPort: 50001,
  });
  feed(wire.call("egress", response, 21n, { pid: 2, conn: "other" }));
  builder.tick(21n + 31_000_000n); // its client's offer waited for, in vain
  assert.equal(spans[2]!.parentSpanId, "");
  assert.notEqual(spans[2]!.traceId, clientSpan!.traceId);
});

Deno.test("spans: a traced client's request recorded after its server answered: linked when it comes", () => {
  // A client's write is recorded as its syscall ends; the server it woke may have read and
  // answered before that. The server's span waits (offerWaitNs) for the client's offer.
  const { builder, spans, wire, feed } = setup();
  const request = "GET /late HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n\r\n";
  const response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  builder.socket(tcpEnd(2, "sv", ["127.0.0.1", 8443], ["127.0.0.1", 50000]));
  builder.socket(tcpEnd(1, "cl", ["127.0.0.1", 50000], ["127.0.0.1", 8443]));
  feed(wire.call("ingress", request, 11n, { pid: 2, conn: "sv", tid: 2 }));
  feed(wire.call("egress", response, 12n, { pid: 2, conn: "sv", tid: 2 }));
  assert.equal(spans.length, 0, "the server's span waits for its client's offer");
  builder.tick(20_000_000n);
  assert.equal(spans.length, 0, "still within the wait");
  feed(wire.call("egress", request, 10n, { pid: 1, conn: "cl" })); // recorded late
  feed(wire.call("ingress", response, 13n, { pid: 1, conn: "cl" }));
  builder.tick(21_000_000n);
  const server = spans.find((s) => s.kind === "SERVER")!;
  const client = spans.find((s) => s.kind === "CLIENT")!;
  assert.equal(server.traceId, client.traceId, "one trace");
  assert.equal(server.parentSpanId, client.spanId);
  assert.equal(server.attributes["upspan.parent.method"], "peer");

  // A connection from elsewhere (not this host) does not wait.
  builder.socket(tcpEnd(2, "far", ["10.0.0.2", 8443], ["10.0.0.9", 50001]));
  feed(wire.call("ingress", request, 30n, { pid: 2, conn: "far" }));
  feed(wire.call("egress", response, 31n, { pid: 2, conn: "far" }));
  assert.equal(spans.length, 3, "made at once");
});

Deno.test("spans: exchanges read after their offer wait went by go at the look after the read", () => {
  // An untraced client on this host: a read of the rings that comes long after the server's
  // exchanges decides them at once (lookForOffers), with no tick; those queued behind one
  // that waited in vain wait no longer, the connection having gone quiet.
  const { builder, spans, wire, feed } = setup();
  const request = "GET /q HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n\r\n";
  const response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  builder.socket(tcpEnd(2, "sv", ["127.0.0.1", 8443], ["127.0.0.1", 50000]));
  const ms = 1_000_000n;
  for (const at of [10n, 20n, 30n]) {
    feed(wire.call("ingress", request, at * ms, { pid: 2, conn: "sv", tid: 2 }));
    feed(wire.call("egress", response, at * ms + 1n, { pid: 2, conn: "sv", tid: 2 }));
  }
  assert.equal(spans.length, 0, "each waits behind the first, whose offer may still come");
  builder.lookForOffers(25n * ms);
  assert.equal(spans.length, 0, "the first is within its wait");
  builder.lookForOffers(45n * ms);
  assert.equal(spans.length, 3, "the first waited in vain; the two behind it go with it");
  // Quiet now: the next request does not wait at all.
  feed(wire.call("ingress", request, 50n * ms, { pid: 2, conn: "sv", tid: 2 }));
  feed(wire.call("egress", response, 50n * ms + 1n, { pid: 2, conn: "sv", tid: 2 }));
  assert.equal(spans.length, 4);
});

Deno.test("spans: a request the server was not seen reading does not shift the links", () => {
  const { builder, spans, wire, feed } = setup();
  const ends = { family: "ipv4" as const, fd: 5, monoNs: 0n, callMonoNs: 0n };
  builder.socket({
    ...ends,
    pid: 1,
    conn: "cl",
    socket: "a",
    localAddress: "10.0.0.1",
    localPort: 40000,
    peerAddress: "10.0.0.2",
    peerPort: 443,
  });
  builder.socket({
    ...ends,
    pid: 2,
    conn: "sv",
    socket: "b",
    localAddress: "10.0.0.2",
    localPort: 443,
    peerAddress: "10.0.0.1",
    peerPort: 40000,
  });
  const req = (n: number) => `GET /${n} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  const c = { pid: 1, conn: "cl" }, s = { pid: 2, conn: "sv" };
  feed(wire.call("egress", req(1), 10n, c));
  // The server's read of /1 was not seen (it was under way when the probes came in).
  feed(wire.call("egress", resp, 12n, s));
  feed(wire.call("ingress", resp, 13n, c));
  feed(wire.call("egress", req(2), 20n, c));
  feed(wire.call("ingress", req(2), 21n, s));
  feed(wire.call("egress", resp, 22n, s));
  feed(wire.call("ingress", resp, 23n, c));
  const byPath = (kind: string, path: string) =>
    spans.find((x) => x.kind === kind && x.attributes["url.path"] === path)!;
  assert.equal(byPath("SERVER", "/2").parentSpanId, byPath("CLIENT", "/2").spanId);
});

Deno.test("spans: a call made by the thread serving a request is that request's child", () => {
  const { builder, spans, wire, feed } = setup();
  builder.socket(socketOf("sv"));
  builder.socket({ ...socketOf("cl"), localPort: 40000, peerPort: 9000 });
  const call = "GET /inventory HTTP/1.1\r\nHost: stock:9000\r\n\r\n";
  const answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  feed(wire.call("ingress", GET_USERS, 1_000n, { conn: "sv", tid: 7 }));
  feed(wire.call("egress", call, 2_000n, { conn: "cl", tid: 7 }));
  feed(wire.call("ingress", answer, 3_000n, { conn: "cl", tid: 7 }));
  feed(wire.call("egress", OK_HELLO, 4_000n, { conn: "sv", tid: 7 }));
  // Another thread's call, and a call after the answer: no parent.
  feed(wire.call("egress", call, 5_000n, { conn: "cl", tid: 8 }));
  feed(wire.call("ingress", answer, 6_000n, { conn: "cl", tid: 8 }));
  feed(wire.call("egress", call, 7_000n, { conn: "cl", tid: 7 }));
  feed(wire.call("ingress", answer, 8_000n, { conn: "cl", tid: 7 }));
  const [client, server, other, after] = spans;
  assert.equal(spans.length, 4);
  assert.equal(server!.kind, "SERVER");
  assert.equal(client!.kind, "CLIENT");
  assert.equal(client!.traceId, server!.traceId);
  assert.equal(client!.parentSpanId, server!.spanId);
  assert.equal(other!.parentSpanId, "");
  assert.notEqual(other!.traceId, server!.traceId);
  assert.equal(after!.parentSpanId, "");
});

Deno.test("spans: a thread serving two requests at once gives its calls no parent", () => {
  const { builder, spans, wire, feed } = setup();
  for (const conn of ["a", "b"]) builder.socket(socketOf(conn));
  builder.socket({ ...socketOf("cl"), localPort: 40000, peerPort: 9000 });
  feed(wire.call("ingress", GET_USERS, 1_000n, { conn: "a", tid: 7 }));
  feed(wire.call("ingress", GET_USERS, 1_500n, { conn: "b", tid: 7 }));
  feed(wire.call("egress", "GET /x HTTP/1.1\r\n\r\n", 2_000n, { conn: "cl", tid: 7 }));
  feed(wire.call("ingress", "HTTP/1.1 204 No Content\r\n\r\n", 3_000n, { conn: "cl", tid: 7 }));
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.parentSpanId, "");
});

Deno.test("spans: a library names its own database connections; the process's others are parsed, each statement once", () => {
  const givenUp: string[] = [];
  const { builder, spans } = setup({
    sqlByConnection: (pid) => pid === 7,
    onNotParsed: (_pid, conn) => givenUp.push(conn),
  });
  const feed = (conn: string) => {
    const pos = { ingress: 0, egress: 0 };
    for (const p of CAPTURES.pg_psql![0]!) {
      const direction = p.dir === "c2s" ? "egress" : "ingress";
      const at = pos[direction];
      pos[direction] += p.bytes.length;
      builder.chunk({
        pid: 7,
        tid: 11,
        conn,
        secure: false,
        direction,
        pos: at,
        data: p.bytes,
        callEnd: at + p.bytes.length,
        last: true,
        monoNs: p.ns,
      });
    }
  };
  // One alone gives the statements' count, emitted only once held spans are released.
  feed("lib");
  feed("wire");
  assert.equal(spans.length, 0, "held until the library's events are read");
  // The library's first statement on "lib" is read after its wire span was made: dropped.
  builder.libraryConnection(7, "lib");
  builder.releaseHeld();
  const perConnection = spans.length;
  assert.ok(perConnection > 0);
  assert.deepEqual(givenUp, ["lib"]);
  // A connection named before its first bytes is given up as it is claimed.
  builder.libraryConnection(7, "early");
  feed("early");
  builder.flush();
  assert.equal(spans.length, perConnection, "nothing from the library's connections");
  assert.deepEqual(givenUp, ["lib", "early"]);
  // Closed, its key is free: a driver's connection that reuses it is parsed again.
  builder.close(7, "lib");
  feed("lib");
  builder.flush();
  assert.equal(spans.length, 2 * perConnection);
});
