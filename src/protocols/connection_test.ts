import assert from "node:assert/strict";
import type { SocketInfo, StreamChunk } from "../model/stream_chunk.ts";
import { testConnection } from "./_test_connection.ts";
import { type CapturedPiece, CAPTURES } from "./_testdata.ts";
import { http1 } from "./http1/protocol.ts";
import { postgresql } from "./postgresql/protocol.ts";
import { mysql } from "./mysql/protocol.ts";

const ALL = [http1, postgresql, mysql];

/** A capture as the traced client's chunks. */
function chunks(conn: CapturedPiece[]): StreamChunk[] {
  const pos = { ingress: 0, egress: 0 };
  return conn.map((p) => {
    const direction = p.dir === "c2s" ? "egress" : "ingress";
    const c: StreamChunk = {
      pid: 100,
      tid: 1,
      conn: "c1",
      secure: false,
      direction,
      pos: pos[direction],
      data: p.bytes,
      callEnd: pos[direction] + p.bytes.length,
      last: true,
      monoNs: p.ns,
    };
    pos[direction] += p.bytes.length;
    return c;
  });
}

function socket(peerPort: number, id = "s1"): SocketInfo {
  return {
    pid: 100,
    conn: "c1",
    socket: id,
    fd: 3,
    family: "ipv4",
    localAddress: "127.0.0.1",
    localPort: 40000,
    peerAddress: "127.0.0.1",
    peerPort,
    monoNs: 0n,
    callMonoNs: 0n,
  };
}

Deno.test("connection: the first protocol to claim the opening takes the connection", () => {
  const t = testConnection(ALL);
  for (const c of chunks(CAPTURES.pg_node![0]!)) t.conn.push(c);
  t.conn.close();
  assert.equal(t.conn.protocol, "postgresql");
  assert.equal(t.conn.role, "client");
  assert.equal(t.spans.length, 9);
  assert.deepEqual(t.givenUp, []);
});

Deno.test("connection: claimed by a protocol whose spans come from elsewhere, given up at once", () => {
  const t = testConnection(ALL, { elsewhere: (_pid, family) => family === "sql" });
  const [first, ...rest] = chunks(CAPTURES.pg_node![0]!);
  t.conn.push(first!);
  assert.equal(t.conn.state, "given-up");
  assert.deepEqual(t.givenUp, ["100/c1"]);
  for (const c of rest) t.conn.push(c);
  t.conn.close();
  assert.deepEqual(t.spans, []);
  assert.deepEqual(t.givenUp, ["100/c1"]);
  assert.deepEqual(t.familiesGaveUp, [], "not counted as a connection nobody could parse");
});

Deno.test("connection: another family's spans from elsewhere leave this one parsed", () => {
  const t = testConnection(ALL, { elsewhere: (_pid, family) => family === "http" });
  for (const c of chunks(CAPTURES.mariadb_mysql2![1]!)) t.conn.push(c);
  t.conn.close();
  assert.equal(t.conn.protocol, "mysql");
  assert.equal(t.spans.length, 8);
});

Deno.test("connection: a database port learnt first leaves only that database's protocol", () => {
  const t = testConnection(ALL);
  t.conn.setSocket(socket(5432));
  for (const c of chunks(CAPTURES.http1_curl![0]!)) t.conn.push(c);
  t.conn.close();
  assert.deepEqual(t.spans, []);
  assert.equal(t.conn.state, "given-up");
  assert.deepEqual(t.familiesGaveUp, ["sql"]);
});

Deno.test("connection: a port learnt after the first bytes narrows nothing", () => {
  const t = testConnection(ALL);
  const [first, ...rest] = chunks(CAPTURES.http1_curl![0]!);
  t.conn.push(first!);
  t.conn.setSocket(socket(5432));
  for (const c of rest) t.conn.push(c);
  t.conn.close();
  assert.equal(t.conn.protocol, "http1");
  assert.equal(t.spans.length, 5);
});

Deno.test("connection: every family gives up, each counted once, the connection told once", () => {
  const t = testConnection(ALL);
  const garbage = Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0);
  for (let i = 0; i < 20; i++) {
    t.conn.push({
      pid: 100,
      tid: 1,
      conn: "c1",
      secure: false,
      direction: i % 2 === 0 ? "egress" : "ingress",
      pos: (i >> 1) * garbage.length,
      data: garbage,
      callEnd: ((i >> 1) + 1) * garbage.length,
      last: true,
      monoNs: BigInt(i),
    });
  }
  assert.equal(t.conn.state, "given-up");
  assert.deepEqual(t.familiesGaveUp.sort(), ["http", "sql"]);
  assert.deepEqual(t.givenUp, ["100/c1"]);
});

Deno.test("connection: a new socket under a given-up key is sniffed afresh", () => {
  const t = testConnection(ALL);
  t.conn.setSocket(socket(5432));
  for (const c of chunks(CAPTURES.http1_curl![0]!)) t.conn.push(c);
  assert.equal(t.conn.state, "given-up");
  t.conn.setSocket(socket(8080, "s2"));
  assert.equal(t.conn.state, "sniffing");
  for (const c of chunks(CAPTURES.http1_curl![0]!)) t.conn.push(c);
  t.conn.close();
  assert.equal(t.conn.protocol, "http1");
  assert.equal(t.spans.length, 5);
  assert.equal(t.counters.connectionResets, 1);
});
