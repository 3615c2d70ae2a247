import assert from "node:assert/strict";
import type { Http1ConnectionParser } from "./parser.ts";
import { http1 } from "./protocol.ts";
import { http2 } from "../http2/protocol.ts";
import type { Protocol } from "../protocol.ts";
import { testConnection, type TestConnectionOptions } from "../_test_connection.ts";
import { countingIds, label, Wire } from "../_test_wire.ts";

function setup(overrides: TestConnectionOptions = {}, protocols: readonly Protocol[] = [http1]) {
  const { conn, spans, counters } = testConnection(protocols, { ids: countingIds(), ...overrides });
  const wire = new Wire();
  return { conn, spans, counters, wire };
}

Deno.test("exchange: role from the request direction", () => {
  for (
    const [dir, role, kind] of [
      ["ingress", "server", "SERVER"],
      ["egress", "client", "CLIENT"],
    ] as const
  ) {
    const { conn, spans, wire } = setup();
    assert.equal(conn.role, "unknown");
    wire.call(dir, "GET / HTTP/1.1\r\n\r\n", 1n).forEach((c) => conn.push(c));
    assert.equal(conn.role, role);
    const other = dir === "ingress" ? "egress" : "ingress";
    wire.call(other, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2n).forEach((c) =>
      conn.push(c)
    );
    assert.equal(spans[0]?.kind, kind);
  }
});

Deno.test("exchange: role from the response direction when the request's start was lost", () => {
  const { conn, spans, counters, wire } = setup();
  wire.lose("egress", 7); // the first 7 bytes of the request were never seen
  wire.call("egress", "ET /x HTTP/1.1\r\n\r\n", 1n).forEach((c) => conn.push(c));
  conn.tick(100_000_000n);
  assert.equal(conn.role, "unknown");
  wire.call("ingress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2n).forEach((c) =>
    conn.push(c)
  );
  assert.equal(conn.role, "client");
  assert.equal(spans.length, 0);
  wire.call("egress", "GET /y HTTP/1.1\r\n\r\n", 3n).forEach((c) => conn.push(c));
  wire.call("ingress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4n).forEach((c) =>
    conn.push(c)
  );
  assert.deepEqual(spans.map((s) => label(s)), ["GET /y"]);
  assert.equal(counters.lostGaps, 1);
});

Deno.test("exchange: tiny opening pieces are held until they say what they are", () => {
  const { conn, spans, wire } = setup();
  wire.call("ingress", "H", 1n).forEach((c) => conn.push(c));
  wire.call("ingress", "TTP/1.1 2", 2n).forEach((c) => conn.push(c));
  assert.equal(conn.role, "client");
  // the request went out first but its records come second (a different thread)
  wire.call("egress", "HE", 0n).forEach((c) => conn.push(c));
  wire.call("egress", "AD /h HTTP/1.1\r\n\r\n", 0n).forEach((c) => conn.push(c));
  wire.call("ingress", "00 OK\r\nContent-Length: 9\r\n\r\n", 3n).forEach((c) => conn.push(c));
  assert.deepEqual(spans.map((s) => [label(s), s.startTimeUnixNano, s.endTimeUnixNano]), [
    ["HEAD /h", 0n, 3n],
  ]);
});

Deno.test("exchange: a connection that never looks like HTTP is given up", () => {
  const { conn, counters, wire } = setup();
  for (let i = 0; i < 7; i++) {
    wire.call("egress", "\x16\x03\x01\x02\x00", 1n).forEach((c) => conn.push(c));
  }
  assert.equal(conn.role, "unknown");
  wire.call("ingress", "\x16\x03\x03", 1n).forEach((c) => conn.push(c));
  assert.equal(conn.state, "given-up");
  assert.equal(counters.nonHttpConnections, 1);
});

Deno.test("exchange: HTTP/2 preface is not HTTP/1", () => {
  const { conn, counters, wire } = setup();
  for (let i = 0; i < 8; i++) {
    wire.call("egress", i === 0 ? "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" : "\x00\x00\x12\x04", 1n)
      .forEach((c) => conn.push(c));
  }
  assert.equal(conn.state, "given-up");
  assert.equal(counters.parseErrors, 0);
});

Deno.test("exchange: too many requests in flight drops the oldest", () => {
  const { conn, counters, spans, wire } = setup({ maxPipelined: 2 });
  for (const p of ["/1", "/2", "/3"]) {
    wire.call("ingress", `GET ${p} HTTP/1.1\r\n\r\n`, 1n).forEach((c) => conn.push(c));
  }
  assert.equal((conn.parser as Http1ConnectionParser).pendingRequests, 2);
  assert.equal(counters.requestsDropped, 1);
  wire.call("egress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2n).forEach((c) =>
    conn.push(c)
  );
  assert.deepEqual(spans.map((s) => label(s)), ["GET /2"]);
});

Deno.test("exchange: a 2xx to CONNECT ends parsing in both directions", () => {
  const { conn, counters, spans, wire } = setup();
  wire.call("egress", "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n", 1n).forEach((c) =>
    conn.push(c)
  );
  wire.call("ingress", "HTTP/1.1 200 Connection established\r\n\r\n", 2n).forEach((c) =>
    conn.push(c)
  );
  wire.call("egress", "\x16\x03\x01 tunnelled GET / HTTP/1.1\r\n\r\n", 3n).forEach((c) =>
    conn.push(c)
  );
  wire.call("ingress", "\x16\x03\x03 HTTP/1.1 200 OK\r\n\r\n", 4n).forEach((c) => conn.push(c));
  assert.deepEqual(spans.map((s) => label(s)), ["CONNECT"]);
  assert.equal(counters.parseErrors, 0);
});

Deno.test("exchange: first bytes that contradict the role mean the key was reused", () => {
  const { conn, counters, spans, wire } = setup();
  wire.call("ingress", "GET /old HTTP/1.1\r\n\r\n", 1n).forEach((c) => conn.push(c));
  assert.equal(conn.role, "server");
  wire.restart();
  // the new connection's first record is on the direction the old one never used, and it
  // is a request going out: this process is now the client
  wire.call("egress", "GET /new HTTP/1.1\r\n\r\n", 2n).forEach((c) => conn.push(c));
  assert.equal(conn.role, "client");
  assert.equal(counters.connectionResets, 1);
  assert.equal(counters.requestsDropped, 1);
  wire.call("ingress", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3n).forEach((c) =>
    conn.push(c)
  );
  assert.deepEqual(spans.map((s) => [label(s), s.kind]), [["GET /new", "CLIENT"]]);
  assert.equal(counters.connectionResets, 1); // ingress at pos 0 is not a second reset
});

// An `Upgrade: h2c` conversation, constructed: the request, the 101 followed at once by
// the server's SETTINGS and stream 1's response (HEADERS :status 200, END_STREAM), and the
// client's preface and SETTINGS after the request.
const UPGRADE_REQUEST =
  "GET /up HTTP/1.1\r\nHost: h:8080\r\nConnection: Upgrade, HTTP2-Settings\r\n" +
  "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n";
const SETTINGS = "\0\0\0\x04\0\0\0\0\0";
const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SETTINGS;
const SWITCHED = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" +
  SETTINGS + "\0\0\x01\x01\x05\0\0\0\x01\x88";

Deno.test("upgrade: h2c agreed hands the connection to HTTP/2, the request as stream 1", () => {
  for (const split of [undefined, 7]) {
    const { conn, spans, wire } = setup({}, [http1, http2]);
    const push = (dir: "ingress" | "egress", text: string, t: bigint) =>
      wire.call(dir, text, t, { chunkSize: split }).forEach((c) => conn.push(c));
    push("ingress", UPGRADE_REQUEST + PREFACE, 1n); // the preface in the request's records
    push("egress", SWITCHED, 2n);
    assert.equal(conn.protocol, "http2");
    assert.deepEqual(
      spans.map((s) => [
        label(s),
        s.kind,
        s.attributes["http.response.status_code"],
        s.attributes["network.protocol.version"],
      ]),
      [["GET /up", "SERVER", 200, "2"]],
    );
  }
});

Deno.test("upgrade: h2c refused, what the client sent meanwhile is HTTP/1 after all", () => {
  const { conn, spans, wire } = setup();
  const push = (dir: "ingress" | "egress", text: string, t: bigint) =>
    wire.call(dir, text, t).forEach((c) => conn.push(c));
  push("ingress", UPGRADE_REQUEST, 1n);
  push("ingress", "GET /next HTTP/1.1\r\nHost: h\r\n\r\n", 2n);
  push("egress", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 3n);
  push("egress", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 4n);
  assert.equal(conn.protocol, "http1");
  assert.deepEqual(
    spans.map((s) => [label(s), s.attributes["http.response.status_code"]]),
    [["GET /up", 200], ["GET /next", 404]],
  );
});

Deno.test("upgrade: h2c agreed with no HTTP/2 in the registry leaves the 101 as today", () => {
  const { conn, spans, wire } = setup();
  wire.call("ingress", UPGRADE_REQUEST + PREFACE, 1n).forEach((c) => conn.push(c));
  wire.call("egress", SWITCHED, 2n).forEach((c) => conn.push(c));
  assert.equal(conn.protocol, "http1");
  assert.deepEqual(spans.map((s) => s.attributes["http.response.status_code"]), [101]);
});

Deno.test("upgrade: a hole in what the client sent after the request: the switch is not followed", () => {
  const { conn, spans, wire } = setup({ requestTimeoutNs: 10_000_000_000n }, [http1, http2]);
  wire.call("ingress", UPGRADE_REQUEST, 1n).forEach((c) => conn.push(c));
  wire.lose("ingress", 24); // the preface never seen
  wire.call("ingress", SETTINGS, 2n).forEach((c) => conn.push(c));
  conn.tick(200_000_000n); // the hole is declared lost before the answer
  wire.call("egress", SWITCHED, 3n).forEach((c) => conn.push(c));
  assert.equal(conn.protocol, "http1");
  assert.deepEqual(spans.map((s) => s.attributes["http.response.status_code"]), [101]);
});
