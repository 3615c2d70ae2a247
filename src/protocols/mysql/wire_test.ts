import assert from "node:assert/strict";
import { MysqlWireParser, sniffMysql } from "./wire.ts";
import type { SqlExchange } from "../sql/exchange.ts";
import { type CapturedPiece, CAPTURES } from "../_testdata.ts";

const enc = new TextEncoder();

function run(conn: CapturedPiece[], feed?: (p: MysqlWireParser) => void) {
  const got: SqlExchange[] = [];
  const problems: string[] = [];
  const my = new MysqlWireParser({
    onExchange: (e) => got.push(e),
    onProblem: (p) => problems.push(p),
  });
  if (feed) feed(my);
  else {
    for (const p of conn) {
      (p.dir === "c2s" ? my.client : my.server).data(p.bytes, p.ns, p.dir === "c2s" ? 1 : 2);
    }
  }
  return { got, problems, my };
}

function summary(e: SqlExchange) {
  return {
    text: e.text,
    statementName: e.statementName,
    rows: e.rows,
    code: e.error?.code,
    sqlstate: e.error?.sqlstate,
  };
}

const none = { statementName: undefined, rows: undefined, code: undefined, sqlstate: undefined };

Deno.test("mysql: mariadb CLI text protocol (real capture)", () => {
  const { got, problems, my } = run(CAPTURES.mariadb_cli![0]!);
  assert.deepEqual(got.map(summary), [
    { ...none, text: "CREATE TABLE users (id int PRIMARY KEY, name varchar(20))", rows: 0 },
    { ...none, text: "INSERT INTO users VALUES (1, 'ann'), (2, 'bob')", rows: 2 },
    { ...none, text: "SELECT id, name FROM users ORDER BY id", rows: 2 },
    { ...none, text: "UPDATE users SET name = 'eve' WHERE id = 2", rows: 1 },
    { ...none, text: "SELECT * FROM missing_table", code: 1146, sqlstate: "42S02" },
  ]);
  assert.deepEqual(problems, []);
  assert.equal(my.facts.system, "mariadb");
  assert.equal(my.facts.user, "root");
  assert.equal(my.facts.database, "shop");
  assert.equal(got[4]!.error?.message, "Table 'shop.missing_table' doesn't exist");
  for (const e of got) {
    assert.equal(e.namespace, "shop");
    assert.equal(e.tid, 1);
    assert.ok(e.endMonoNs > e.startMonoNs);
  }
});

const MYSQL2_EXPECTED = [
  {
    ...none,
    text:
      "CREATE TABLE IF NOT EXISTS items (id int AUTO_INCREMENT PRIMARY KEY, name varchar(20), price double)",
    rows: 0,
  },
  { ...none, text: "INSERT INTO items (name, price) VALUES (?, ?)", statementName: "1", rows: 1 },
  { ...none, text: "INSERT INTO items (name, price) VALUES (?, ?)", statementName: "1", rows: 1 },
  { ...none, text: "SELECT id, name FROM items WHERE price > ?", statementName: "2", rows: 2 },
  { ...none, text: "SELECT name, price FROM items ORDER BY id", rows: 2 },
  { ...none, text: "SELECT * FROM missing_table WHERE id = ?", code: 1146, sqlstate: "42S02" },
  {
    ...none,
    text: "INSERT INTO items (id, name) VALUES (1, 'dup')",
    code: 1062,
    sqlstate: "23000",
  },
  { ...none, text: "DELETE FROM items WHERE name = 'bolt'", rows: 1 },
];

Deno.test("mysql: mysql2 prepared statements, reuse by id, errors (real capture)", () => {
  const [setup, conn] = CAPTURES.mariadb_mysql2!;
  const first = run(setup!);
  assert.deepEqual(first.got.map((e) => e.text), ["CREATE DATABASE IF NOT EXISTS shop"]);
  const { got, problems, my } = run(conn!);
  assert.deepEqual(got.map(summary), MYSQL2_EXPECTED);
  assert.deepEqual(problems, []);
  assert.deepEqual(my.statementIds, [1, 2]);
});

Deno.test("mysql: the same exchanges whatever the piece boundaries", () => {
  for (const conn of [CAPTURES.mariadb_cli![0]!, CAPTURES.mariadb_mysql2![1]!]) {
    const whole = run(conn).got.map(summary);
    const bytewise = run(conn, (my) => {
      for (const p of conn) {
        const side = p.dir === "c2s" ? my.client : my.server;
        for (let i = 0; i < p.bytes.length; i++) side.data(p.bytes.subarray(i, i + 1), p.ns, 1);
      }
    }).got.map(summary);
    assert.deepEqual(bytewise, whole);
    // Server bytes first, then the client's: answers wait for their commands.
    const serverFirst = run(conn, (my) => {
      for (const p of conn) if (p.dir === "s2c") my.server.data(p.bytes, p.ns, 2);
      for (const p of conn) if (p.dir === "c2s") my.client.data(p.bytes, p.ns, 1);
    });
    assert.deepEqual(serverFirst.got.map(summary), whole);
  }
});

/** One packet: 3-byte length, sequence, payload. */
function pkt(seq: number, ...parts: (number[] | string)[]): Uint8Array {
  const body: number[] = [];
  for (const p of parts) body.push(...(typeof p === "string" ? enc.encode(p) : p));
  return Uint8Array.from([
    body.length & 0xff,
    (body.length >> 8) & 0xff,
    body.length >> 16,
    seq,
    ...body,
  ]);
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

const u32 = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
const str = (s: string) => [s.length, ...enc.encode(s)];
const colDef = (seq: number, name: string) =>
  pkt(seq, str("def"), str("app"), str("t"), str("t"), str(name), str(name), [
    0x0c,
    0x3f,
    0,
    11,
    0,
    0,
    0,
    3,
    0,
    0,
    0,
    0,
  ]);

// MySQL 8 style: CLIENT_DEPRECATE_EOF on both sides, database in the handshake.
const CAPS = 0x200 | 0x8000 | 0x8 | 0x80000 | 0x200000 | 0x1000000;
const GREETING = pkt(
  0,
  [10],
  "8.0.36\0",
  u32(12),
  "abcdefgh",
  [0],
  [CAPS & 0xff, (CAPS >> 8) & 0xff],
  [0xff, 2, 0],
  [(CAPS >> 16) & 0xff, CAPS >>> 24],
  [21],
  new Array(10).fill(0),
  "ijklmnopqrst\0",
  "caching_sha2_password\0",
);
const HANDSHAKE = pkt(
  1,
  u32(CAPS),
  u32(1 << 24),
  [0xff],
  new Array(23).fill(0),
  "app\0",
  [20, ...new Array(20).fill(7)],
  "app\0",
  "caching_sha2_password\0",
);
const OK = (seq: number, affected = 0, status = 2) =>
  pkt(seq, [0, affected, 0, status & 0xff, status >> 8, 0, 0]);
const EOF_OK = (seq: number, status = 2) =>
  pkt(seq, [0xfe, 0, 0, status & 0xff, status >> 8, 0, 0]);

Deno.test("mysql: MySQL 8 style CLIENT_DEPRECATE_EOF, empty results, multi-results, COM_INIT_DB", () => {
  const { got, problems, my } = run([], (my) => {
    my.server.data(GREETING, 1n, 2);
    my.client.data(HANDSHAKE, 2n, 1);
    my.server.data(cat(pkt(2, [1, 3]), OK(3)), 3n, 2); // fast auth success, then OK
    my.client.data(pkt(0, [3], "SELECT a, b FROM t"), 10n, 1);
    my.server.data(
      cat(
        pkt(1, [2]),
        colDef(2, "a"),
        colDef(3, "b"),
        pkt(4, str("1"), str("x")),
        pkt(5, str("2"), str("y")),
        EOF_OK(6),
      ),
      11n,
      2,
    );
    my.client.data(pkt(0, [3], "SELECT a FROM t WHERE 0"), 20n, 1);
    my.server.data(cat(pkt(1, [1]), colDef(2, "a"), EOF_OK(3)), 21n, 2);
    my.client.data(pkt(0, [3], "CALL p()"), 30n, 1);
    // Two results and the procedure's final OK, all for one command.
    my.server.data(
      cat(
        pkt(1, [1]),
        colDef(2, "a"),
        pkt(3, str("1")),
        EOF_OK(4, 0x0a),
        pkt(5, [1]),
        colDef(6, "a"),
        pkt(7, str("5")),
        pkt(8, str("6")),
        EOF_OK(9, 0x0a),
        OK(10, 0, 2),
      ),
      31n,
      2,
    );
    my.client.data(pkt(0, [2], "other"), 40n, 1);
    my.server.data(OK(1), 41n, 2);
    my.client.data(pkt(0, [0x0e]), 50n, 1); // COM_PING: paired, not reported
    my.server.data(OK(1), 51n, 2);
    my.client.data(pkt(0, [3], "UPDATE t SET a = 1"), 60n, 1);
    my.server.data(OK(1, 3), 61n, 2);
  });
  assert.deepEqual(got.map((e) => [e.text, e.rows, e.namespace, e.startMonoNs, e.endMonoNs]), [
    ["SELECT a, b FROM t", 2, "app", 10n, 11n],
    ["SELECT a FROM t WHERE 0", 0, "app", 20n, 21n],
    ["CALL p()", 0, "app", 30n, 31n],
    ["UPDATE t SET a = 1", 3, "other", 60n, 61n],
  ]);
  assert.deepEqual(problems, []);
  assert.equal(my.facts.system, "mysql");
  assert.equal(my.facts.serverVersion, "8.0.36");
  assert.equal(my.facts.connectionId, 12);
  assert.equal(my.facts.database, "other");
  assert.equal(my.pending, 0);
});

Deno.test("mysql: prepare with DEPRECATE_EOF, execute, close, failed prepare", () => {
  const { got, problems, my } = run([], (my) => {
    my.server.data(GREETING, 1n, 2);
    my.client.data(HANDSHAKE, 2n, 1);
    my.server.data(OK(2), 3n, 2);
    my.client.data(pkt(0, [0x16], "SELECT a FROM t WHERE b = ?"), 10n, 1);
    my.server.data(
      cat(pkt(1, [0], u32(7), [1, 0], [1, 0], [0], [0, 0]), colDef(2, "?"), colDef(3, "a")),
      11n,
      2,
    );
    my.client.data(
      pkt(0, [0x17], u32(7), [0], u32(1), [0], [1, 0], [8, 0], [5, 0, 0, 0, 0, 0, 0, 0]),
      20n,
      1,
    );
    my.server.data(cat(pkt(1, [1]), colDef(2, "a"), pkt(3, [0, 0], [9]), EOF_OK(4)), 21n, 2);
    my.client.data(pkt(0, [0x19], u32(7)), 30n, 1); // COM_STMT_CLOSE: no answer
    my.client.data(pkt(0, [0x16], "SELEC oops"), 40n, 1);
    my.server.data(pkt(1, [0xff, 0x28, 0x04], "#42000You have an error"), 41n, 2);
  });
  assert.deepEqual(got.map(summary), [
    { ...none, text: "SELECT a FROM t WHERE b = ?", statementName: "7", rows: 1 },
    { ...none, text: "SELEC oops", code: 1064, sqlstate: "42000" },
  ]);
  assert.deepEqual(problems, []);
  assert.deepEqual(my.statementIds, []);
});

Deno.test("mysql: COM_QUERY with CLIENT_QUERY_ATTRIBUTES (MySQL 8.0.23+ clients)", () => {
  const caps = CAPS | 0x8000000;
  const greeting = pkt(
    0,
    [10],
    "8.0.36\0",
    u32(1),
    "abcdefgh",
    [0],
    [caps & 0xff, (caps >> 8) & 0xff],
    [0xff, 2, 0],
    [(caps >> 16) & 0xff, caps >>> 24],
    [21],
    new Array(10).fill(0),
    "ijklmnopqrst\0",
    "caching_sha2_password\0",
  );
  const hello = pkt(
    1,
    u32(caps),
    u32(1 << 24),
    [0xff],
    new Array(23).fill(0),
    "app\0",
    [0],
    "app\0",
  );
  const { got, problems } = run([], (my) => {
    my.server.data(greeting, 1n, 2);
    my.client.data(hello, 2n, 1);
    my.server.data(OK(2), 3n, 2);
    // No attributes: parameter count 0, one parameter set, then the text.
    my.client.data(pkt(0, [3], [0, 1], "DELETE FROM t"), 10n, 1);
    my.server.data(OK(1, 2), 11n, 2);
    // With an attribute: typed values before the text, which is then not known.
    my.client.data(
      pkt(0, [3], [1, 1, 0, 1, 0xfe, 0, 1, "k".charCodeAt(0), 1, "v".charCodeAt(0)], "SELECT 1"),
      20n,
      1,
    );
    my.server.data(OK(1, 0), 21n, 2);
  });
  assert.deepEqual(got.map((e) => [e.text, e.rows, e.truncated]), [
    ["DELETE FROM t", 2, undefined],
    ["", 0, true],
  ]);
  assert.deepEqual(problems, []);
});

Deno.test("mysql: SSL request stops the parser", () => {
  const { my, got } = run([], (my) => {
    my.server.data(GREETING, 1n, 2);
    my.client.data(pkt(1, u32(CAPS | 0x800), u32(1 << 24), [0xff], new Array(23).fill(0)), 2n, 1);
    my.client.data(Uint8Array.of(0x16, 3, 1, 0, 0xc8, 1), 3n, 1);
  });
  assert.equal(my.facts.encrypted, true);
  assert.equal(my.stopped, true);
  assert.deepEqual(got, []);
});

Deno.test("mysql: gaps: a truncated query keeps its start, lost framing resynchronises", () => {
  const { got, problems } = run([], (my) => {
    const q = pkt(0, [3], "INSERT INTO logs VALUES ('" + "z".repeat(200) + "')");
    my.client.data(q.subarray(0, 30), 1n, 1);
    my.client.gap(q.length - 30, 1n, false);
    my.server.data(OK(1, 1), 2n, 2);
    my.client.data(pkt(0, [3], "SELECT 1"), 3n, 1);
    my.client.gap(3, 4n, true); // a header cut: framing lost
    my.client.data(Uint8Array.of(0x33, 0x44), 5n, 1); // the rest of a lost packet: ignored
    my.server.data(
      cat(
        pkt(1, [1]),
        colDef(2, "1"),
        pkt(3, [0xfe, 0, 0, 2, 0]),
        pkt(4, str("1")),
        pkt(5, [0xfe, 0, 0, 2, 0]),
      ),
      6n,
      2,
    );
    my.server.data(OK(1), 7n, 2); // the answer to the command lost in the hole: dropped
    my.client.data(pkt(0, [3], "DELETE FROM t"), 8n, 1);
    my.server.data(OK(1, 4), 9n, 2);
  });
  assert.deepEqual(got.map((e) => [e.text, e.rows, e.truncated]), [
    ["INSERT INTO logs VALUES (", 1, true], // 30 bytes less header and command byte
    ["SELECT 1", 1, undefined],
    ["DELETE FROM t", 4, undefined],
  ]);
  assert.ok(problems.includes("gap-lost-framing"));
});

Deno.test("mysql: caught mid-way, leftovers of an unseen handshake are not answers", () => {
  const conn = CAPTURES.mariadb_cli![0]!;
  // Drop the greeting and the handshake response; keep the server's auth OK (seq 2).
  const { got, problems } = run(conn.slice(2));
  assert.deepEqual(got.map((e) => [e.text, e.rows]), [
    ["CREATE TABLE users (id int PRIMARY KEY, name varchar(20))", 0],
    ["INSERT INTO users VALUES (1, 'ann'), (2, 'bob')", 2],
    ["SELECT id, name FROM users ORDER BY id", 2],
    ["UPDATE users SET name = 'eve' WHERE id = 2", 1],
    ["SELECT * FROM missing_table", undefined],
  ]);
  assert.deepEqual(problems, []);
});

Deno.test("sniffMysql", () => {
  assert.equal(sniffMysql(CAPTURES.mariadb_cli![0]![0]!.bytes), "greeting");
  assert.equal(sniffMysql(GREETING), "greeting");
  assert.equal(sniffMysql(pkt(0, [3], "SELECT * FROM users")), "command");
  assert.equal(sniffMysql(pkt(0, [0x0e])), "command");
  assert.equal(sniffMysql(GREETING.subarray(0, 3)), "more");
  assert.equal(sniffMysql(enc.encode("GET / HTTP/1.1\r\n")), "no");
  assert.equal(sniffMysql(CAPTURES.pg_psql![0]![0]!.bytes), "no");
  assert.equal(sniffMysql(pkt(0, [3], "SEL\x01")), "no");
});
