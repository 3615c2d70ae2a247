/**
 * A `npm:mysql2` client for tests: runs a fixed script against `127.0.0.1:PORT` (database
 * `shop`, created if missing) that uses both COM_QUERY and prepared statements
 * (COM_STMT_PREPARE / COM_STMT_EXECUTE, one statement executed twice, an error at prepare
 * and one at execute), and prints one JSON line per statement.
 *
 * Usage: `deno run -A tests/targets/mysql_client.ts PORT`
 *
 * @module
 */
// A test-only client, pinned here rather than in deno.json's imports (not ours to edit).
// deno-lint-ignore no-import-prefix
import mysql from "npm:mysql2@3.24.5/promise";

/** The statements run, in order: `execute` ones are prepared, the others are plain queries. */
export const MYSQL_CLIENT_SCRIPT: {
  execute?: boolean;
  text: string;
  values?: (string | number)[];
}[] = [
  {
    text:
      "CREATE TABLE IF NOT EXISTS items (id int AUTO_INCREMENT PRIMARY KEY, name varchar(20), price double)",
  },
  { execute: true, text: "INSERT INTO items (name, price) VALUES (?, ?)", values: ["widget", 9.5] },
  { execute: true, text: "INSERT INTO items (name, price) VALUES (?, ?)", values: ["bolt", 0.25] },
  { execute: true, text: "SELECT id, name FROM items WHERE price > ?", values: [0] },
  { text: "SELECT name, price FROM items ORDER BY id" },
  { execute: true, text: "SELECT * FROM missing_table WHERE id = ?", values: [1] },
  { text: "INSERT INTO items (id, name) VALUES (1, 'dup')" },
  { text: "DELETE FROM items WHERE name = 'bolt'" },
];

if (import.meta.main) {
  const port = Number(Deno.args[0]);
  const setup = await mysql.createConnection({ host: "127.0.0.1", port, user: "root" });
  await setup.query("CREATE DATABASE IF NOT EXISTS shop");
  await setup.end();
  const conn = await mysql.createConnection({
    host: "127.0.0.1",
    port,
    user: "root",
    database: "shop",
  });
  for (const s of MYSQL_CLIENT_SCRIPT) {
    try {
      const [r] = s.execute ? await conn.execute(s.text, s.values) : await conn.query(s.text);
      const rows = Array.isArray(r) ? r.length : (r as { affectedRows: number }).affectedRows;
      console.log(JSON.stringify({ ok: true, rows }));
    } catch (e) {
      const err = e as { errno?: number; sqlState?: string; message?: string };
      console.log(JSON.stringify({ ok: false, errno: err.errno, sqlState: err.sqlState }));
    }
  }
  await conn.end();
}
