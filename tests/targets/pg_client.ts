/**
 * A node-postgres (`npm:pg`) client for tests: runs a fixed script of statements that use
 * the extended query protocol (unnamed and named prepared statements, a reused statement,
 * errors at Parse and at Execute) against the server at `127.0.0.1:PORT`, and prints one
 * JSON line per statement with what the driver saw.
 *
 * Usage: `deno run -A tests/targets/pg_client.ts PORT`
 *
 * @module
 */
// A test-only client, pinned here rather than in deno.json's imports (not ours to edit).
// deno-lint-ignore no-import-prefix
import pg from "npm:pg@8.23.1";

/** The statements run, in order, with their parameters (undefined: simple protocol). */
export const PG_CLIENT_SCRIPT: { name?: string; text: string; values?: unknown[] }[] = [
  { text: "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric)" },
  { text: "INSERT INTO items (name, price) VALUES ($1, $2)", values: ["widget", 9.5] },
  {
    text: "INSERT INTO items (name, price) VALUES ($1, $2), ($3, $4)",
    values: ["gear", 2, "bolt", 0.25],
  },
  { name: "by_name", text: "SELECT id, name FROM items WHERE name = $1", values: ["widget"] },
  { name: "by_name", text: "SELECT id, name FROM items WHERE name = $1", values: ["bolt"] },
  { text: "UPDATE items SET price = price * $1 WHERE price < $2", values: [2, 5] },
  { text: "SELECT * FROM missing_table WHERE id = $1", values: [1] },
  { text: "SELECT 10 / $1::int AS q", values: [0] },
  { text: "DELETE FROM items WHERE name = $1", values: ["gear"] },
];

if (import.meta.main) {
  const port = Number(Deno.args[0]);
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "postgres",
    database: "postgres",
    application_name: "upspan-test",
  });
  await client.connect();
  for (const s of PG_CLIENT_SCRIPT) {
    try {
      const r = await client.query(s);
      console.log(JSON.stringify({ ok: true, command: r.command, rowCount: r.rowCount }));
    } catch (e) {
      const err = e as { code?: string; message?: string };
      console.log(JSON.stringify({ ok: false, code: err.code, message: err.message }));
    }
  }
  await client.end();
}
