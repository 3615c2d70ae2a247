import assert from "node:assert/strict";
import type { Span } from "../../model/span.ts";
import type { SocketInfo, StreamChunk } from "../../model/stream_chunk.ts";
import { testConnection } from "../_test_connection.ts";
import { postgresql } from "../postgresql/protocol.ts";
import { mysql } from "../mysql/protocol.ts";
import { type CapturedPiece, CAPTURES } from "../_testdata.ts";

/** A connection over the SQL protocols, as the span builder would make it. */
function sqlConnection() {
  const t = testConnection([postgresql, mysql], {
    pid: 42,
    conn: "k",
    toUnixNano: (ns) => ns + 1_000n,
    resource: (pid) => ({ "process.pid": pid }),
  });
  return { c: t.conn, spans: t.spans as Span[], cfg: { counters: t.sql } };
}

/** Chunks as the traced process saw them: its writes are egress. */
function chunks(conn: CapturedPiece[], tracedIsClient: boolean): StreamChunk[] {
  const pos = { ingress: 0, egress: 0 };
  return conn.map((p) => {
    const direction = (p.dir === "c2s") === tracedIsClient ? "egress" : "ingress";
    const c: StreamChunk = {
      pid: 42,
      tid: 7,
      conn: "k",
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

const socket: SocketInfo = {
  pid: 42,
  conn: "k",
  socket: "sock1",
  fd: 3,
  family: "ipv4",
  localAddress: "127.0.0.1",
  localPort: 50000,
  peerAddress: "127.0.0.1",
  peerPort: 5432,
  monoNs: 0n,
  callMonoNs: 0n,
};

Deno.test("SQL connection: a PostgreSQL client's connection → CLIENT spans", () => {
  const { c, spans, cfg } = sqlConnection();
  c.setSocket(socket);
  for (const ch of chunks(CAPTURES.pg_node![0]!, true)) c.push(ch);
  c.close();
  assert.equal(c.protocol, "postgresql");
  assert.equal(c.role, "client");
  assert.deepEqual(spans.map((s) => [s.name, s.kind, s.status.code]), [
    ["CREATE items", "CLIENT", "UNSET"],
    ["INSERT items", "CLIENT", "UNSET"],
    ["INSERT items", "CLIENT", "UNSET"],
    ["SELECT items", "CLIENT", "UNSET"],
    ["SELECT items", "CLIENT", "UNSET"],
    ["UPDATE items", "CLIENT", "UNSET"],
    ["SELECT missing_table", "CLIENT", "ERROR"],
    ["SELECT", "CLIENT", "ERROR"],
    ["DELETE items", "CLIENT", "UNSET"],
  ]);
  const s = spans[3]!;
  assert.equal(s.attributes["db.system.name"], "postgresql");
  assert.equal(s.attributes["db.namespace"], "postgres");
  assert.equal(s.attributes["server.port"], 5432);
  assert.equal(s.attributes["db.query.text"], "SELECT id, name FROM items WHERE name = $1");
  assert.deepEqual(s.resource, { "process.pid": 42 });
  assert.equal(cfg.counters.spans, 9);
  assert.equal(cfg.counters.parseErrors, 0);
});

Deno.test("SQL connection: the MariaDB server's side → SERVER spans, system mariadb", () => {
  const { c, spans } = sqlConnection();
  for (const ch of chunks(CAPTURES.mariadb_cli![0]!, false)) c.push(ch);
  c.close();
  assert.equal(c.protocol, "mysql");
  assert.equal(c.role, "server");
  assert.deepEqual(spans.map((s) => [s.name, s.kind, s.attributes["db.system.name"]]), [
    ["CREATE users", "SERVER", "mariadb"],
    ["INSERT users", "SERVER", "mariadb"],
    ["SELECT users", "SERVER", "mariadb"],
    ["UPDATE users", "SERVER", "mariadb"],
    ["SELECT missing_table", "SERVER", "mariadb"],
  ]);
  assert.equal(spans[4]!.attributes["db.response.status_code"], "1146");
  assert.equal(spans[1]!.attributes["db.query.text"], "INSERT INTO users VALUES (?, ?), (?, ?)");
});

Deno.test("SQL connection: a connection that is not SQL is given up on", () => {
  const { c, spans, cfg } = sqlConnection();
  const text = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  let pos = 0;
  for (let i = 0; i < 10; i++) {
    c.push({
      pid: 42,
      tid: 1,
      conn: "k",
      secure: false,
      direction: "egress",
      pos,
      data: text,
      callEnd: pos + text.length,
      last: true,
      monoNs: BigInt(i),
    });
    pos += text.length;
  }
  assert.equal(c.state, "given-up");
  assert.equal(cfg.counters.nonSqlConnections, 1);
  assert.deepEqual(spans, []);
});

Deno.test("SQL connection: a new socket under the key starts afresh", () => {
  const { c, spans, cfg } = sqlConnection();
  c.setSocket(socket);
  const conn = CAPTURES.pg_psql![0]!;
  for (const ch of chunks(conn.slice(0, 6), true)) c.push(ch);
  c.setSocket({ ...socket, socket: "sock2" });
  assert.equal(c.protocol, undefined);
  for (const ch of chunks(CAPTURES.pg_node![0]!, true)) c.push(ch);
  c.close();
  assert.equal(cfg.counters.connectionResets, 1);
  assert.equal(spans.at(-1)?.name, "DELETE items");
  assert.equal(c.protocol, "postgresql");
});
