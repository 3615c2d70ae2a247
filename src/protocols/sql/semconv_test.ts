import assert from "node:assert/strict";
import { mysqlSystem, type SqlExchangeContext, sqlExchangeSpan } from "./semconv.ts";
import type { SqlExchange } from "./exchange.ts";
import type { IdGenerator } from "../../model/ids.ts";
import type { SocketInfo } from "../../model/stream_chunk.ts";

const ids: IdGenerator = {
  traceId: () => "0af7651916cd43dd8448eb211c80319c",
  spanId: () => "b7ad6b7169203331",
};

const socket: SocketInfo = {
  pid: 10,
  conn: "c",
  socket: "s",
  fd: 5,
  family: "ipv4",
  localAddress: "127.0.0.1",
  localPort: 40000,
  peerAddress: "10.0.0.5",
  peerPort: 5432,
  monoNs: 0n,
  callMonoNs: 0n,
};

function ctx(extra: Partial<SqlExchangeContext> = {}): SqlExchangeContext {
  return {
    system: "postgresql",
    namespace: "shop",
    socket,
    resource: { "service.name": "api", "process.pid": 10 },
    toUnixNano: (ns) => ns + 1_000_000_000n,
    ids,
    ...extra,
  };
}

const select: SqlExchange = {
  text: "SELECT id, name FROM users WHERE name = 'bob' AND age > 30",
  startMonoNs: 100n,
  endMonoNs: 250n,
  rows: 2,
  commandTag: "SELECT 2",
  tid: 77,
};

Deno.test("sqlExchangeSpan: a PostgreSQL SELECT", () => {
  const span = sqlExchangeSpan(select, ctx());
  assert.deepEqual(span, {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    parentSpanId: "",
    name: "SELECT users",
    kind: "CLIENT",
    startTimeUnixNano: 1_000_000_100n,
    endTimeUnixNano: 1_000_000_250n,
    attributes: {
      "db.system.name": "postgresql",
      "db.namespace": "shop",
      "db.operation.name": "SELECT",
      "db.collection.name": "users",
      "db.query.text": "SELECT id, name FROM users WHERE name = ? AND age > ?",
      "db.response.returned_rows": 2,
      "server.address": "10.0.0.5",
      "server.port": 5432,
      "network.peer.address": "10.0.0.5",
      "network.peer.port": 5432,
      "thread.id": 77,
    },
    status: { code: "UNSET" },
    resource: { "service.name": "api", "process.pid": 10 },
  });
});

Deno.test("sqlExchangeSpan: full text on request, a parent context, DML rows not 'returned'", () => {
  const ex = { ...select, text: "UPDATE users SET name = 'x'", rows: 3 };
  const span = sqlExchangeSpan(ex, ctx({ fullQueryText: true }), {
    traceId: "1".repeat(32),
    spanId: "2".repeat(16),
    parentSpanId: "3".repeat(16),
  });
  assert.equal(span.attributes["db.query.text"], "UPDATE users SET name = 'x'");
  assert.equal(span.attributes["db.response.returned_rows"], undefined);
  assert.equal(span.name, "UPDATE users");
  assert.equal(span.traceId, "1".repeat(32));
  assert.equal(span.parentSpanId, "3".repeat(16));
});

Deno.test("sqlExchangeSpan: PostgreSQL error → SQLSTATE, status ERROR", () => {
  const ex: SqlExchange = {
    text: "SELECT * FROM missing_table",
    startMonoNs: 1n,
    endMonoNs: 2n,
    tid: 1,
    error: { sqlstate: "42P01", message: 'relation "missing_table" does not exist' },
  };
  const span = sqlExchangeSpan(ex, ctx());
  assert.equal(span.attributes["db.response.status_code"], "42P01");
  assert.equal(span.attributes["error.type"], "42P01");
  assert.deepEqual(span.status, {
    code: "ERROR",
    message: 'relation "missing_table" does not exist',
  });
});

Deno.test("sqlExchangeSpan: MySQL error number, mariadb system, exchange namespace wins", () => {
  const ex: SqlExchange = {
    text: 'INSERT INTO items VALUES (1, "dup")',
    startMonoNs: 5n,
    endMonoNs: 4n, // clock skew between CPUs: never end before start
    tid: 1,
    namespace: "other",
    error: { sqlstate: "23000", message: "Duplicate entry", code: 1062 },
  };
  const span = sqlExchangeSpan(ex, ctx({ system: mysqlSystem("5.5.5-10.11.6-MariaDB") }));
  assert.equal(span.attributes["db.system.name"], "mariadb");
  assert.equal(span.attributes["db.namespace"], "other");
  assert.equal(span.attributes["db.query.text"], "INSERT INTO items VALUES (?, ?)");
  assert.equal(span.attributes["db.response.status_code"], "1062");
  assert.equal(span.attributes["error.type"], "1062");
  assert.equal(span.endTimeUnixNano, span.startTimeUnixNano);
  const leaky = sqlExchangeSpan(
    {
      ...ex,
      error: {
        sqlstate: "23000",
        message: "Duplicate entry 'alice@example.com' for key 'users.email'",
        code: 1062,
      },
    },
    ctx({ system: "mysql" }),
  );
  assert.deepEqual(leaky.status, {
    code: "ERROR",
    message: "Duplicate entry '?' for key 'users.email'",
  }, "the error text is sanitized like the query");
});

Deno.test("sqlExchangeSpan: names without a collection or an operation; no socket", () => {
  const base = { startMonoNs: 1n, endMonoNs: 2n, tid: 1 };
  assert.equal(sqlExchangeSpan({ ...base, text: "BEGIN" }, ctx()).name, "BEGIN");
  const unknown = sqlExchangeSpan(
    { ...base, text: "", statementName: "s1" },
    ctx({ socket: undefined }),
  );
  assert.equal(unknown.name, "postgresql");
  assert.equal(unknown.attributes["db.query.text"], undefined);
  assert.equal(unknown.attributes["server.address"], undefined);
  assert.equal(mysqlSystem("8.0.36"), "mysql");
  assert.equal(mysqlSystem(undefined), "mysql");
});

Deno.test("sqlExchangeSpan: statements that differ in their literals, or in their dialect", () => {
  const span = (text: string, system: SqlExchangeContext["system"]) =>
    sqlExchangeSpan({ text, startMonoNs: 1n, endMonoNs: 2n }, ctx({ system })).attributes;
  for (const id of [1, 22, 333]) {
    assert.equal(span(`SELECT * FROM a WHERE id = ${id}`, "postgresql")["db.collection.name"], "a");
    assert.equal(span(`SELECT * FROM b WHERE id = ${id}`, "postgresql")["db.collection.name"], "b");
  }
  // One text, two readings: PostgreSQL's "t" is a name, MySQL's a string.
  const text = 'SELECT * FROM "t" WHERE a = 1';
  assert.equal(span(text, "postgresql")["db.collection.name"], "t");
  assert.equal(span(text, "mysql")["db.collection.name"], undefined);
  assert.equal(span(text, "postgresql")["db.collection.name"], "t");
});
