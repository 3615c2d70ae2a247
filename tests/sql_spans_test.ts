// SQL from the wire: PostgreSQL conversations on plain sockets, parsed into database client
// spans — a web application's queries as children of the request that made them, and psql.
import assert from "node:assert/strict";
import { curl, startAgent } from "./agent.ts";
import { startServer } from "./targets/targets.ts";
import { PG_BIN, startMariadb, startPostgres } from "./targets/sql_servers.ts";

const PG_APP = new URL("./targets/pg_app.ts", import.meta.url).pathname;

Deno.test("node-postgres in a web app: SQL spans, children of the request that made them", async () => {
  await using pg = await startPostgres();
  await using app = await startServer(Deno.execPath(), ["run", "-A", PG_APP, String(pg.port)]);
  await using agent = await startAgent(["--pid", String(app.pid)]);
  const base = `http://127.0.0.1:${app.port}`;
  await curl("-X", "POST", `${base}/items?name=widget`);
  await curl(`${base}/items?name=widget`);
  await curl(`${base}/broken`);

  const sql = await agent.waitForSpans((s) => s.attributes["db.system.name"] !== undefined, 3);
  const http = await agent.waitForSpans((s) => s.kind === "SERVER", 3);
  const server = (path: string, method = "GET") =>
    http.find((s) => s.attributes["url.path"] === path && s.name === method)!;
  const [insert, select, broken] = sql;

  assert.equal(insert!.name, "INSERT items");
  assert.equal(insert!.kind, "CLIENT");
  assert.equal(insert!.attributes["db.operation.name"], "INSERT");
  assert.equal(insert!.attributes["db.query.text"], "INSERT INTO items (name) VALUES ($1)");
  assert.equal(insert!.attributes["server.port"], pg.port);
  assert.equal(insert!.parentSpanId, server("/items", "POST").spanId);
  assert.equal(insert!.traceId, server("/items", "POST").traceId);

  assert.equal(select!.name, "SELECT items");
  assert.equal(select!.attributes["db.collection.name"], "items");
  assert.equal(select!.attributes["db.namespace"], undefined, "connected before the probes");
  assert.equal(select!.attributes["db.response.returned_rows"], 1);
  assert.equal(select!.parentSpanId, server("/items").spanId);
  assert.equal(select!.status.code, "UNSET");

  assert.equal(broken!.status.code, "ERROR");
  assert.equal(broken!.attributes["db.response.status_code"], "42P01");
  assert.equal(broken!.attributes["error.type"], "42P01");
  assert.equal(broken!.parentSpanId, server("/broken").spanId);
  assert.equal(server("/broken").attributes["http.response.status_code"], 500);
});

Deno.test("psql over TCP: statements, a failing one with its SQLSTATE, the database name", async () => {
  await using pg = await startPostgres();
  // psql waits for its input, so the agent can attach before the connection opens.
  const psql = new Deno.Command(`${PG_BIN}/psql`, {
    args: ["-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-d", "postgres", "-q"],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const writer = psql.stdin.getWriter();
  try {
    await new Promise((r) => setTimeout(r, 300)); // connected by now
    await using agent = await startAgent(["--pid", String(psql.pid)]);
    const input = "CREATE TABLE t (id int, note varchar(50));\n" +
      "INSERT INTO t VALUES (1, 'secret'), (2, 'x');\n" +
      "SELECT note FROM t WHERE id = 2;\n" +
      "SELECT * FROM nope;\n";
    await writer.write(new TextEncoder().encode(input));
    const spans = await agent.waitForSpans(
      (s) => s.attributes["db.system.name"] === "postgresql",
      4,
    );
    assert.deepEqual(spans.map((s) => s.name), ["CREATE t", "INSERT t", "SELECT t", "SELECT nope"]);
    // A type's size is not a value.
    assert.equal(
      spans[0]!.attributes["db.query.text"],
      "CREATE TABLE t (id int, note varchar(50));",
    );
    assert.equal(spans[1]!.attributes["db.query.text"], "INSERT INTO t VALUES (?, ?), (?, ?);");
    assert.equal(spans[2]!.attributes["db.response.returned_rows"], 1);
    assert.equal(spans[3]!.status.code, "ERROR");
    assert.equal(spans[3]!.attributes["db.response.status_code"], "42P01");
    for (const s of spans) assert.equal(s.resource["process.pid"], psql.pid);
  } finally {
    await writer.close().catch(() => {});
    await psql.status;
  }
});

Deno.test("mariadb client over TCP: one span per statement, errors with their code", async () => {
  await using db = await startMariadb();
  const client = new Deno.Command("mariadb", {
    args: ["-h", "127.0.0.1", "-P", String(db.port), "-u", "root", "--skip-ssl", "-N"],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const writer = client.stdin.getWriter();
  try {
    await new Promise((r) => setTimeout(r, 300)); // connected by now
    await using agent = await startAgent(["--pid", String(client.pid)]);
    const input = "CREATE DATABASE shop;\nUSE shop;\n" +
      "CREATE TABLE t (id INT PRIMARY KEY, note TEXT);\n" +
      "INSERT INTO t VALUES (1, 'secret'), (2, 'x');\n" +
      "SELECT note FROM t WHERE id = 2;\n" +
      "INSERT INTO t VALUES (1, 'again');\n";
    await writer.write(new TextEncoder().encode(input));
    // From the client library's probes (the wire parser leaves this process to them): they
    // know the server's version, so MariaDB by name, although the greeting was never seen.
    const spans = await agent.waitForSpans((s) => s.attributes["db.system.name"] === "mariadb", 6);
    const byName = new Map(spans.map((s) => [s.name, s]));
    assert.equal(byName.get("CREATE t")?.kind, "CLIENT");
    const select = byName.get("SELECT t")!;
    assert.equal(select.attributes["db.query.text"], "SELECT note FROM t WHERE id = ?");
    const dup = spans.filter((s) => s.name === "INSERT t").at(-1)!;
    assert.equal(dup.status.code, "ERROR");
    assert.equal(dup.attributes["db.response.status_code"], "1062", "duplicate key");
    await new Promise((r) => setTimeout(r, 300));
    await agent.stop();
    const all = agent.spans.filter((s) => s.attributes["db.system.name"] !== undefined);
    assert.equal(all.length, 6, "library probes and wire parser: no statement twice");
  } finally {
    await writer.close().catch(() => {});
    await client.status;
  }
});
