import assert from "node:assert/strict";
import { type SqlLibStatement, SqlLibStatements } from "./statements.ts";
import { SAMPLE_EVENTS, sampleRecords, sqlLibEvent, sqllibTestTypes } from "./_test_events.ts";
import { type SqlLibEvent, sqlLibEventDecoder } from "./events.ts";
import { sqlLibSpan } from "./spans.ts";
import { RandomIdGenerator } from "../model/ids.ts";

function run(events = SAMPLE_EVENTS): SqlLibStatement[] {
  const out: SqlLibStatement[] = [];
  const s = new SqlLibStatements((x) => out.push(x));
  for (const e of events) s.push(e);
  return out;
}

Deno.test("SqlLibStatements: pairs each library's events into statements", () => {
  const out = run();
  assert.deepEqual(
    out.map((s) => [s.system, s.exchange.text, s.exchange.error?.sqlstate ?? null]),
    [
      ["postgresql", "SELECT * FROM t WHERE a = 1", null],
      ["mariadb", "SELECT 1", null],
      ["mariadb", "SELECT * FROM x", "42S02"],
      ["mariadb", "INSERT INTO t VALUES (1)", null],
      ["sqlite", "SELECT * FROM t", ""],
      ["sqlite", "SELECT * FROM nope", ""],
    ],
  );
  assert.equal(out[0]!.exchange.rows, 1);
  assert.equal(out[0]!.exchange.commandTag, "SELECT 1");
  assert.equal(out[2]!.exchange.error?.code, 1146);
  assert.equal(out[4]!.exchange.error?.code, 19);
});

Deno.test("SqlLibStatements: a libpq prepared statement is executed by name; its prepare is silent", () => {
  const out = run([
    sqlLibEvent({ kind: "send", library: "libpq", op: "prepare", name: "s1", text: "SELECT $1" }),
    sqlLibEvent({ kind: "result", library: "libpq", op: "result", hasResult: true, rc: 1 }),
    sqlLibEvent({ kind: "result", library: "libpq", op: "result" }),
    sqlLibEvent({ kind: "send", library: "libpq", op: "execute", name: "s1", startMonoNs: 5000n }),
    sqlLibEvent({
      kind: "result",
      library: "libpq",
      op: "result",
      hasResult: true,
      rc: 7,
      sqlstate: "22012",
      detail: "division by zero",
    }),
    sqlLibEvent({ kind: "result", library: "libpq", op: "result", endMonoNs: 9000n }),
  ]);
  assert.equal(out.length, 1);
  const ex = out[0]!.exchange;
  assert.equal(ex.text, "SELECT $1");
  assert.equal(ex.statementName, "s1");
  assert.equal(ex.startMonoNs, 5000n);
  assert.equal(ex.endMonoNs, 9000n);
  assert.deepEqual(ex.error, { sqlstate: "22012", message: "division by zero" });
});

Deno.test("sqlLibSpan: SQLite spans use the generic dialect and SQLite's result code", () => {
  const [stmt] = run([
    sqlLibEvent({
      kind: "stmt-end",
      library: "sqlite",
      op: "execute",
      text: 'INSERT INTO "t" VALUES (1)',
    }),
    sqlLibEvent({ kind: "stmt-rc", library: "sqlite", op: "execute", rc: 19, hasResult: true }),
  ]);
  const span = sqlLibSpan(stmt!, {
    resource: {},
    toUnixNano: (n) => n,
    ids: new RandomIdGenerator(),
  });
  assert.equal(span.name, "INSERT t");
  assert.equal(span.attributes["db.system.name"], "sqlite");
  assert.equal(span.attributes["db.query.text"], 'INSERT INTO "t" VALUES (?)');
  assert.equal(span.attributes["db.response.status_code"], "19");
  assert.equal(span.status.code, "ERROR");
});

Deno.test("sqlLibEventDecoder: reads back every sample record, the database and the peer included", () => {
  const types = sqllibTestTypes();
  const decode = sqlLibEventDecoder(types);
  const decoded = sampleRecords(types).map((r) => {
    const got = decode(r, new DataView(r.buffer), 0, r.length);
    assert.ok(got.ok);
    return got.event;
  });
  assert.deepEqual(decoded, SAMPLE_EVENTS);
});

Deno.test("sqlLibSpan: a libpq statement says its database and the server its socket is connected to", () => {
  const [pg] = run();
  const span = sqlLibSpan(pg!, {
    resource: {},
    toUnixNano: (ns) => ns,
    ids: new RandomIdGenerator(),
  });
  assert.equal(span.attributes["db.namespace"], "shop");
  assert.equal(span.attributes["server.address"], "127.0.0.1");
  assert.equal(span.attributes["server.port"], 5432);
  // Without a TCP peer (a Unix socket, or PQsocket not read) neither is guessed.
  const [other] = run([
    sqlLibEvent({ kind: "send", library: "libpq", text: "SELECT 1" }),
    sqlLibEvent({ kind: "result", library: "libpq", op: "result" }),
  ]);
  const bare = sqlLibSpan(other!, {
    resource: {},
    toUnixNano: (ns) => ns,
    ids: new RandomIdGenerator(),
  });
  assert.equal(bare.attributes["server.address"], undefined);
  assert.equal(bare.attributes["db.namespace"], undefined);
});

Deno.test("SqlLibStatements: a libpq synchronous call is a statement by itself", () => {
  const call = (over: Partial<SqlLibEvent>) =>
    sqlLibEvent({ hasResult: true, rc: 2, ...over, kind: "call", library: "libpq" });
  const out = run([
    call({ op: "prepare", name: "s1", text: "SELECT $1", rc: 1 }),
    call({ op: "execute", name: "s1", detail: "SELECT 1", startMonoNs: 5000n, endMonoNs: 9000n }),
    call({ op: "query", text: "SELECT * FROM nope", rc: 7, sqlstate: "42P01", detail: "nope" }),
    call({ op: "query", text: "SELECT 1", hasResult: false, rc: -1 }),
    // A prepare that failed is reported, as on the wire.
    call({ op: "prepare", name: "s2", text: "SELEC", rc: 7, sqlstate: "42601", detail: "syntax" }),
  ]);
  assert.deepEqual(
    out.map((s) => [s.exchange.text, s.exchange.commandTag ?? null, s.exchange.error ?? null]),
    [
      ["SELECT $1", "SELECT 1", null],
      ["SELECT * FROM nope", null, { sqlstate: "42P01", message: "nope" }],
      ["SELECT 1", null, { sqlstate: "", message: "no result (connection failed)" }],
      ["SELEC", null, { sqlstate: "42601", message: "syntax" }],
    ],
  );
  assert.equal(out[0]!.exchange.statementName, "s1");
  assert.equal(out[0]!.exchange.startMonoNs, 5000n);
  assert.equal(out[0]!.exchange.endMonoNs, 9000n);
});

Deno.test("SqlLibStatements: libpq's closing NULL carries the last command tag", () => {
  const out = run([
    sqlLibEvent({ kind: "send", library: "libpq", op: "query", text: "SELECT 1; SELECT 2" }),
    sqlLibEvent({ kind: "result", library: "libpq", op: "result", detail: "SELECT 1" }),
    sqlLibEvent({ kind: "send", library: "libpq", op: "query", text: "BAD; SELECT 3" }),
    sqlLibEvent({
      kind: "result",
      library: "libpq",
      op: "result",
      hasResult: true,
      rc: 7,
      sqlstate: "42601",
      detail: "syntax error",
    }),
    sqlLibEvent({ kind: "result", library: "libpq", op: "result" }),
  ]);
  assert.deepEqual(
    out.map((s) => [s.exchange.text, s.exchange.commandTag ?? null, s.exchange.error ?? null]),
    [
      ["SELECT 1; SELECT 2", "SELECT 1", null],
      ["BAD; SELECT 3", null, { sqlstate: "42601", message: "syntax error" }],
    ],
  );
});
