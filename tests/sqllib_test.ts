/**
 * End to end: real SQL clients (psql over a Unix socket and over TCP, psycopg2, a libpq C
 * client using the asynchronous and synchronous APIs, the `mariadb` shell, a MariaDB
 * Connector/C client, the `sqlite3` shell and Python's sqlite3 module) traced by
 * the SQL library instrumentation (`runInstrumentation`), against throwaway servers. Each runs a SELECT, an INSERT, a prepared
 * statement and a failing statement; the spans are compared exactly.
 */
import assert from "node:assert/strict";
import {
  haveMariadb,
  havePostgres,
  PG_BIN,
  startMariadb,
  startPostgres,
} from "./targets/sql_servers.ts";
import { runTraced, type SpanSummary, summarize } from "./targets/sqllib/run_traced.ts";
import { pythonEnv } from "./targets/python_env.ts";

const here = new URL("./targets/sqllib/", import.meta.url).pathname;

function have(cmd: string): boolean {
  try {
    Deno.statSync(cmd);
    return true;
  } catch {
    return false;
  }
}

async function gcc(source: string, out: string, flags: string[]): Promise<void> {
  const r = await new Deno.Command("gcc", {
    args: ["-O2", "-Wall", "-o", out, `${here}${source}`, ...flags],
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`gcc ${source}: ${new TextDecoder().decode(r.stderr)}`);
}

function okResult(run: Awaited<ReturnType<typeof runTraced>>) {
  if (!run.result.ok) throw new Error(`trace failed: ${run.result.error}`);
  assert.equal(run.result.badRecords, 0);
  assert.equal(run.result.stats.drops, 0);
  return run.result;
}

const PSQL_INPUT = [
  "CREATE TABLE t (a int, b text);",
  "INSERT INTO t VALUES (1, 'x'), (2, 'y');",
  "SELECT * FROM t WHERE a = 1;",
  "PREPARE p1(int) AS SELECT b FROM t WHERE a = $1;",
  "EXECUTE p1(2);",
  "SELECT * FROM nope;",
  "",
].join("\n");

const PSQL_SPANS: SpanSummary[] = [
  {
    name: "CREATE t",
    system: "postgresql",
    text: "CREATE TABLE t (a int, b text);",
    status: "UNSET",
  },
  {
    name: "INSERT t",
    system: "postgresql",
    text: "INSERT INTO t VALUES (?, ?), (?, ?);",
    status: "UNSET",
  },
  { name: "SELECT t", system: "postgresql", text: "SELECT * FROM t WHERE a = ?;", status: "UNSET" },
  {
    name: "PREPARE",
    system: "postgresql",
    text: "PREPARE p1(int) AS SELECT b FROM t WHERE a = $1;",
    status: "UNSET",
  },
  { name: "EXECUTE", system: "postgresql", text: "EXECUTE p1(?);", status: "UNSET" },
  {
    name: "SELECT nope",
    system: "postgresql",
    text: "SELECT * FROM nope;",
    status: "ERROR",
    code: "42P01",
  },
];

const pg = { ignore: !havePostgres() };

Deno.test({
  name: "sqllib: psql over the Unix socket and over TCP, libpq probes",
  ...pg,
  fn: async () => {
    await using server = await startPostgres();
    for (const host of [server.dir, "127.0.0.1"]) {
      const run = await runTraced({
        cmd: `${PG_BIN}/psql`,
        args: ["-X", "-q", "-h", host, "-p", String(server.port), "-U", "postgres", "postgres"],
        input: PSQL_INPUT.replaceAll(" t ", ` t_${host === "127.0.0.1" ? "tcp" : "unix"} `),
      });
      const r = okResult(run);
      const suffix = host === "127.0.0.1" ? "tcp" : "unix";
      const expected = PSQL_SPANS.map((s) => ({
        ...s,
        name: s.name.replace(/ t$/, ` t_${suffix}`),
        text: s.text.replaceAll(" t ", ` t_${suffix} `),
      }));
      assert.deepEqual(summarize(run.spans), expected, `psql -h ${host}`);
      assert.equal(r.location.libraries[0]?.library, "libpq");
      // One PQsendQuery and two PQgetResult calls (a result, then NULL) per statement.
      assert.equal(r.stats.libpqHits, 5 * expected.length);
      // Two events per statement (the send; the NULL, with the command tag), one more for the
      // error result.
      assert.equal(r.stats.events, 2 * expected.length + 1);
      const select = run.statements[2]!.exchange;
      assert.equal(select.rows, 1);
      assert.equal(select.commandTag, "SELECT 1");
      assert.match(run.spans[5]!.status.message ?? "", /relation "nope" does not exist/);
      for (const s of run.spans) assert.ok(s.endTimeUnixNano >= s.startTimeUnixNano);
      // The PGconn's database and its socket's peer: a TCP server has an address and port,
      // a Unix socket neither.
      const tcp = host === "127.0.0.1";
      assert.deepEqual(
        [...new Set(run.spans.map((s) => JSON.stringify(serverOf(s))))],
        [JSON.stringify(tcp ? ["postgres", "127.0.0.1", server.port] : ["postgres", null, null])],
      );
    }
  },
});

function serverOf(s: { attributes: Record<string, unknown> }): unknown[] {
  const a = s.attributes;
  return [a["db.namespace"] ?? null, a["server.address"] ?? null, a["server.port"] ?? null];
}

Deno.test({
  name: "sqllib: a libpq C client, asynchronous and synchronous calls",
  ...pg,
  fn: async () => {
    await using server = await startPostgres();
    const dir = await Deno.makeTempDir({ prefix: "upspan-sqllib-" });
    try {
      const exe = `${dir}/pq_client`;
      await gcc("pq_client.c", exe, ["-I/usr/include/postgresql", "-lpq"]);
      const run = await runTraced({
        cmd: exe,
        args: [`host=127.0.0.1 port=${server.port} user=postgres dbname=postgres`],
        input: "go\n",
        readyLine: true,
      });
      okResult(run);
      assert.ok(run.success, run.stderr);
      assert.deepEqual(summarize(run.spans), [
        {
          name: "SELECT pq_items",
          system: "postgresql",
          text: "SELECT count(*) FROM pq_items WHERE id > ?",
          status: "UNSET",
        },
        {
          name: "INSERT pq_items",
          system: "postgresql",
          text: "INSERT INTO pq_items VALUES ($1, $2)",
          status: "UNSET",
        },
        {
          name: "SELECT pq_items",
          system: "postgresql",
          text: "SELECT name FROM pq_items WHERE id = $1",
          status: "UNSET",
        },
        {
          name: "SELECT pq_missing",
          system: "postgresql",
          text: "SELECT * FROM pq_missing",
          status: "ERROR",
          code: "42P01",
        },
        { name: "SELECT", system: "postgresql", text: "SELECT ?", status: "UNSET" },
        {
          name: "INSERT pq_items",
          system: "postgresql",
          text: "INSERT INTO pq_items VALUES ($1, ?)",
          status: "UNSET",
        },
        {
          name: "SELECT pq_items",
          system: "postgresql",
          text: "SELECT name FROM pq_items WHERE id = $1",
          status: "UNSET",
        },
        {
          name: "INSERT pq_items",
          system: "postgresql",
          text: "INSERT INTO pq_items VALUES (?)",
          status: "ERROR",
          code: "22P02",
        },
      ]);
      assert.equal(run.statements[2]!.exchange.statementName, "async_by_id");
      assert.equal(run.statements[6]!.exchange.statementName, "sync_by_id");
      assert.equal(run.statements[0]!.exchange.commandTag, "SELECT 1");
      assert.equal(run.statements[1]!.exchange.rows, 1); // INSERT 0 1
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "sqllib: psycopg2 through the libpq its wheel bundles",
  ...pg,
  fn: async () => {
    // psycopg2-binary from PyPI, in the tests' virtual environment (made on first use).
    const python = await pythonEnv();
    await using server = await startPostgres();
    const run = await runTraced({
      cmd: python,
      args: [
        `${here}pg_psycopg2.py`,
        `host=127.0.0.1 port=${server.port} user=postgres dbname=postgres`,
      ],
      input: "go\n",
      readyLine: true,
    });
    const r = okResult(run);
    assert.ok(run.success, run.stderr);
    // The wheel's own libpq, not the system's (libpq-dev installs one too).
    assert.match(
      r.location.libraries[0]!.file.path,
      /\/psycopg2_binary\.libs\/libpq-[0-9a-f]+\.so[.0-9]*$/,
    );
    assert.deepEqual(summarize(run.spans), [
      {
        name: "SELECT py_items",
        system: "postgresql",
        text: "SELECT count(*) FROM py_items WHERE id > ?",
        status: "UNSET",
      },
      {
        name: "INSERT py_items",
        system: "postgresql",
        text: "INSERT INTO py_items VALUES (?, ?)",
        status: "UNSET",
      },
      {
        name: "PREPARE",
        system: "postgresql",
        text: "PREPARE py_by_id(int) AS SELECT name FROM py_items WHERE id = $1",
        status: "UNSET",
      },
      { name: "EXECUTE", system: "postgresql", text: "EXECUTE py_by_id(?)", status: "UNSET" },
      {
        name: "SELECT py_missing",
        system: "postgresql",
        text: "SELECT * FROM py_missing",
        status: "ERROR",
        code: "42P01",
      },
    ]);
    // The wheel's libpq too: every statement names the database and the TCP server.
    for (const s of run.spans) {
      assert.deepEqual(serverOf(s), ["postgres", "127.0.0.1", server.port], s.name);
    }
  },
});

const maria = { ignore: !haveMariadb() };

Deno.test({
  name: "sqllib: the mariadb shell (client library linked into the executable)",
  ...maria,
  fn: async () => {
    await using server = await startMariadb();
    const run = await runTraced({
      cmd: "/usr/bin/mariadb",
      args: ["--no-defaults", "-h", "127.0.0.1", "-P", String(server.port), "-u", "root"],
      input: [
        "CREATE DATABASE shop;",
        "USE shop;",
        "CREATE TABLE t (a int, b text);",
        "INSERT INTO t VALUES (1, 'x'), (2, 'y');",
        "SELECT * FROM t WHERE a = 1;",
        "PREPARE p1 FROM 'SELECT b FROM t WHERE a = ?';",
        "EXECUTE p1 USING @a;",
        "SELECT * FROM nope;",
        "",
      ].join("\n"),
    });
    const r = okResult(run);
    assert.equal(r.location.libraries[0]!.file.path, "/usr/bin/mariadb");
    // The shell asks for its banner's version comment when it connects; nothing else.
    const spans = summarize(run.spans).filter((s) => !s.text.includes("@@version_comment"));
    assert.deepEqual(spans, [
      { name: "CREATE", system: "mariadb", text: "CREATE DATABASE shop", status: "UNSET" },
      { name: "SELECT", system: "mariadb", text: "SELECT DATABASE()", status: "UNSET" },
      {
        name: "CREATE t",
        system: "mariadb",
        text: "CREATE TABLE t (a int, b text)",
        status: "UNSET",
      },
      {
        name: "INSERT t",
        system: "mariadb",
        text: "INSERT INTO t VALUES (?, ?), (?, ?)",
        status: "UNSET",
      },
      { name: "SELECT t", system: "mariadb", text: "SELECT * FROM t WHERE a = ?", status: "UNSET" },
      { name: "PREPARE", system: "mariadb", text: "PREPARE p1 FROM ?", status: "UNSET" },
      { name: "EXECUTE", system: "mariadb", text: "EXECUTE p1 USING @a", status: "UNSET" },
      {
        name: "SELECT nope",
        system: "mariadb",
        text: "SELECT * FROM nope",
        status: "ERROR",
        code: "1146",
      },
    ]);
    assert.equal(run.statements.at(-1)!.exchange.error?.sqlstate, "42S02");
  },
});

function haveMariadbDev(): boolean {
  return have("/usr/bin/mariadb_config") || have("/usr/bin/mysql_config");
}

Deno.test({
  name: "sqllib: a MariaDB Connector/C client: query, send/read, prepared statements",
  ignore: !haveMariadb() || !haveMariadbDev(),
  fn: async () => {
    await using server = await startMariadb();
    const dir = await Deno.makeTempDir({ prefix: "upspan-sqllib-" });
    try {
      const cfg = await new Deno.Command("mariadb_config", { args: ["--cflags", "--libs"] })
        .output();
      const flags = new TextDecoder().decode(cfg.stdout).split(/\s+/).filter((f) => f !== "");
      const exe = `${dir}/my_client`;
      await gcc("my_client.c", exe, flags);
      const run = await runTraced({
        cmd: exe,
        args: [String(server.port)],
        input: "go\n",
        readyLine: true,
      });
      const r = okResult(run);
      assert.ok(run.success, run.stderr);
      assert.match(r.location.libraries[0]!.file.path, /libmariadb\.so/);
      assert.deepEqual(summarize(run.spans), [
        {
          name: "SELECT my_items",
          system: "mariadb",
          text: "SELECT count(*) FROM my_items WHERE id > ?",
          status: "UNSET",
        },
        {
          name: "INSERT my_items",
          system: "mariadb",
          text: "INSERT INTO my_items VALUES (?, ?)",
          status: "UNSET",
        },
        {
          name: "SELECT my_items",
          system: "mariadb",
          text: "SELECT name FROM my_items WHERE id = ?",
          status: "UNSET",
        },
        {
          name: "SELECT my_missing",
          system: "mariadb",
          text: "SELECT * FROM my_missing",
          status: "ERROR",
          code: "1146",
        },
        {
          name: "SELECT my_missing",
          system: "mariadb",
          text: "SELECT nothing FROM my_missing",
          status: "ERROR",
          code: "1146",
        },
      ]);
      assert.equal(run.statements[3]!.exchange.error?.sqlstate, "42S02");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "sqllib: the sqlite3 shell",
  ignore: !have("/usr/bin/sqlite3"),
  fn: async () => {
    const run = await runTraced({
      cmd: "/usr/bin/sqlite3",
      args: [":memory:"],
      input: [
        "CREATE TABLE t (a int, b text);",
        "INSERT INTO t VALUES (1, 'x'), (2, 'y');",
        "SELECT * FROM t WHERE a = 1;",
        "SELECT * FROM nope;",
        "CREATE TABLE u (a int PRIMARY KEY);",
        "INSERT INTO u VALUES (1), (1);",
        "",
      ].join("\n"),
    });
    const r = okResult(run);
    assert.deepEqual(summarize(run.spans), [
      {
        name: "CREATE t",
        system: "sqlite",
        text: "CREATE TABLE t (a int, b text);",
        status: "UNSET",
      },
      {
        name: "INSERT t",
        system: "sqlite",
        text: "INSERT INTO t VALUES (?, ?), (?, ?);",
        status: "UNSET",
      },
      { name: "SELECT t", system: "sqlite", text: "SELECT * FROM t WHERE a = ?;", status: "UNSET" },
      {
        name: "SELECT nope",
        system: "sqlite",
        text: "SELECT * FROM nope;",
        status: "ERROR",
        code: "1",
      },
      {
        name: "CREATE u",
        system: "sqlite",
        text: "CREATE TABLE u (a int PRIMARY KEY);",
        status: "UNSET",
      },
      {
        name: "INSERT u",
        system: "sqlite",
        text: "INSERT INTO u VALUES (?), (?);",
        status: "ERROR",
        code: "19",
      },
    ]);
    // Four per statement, plus SQLite's own schema reads (sqlite3_exec inside a prepare).
    assert.ok(r.stats.sqliteHits <= 8 * run.spans.length, `${r.stats.sqliteHits} hits`);
  },
});

Deno.test({
  name: "sqllib: Python's sqlite3 module, a 10,000-row query costs a handful of probe hits",
  fn: async () => {
    const run = await runTraced({
      cmd: "python3",
      args: [`${here}sqlite_client.py`],
      input: "go\n",
      readyLine: true,
    });
    const r = okResult(run);
    assert.ok(run.success, run.stderr);
    assert.match(run.stdout, /^rows 10001$/m);
    assert.deepEqual(summarize(run.spans), [
      {
        name: "SELECT items",
        system: "sqlite",
        text: "SELECT count(*) FROM items",
        status: "UNSET",
      },
      {
        name: "INSERT items",
        system: "sqlite",
        text: "INSERT INTO items (name) VALUES (?)",
        status: "UNSET",
      },
      {
        name: "SELECT items",
        system: "sqlite",
        text: "SELECT name FROM items WHERE id = ?",
        status: "UNSET",
      },
      {
        name: "SELECT items",
        system: "sqlite",
        text: "SELECT name FROM items WHERE id = ?",
        status: "UNSET",
      },
      {
        name: "INSERT items",
        system: "sqlite",
        text: "INSERT INTO items (id, name) VALUES (?, ?)",
        status: "ERROR",
        code: "19",
      },
      {
        name: "SELECT items",
        system: "sqlite",
        text: "SELECT id, name FROM items",
        status: "UNSET",
      },
    ]);
    // Nothing fires per row: the 10,001-row SELECT is one of six statements, all under 8 hits.
    assert.ok(r.stats.sqliteHits <= 8 * run.spans.length, `${r.stats.sqliteHits} hits`);
  },
});
