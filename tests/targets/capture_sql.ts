/**
 * Records real client/server byte streams through {@linkcode startRecordingProxy} and
 * writes them as test fixtures (`src/protocols/sql/testdata/*.json`: one array of pieces per
 * connection, bytes in base64). Re-run after changing a capture:
 *
 * `deno run -A tests/targets/capture_sql.ts`
 *
 * @module
 */
import { encodeBase64 } from "./sql_fixture.ts";
import { type RecordedPiece, startRecordingProxy } from "./record_proxy.ts";
import { haveMariadb, startMariadb, startPostgres } from "./sql_servers.ts";

/** psql statements captured for the simple-query fixture. */
export const PSQL_STATEMENTS = [
  "CREATE TABLE users (id int PRIMARY KEY, name text)",
  "INSERT INTO users VALUES (1, 'ann'), (2, 'bob')",
  "SELECT id, name FROM users ORDER BY id",
  "SELECT * FROM missing_table",
  "UPDATE users SET name = 'eve' WHERE id = 2",
  "BEGIN; DELETE FROM users WHERE id = 1; COMMIT",
  "COPY users TO STDOUT",
];

/** mariadb CLI statements captured for the MySQL text-protocol fixture. */
export const MARIADB_STATEMENTS = [
  "CREATE TABLE users (id int PRIMARY KEY, name varchar(20))",
  "INSERT INTO users VALUES (1, 'ann'), (2, 'bob')",
  "SELECT id, name FROM users ORDER BY id",
  "UPDATE users SET name = 'eve' WHERE id = 2",
  "SELECT * FROM missing_table",
];

const HERE = new URL(".", import.meta.url).pathname;
const OUT = `${HERE}../../src/protocols/sql/testdata/`;

async function exec(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

function toJson(conns: RecordedPiece[][]): string {
  const data = conns.map((c) =>
    c.map((p) => ({ dir: p.dir, ns: String(p.ns), b64: encodeBase64(p.bytes) }))
  );
  return JSON.stringify(data, null, 1) + "\n";
}

/** Runs psql (one connection, statements in one `-c` each) through a proxy to `port`. */
export async function capturePsql(port: number): Promise<RecordedPiece[][]> {
  await using proxy = await startRecordingProxy(port);
  const args = ["-h", "127.0.0.1", "-p", String(proxy.port), "-U", "postgres", "-d", "postgres"];
  for (const s of PSQL_STATEMENTS) args.push("-c", s);
  await exec("psql", args);
  await proxy.close();
  return proxy.connections();
}

/** Runs the node-postgres script through a proxy to `port`. */
export async function capturePgClient(port: number): Promise<RecordedPiece[][]> {
  await using proxy = await startRecordingProxy(port);
  await exec(Deno.execPath(), ["run", "-A", `${HERE}pg_client.ts`, String(proxy.port)]);
  await proxy.close();
  return proxy.connections();
}

/** Runs the mariadb CLI through a proxy to `port`. */
export async function captureMariadbCli(port: number): Promise<RecordedPiece[][]> {
  await using proxy = await startRecordingProxy(port);
  const args = ["-h", "127.0.0.1", "-P", String(proxy.port), "-u", "root", "--skip-ssl"];
  args.push("-e", `CREATE DATABASE IF NOT EXISTS shop`);
  await exec("mariadb", args);
  const args2 = ["-h", "127.0.0.1", "-P", String(proxy.port), "-u", "root", "--skip-ssl", "shop"];
  args2.push("-e", MARIADB_STATEMENTS.join(";\n") + ";");
  await exec("mariadb", args2);
  await proxy.close();
  return (await proxy.connections()).slice(1);
}

/** Runs the mysql2 script through a proxy to `port`. */
export async function captureMysql2(port: number): Promise<RecordedPiece[][]> {
  await using proxy = await startRecordingProxy(port);
  await exec(Deno.execPath(), ["run", "-A", `${HERE}mysql_client.ts`, String(proxy.port)]);
  await proxy.close();
  return proxy.connections();
}

if (import.meta.main) {
  {
    await using pg = await startPostgres();
    await Deno.writeTextFile(`${OUT}pg_psql.json`, toJson(await capturePsql(pg.port)));
    await Deno.writeTextFile(`${OUT}pg_node.json`, toJson(await capturePgClient(pg.port)));
  }
  if (haveMariadb()) {
    await using my = await startMariadb();
    await Deno.writeTextFile(`${OUT}mariadb_cli.json`, toJson(await captureMariadbCli(my.port)));
    await Deno.writeTextFile(`${OUT}mariadb_mysql2.json`, toJson(await captureMysql2(my.port)));
  }
}
