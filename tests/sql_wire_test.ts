// SQL wire parsers against real servers and clients: PostgreSQL with psql and
// node-postgres (extended protocol), MariaDB with its CLI and mysql2 (prepared
// statements). A recording proxy between client and server hands each direction's bytes,
// piece by piece, to the parser; what the parser reports must match what the clients did.
import assert from "node:assert/strict";
import { PostgresWireParser } from "../src/protocols/postgresql/wire.ts";
import { MysqlWireParser } from "../src/protocols/mysql/wire.ts";
import type { SqlExchange } from "../src/protocols/sql/exchange.ts";
import { sqlExchangeSpan } from "../src/protocols/sql/semconv.ts";
import { RandomIdGenerator } from "../src/model/ids.ts";
import { type RecordedPiece, startRecordingProxy } from "./targets/record_proxy.ts";
import { haveMariadb, havePostgres, startMariadb, startPostgres } from "./targets/sql_servers.ts";
import { PG_CLIENT_SCRIPT } from "./targets/pg_client.ts";
import { MYSQL_CLIENT_SCRIPT } from "./targets/mysql_client.ts";

const TARGETS = new URL("./targets/", import.meta.url).pathname;

async function exec(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} failed: ${stdout}${new TextDecoder().decode(out.stderr)}`);
  }
  return stdout;
}

function parsePg(conn: RecordedPiece[]) {
  const got: SqlExchange[] = [];
  const problems: string[] = [];
  const pg = new PostgresWireParser({
    onExchange: (e) => got.push(e),
    onProblem: (p) => problems.push(p),
  });
  for (const p of conn) {
    (p.dir === "c2s" ? pg.frontend : pg.backend).data(p.bytes, p.ns, p.dir === "c2s" ? 1 : 2);
  }
  pg.end();
  return { got, problems, pg };
}

function parseMysql(conn: RecordedPiece[]) {
  const got: SqlExchange[] = [];
  const problems: string[] = [];
  const my = new MysqlWireParser({
    onExchange: (e) => got.push(e),
    onProblem: (p) => problems.push(p),
  });
  for (const p of conn) {
    (p.dir === "c2s" ? my.client : my.server).data(p.bytes, p.ns, p.dir === "c2s" ? 1 : 2);
  }
  my.end();
  return { got, problems, my };
}

Deno.test({
  name: "sql wire: PostgreSQL — psql simple queries and node-postgres extended protocol",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(
      havePostgres(),
      "PostgreSQL is not installed where pg_config --bindir says (Debian: postgresql, libpq-dev)",
    );
    await using server = await startPostgres();
    await using proxy = await startRecordingProxy(server.port);

    const psqlStatements = [
      "CREATE TABLE t (id int PRIMARY KEY, v text)",
      "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 5) g",
      "SELECT * FROM t WHERE id > 2",
      "SELECT * FROM missing_table",
      "DELETE FROM t WHERE id = 1",
    ];
    const args = ["-h", "127.0.0.1", "-p", String(proxy.port), "-U", "postgres", "-d", "postgres"];
    for (const s of psqlStatements) args.push("-c", s);
    await new Deno.Command("psql", { args, stdout: "null", stderr: "null" }).output();
    const driver = (await exec(Deno.execPath(), [
      "run",
      "-A",
      `${TARGETS}pg_client.ts`,
      String(proxy.port),
    ])).trim().split("\n").map((l) => JSON.parse(l));
    await proxy.close();
    const [psqlConn, nodeConn] = await proxy.connections();

    // psql: one exchange per statement, in order.
    const a = parsePg(psqlConn!);
    assert.deepEqual(a.problems, []);
    assert.deepEqual(
      a.got.map((e) => [e.text, e.rows, e.commandTag, e.error?.sqlstate, e.namespace]),
      [
        [psqlStatements[0], undefined, "CREATE TABLE", undefined, "postgres"],
        [psqlStatements[1], 5, "INSERT 0 5", undefined, "postgres"],
        [psqlStatements[2], 3, "SELECT 3", undefined, "postgres"],
        [psqlStatements[3], undefined, undefined, "42P01", "postgres"],
        [psqlStatements[4], 1, "DELETE 1", undefined, "postgres"],
      ],
    );
    assert.equal(a.pg.facts.applicationName, "psql");

    // node-postgres: the parser agrees with what the driver itself saw.
    const b = parsePg(nodeConn!);
    assert.deepEqual(b.problems, []);
    assert.equal(b.got.length, PG_CLIENT_SCRIPT.length);
    for (let i = 0; i < PG_CLIENT_SCRIPT.length; i++) {
      const s = PG_CLIENT_SCRIPT[i]!;
      const e = b.got[i]!;
      const d = driver[i]!;
      assert.equal(e.text, s.text);
      assert.equal(e.statementName, s.values === undefined ? undefined : s.name ?? "");
      if (d.ok) {
        assert.equal(e.error, undefined);
        assert.equal(e.rows ?? null, d.rowCount);
      } else {
        assert.equal(e.error?.sqlstate, d.code);
        assert.equal(e.error?.message, d.message);
      }
    }
    assert.deepEqual(b.got.filter((e) => e.error).map((e) => e.error!.sqlstate), [
      "42P01",
      "22012",
    ]);

    // And the spans built from them.
    const spans = b.got.map((e) =>
      sqlExchangeSpan(e, {
        system: "postgresql",
        resource: {},
        toUnixNano: (ns) => ns,
        ids: new RandomIdGenerator(),
      })
    );
    assert.deepEqual(spans.map((s) => [s.name, s.status.code]), [
      ["CREATE items", "UNSET"],
      ["INSERT items", "UNSET"],
      ["INSERT items", "UNSET"],
      ["SELECT items", "UNSET"],
      ["SELECT items", "UNSET"],
      ["UPDATE items", "UNSET"],
      ["SELECT missing_table", "ERROR"],
      ["SELECT", "ERROR"],
      ["DELETE items", "UNSET"],
    ]);
  },
});

Deno.test({
  name: "sql wire: MariaDB — mariadb CLI text protocol and mysql2 prepared statements",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(haveMariadb(), "MariaDB is not installed (Debian: mariadb-server mariadb-client)");
    await using server = await startMariadb();
    await using proxy = await startRecordingProxy(server.port);
    const driver = (await exec(Deno.execPath(), [
      "run",
      "-A",
      `${TARGETS}mysql_client.ts`,
      String(proxy.port),
    ])).trim().split("\n").map((l) => JSON.parse(l));
    const cli = [
      "SELECT id, name FROM items ORDER BY id",
      "UPDATE items SET price = 1 WHERE id > 0",
      "SELECT nope FROM items",
    ];
    const args = ["-h", "127.0.0.1", "-P", String(proxy.port), "-u", "root", "--skip-ssl"];
    await new Deno.Command("mariadb", {
      args: [...args, "shop", "-e", cli.join(";\n") + ";"],
      stdout: "null",
      stderr: "null",
    }).output();
    await proxy.close();
    const [setup, conn, cliConn] = await proxy.connections();

    assert.deepEqual(parseMysql(setup!).got.map((e) => e.text), [
      "CREATE DATABASE IF NOT EXISTS shop",
    ]);
    const b = parseMysql(conn!);
    assert.deepEqual(b.problems, []);
    assert.equal(b.my.facts.system, "mariadb");
    assert.equal(b.got.length, MYSQL_CLIENT_SCRIPT.length);
    for (let i = 0; i < MYSQL_CLIENT_SCRIPT.length; i++) {
      const s = MYSQL_CLIENT_SCRIPT[i]!;
      const e = b.got[i]!;
      const d = driver[i]!;
      assert.equal(e.text, s.text);
      assert.equal(e.namespace, "shop");
      if (d.ok) {
        assert.equal(e.error, undefined, s.text);
        assert.equal(e.rows, d.rows, s.text);
      } else {
        assert.equal(e.error?.code, d.errno);
        assert.equal(e.error?.sqlstate, d.sqlState);
      }
      // Successful executions carry the prepared statement's id.
      if (s.execute && d.ok) assert.match(e.statementName ?? "", /^\d+$/);
    }
    // The INSERT was prepared once and executed twice under one id.
    assert.equal(b.got[1]!.statementName, b.got[2]!.statementName);

    const c = parseMysql(cliConn!);
    assert.deepEqual(c.problems, []);
    // The mysql2 script left one item (widget); the UPDATE changes its price.
    assert.deepEqual(c.got.map((e) => [e.text, e.rows, e.error?.code]), [
      [cli[0], 1, undefined],
      [cli[1], 1, undefined],
      [cli[2], undefined, 1054],
    ]);
  },
});
