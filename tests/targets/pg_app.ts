/**
 * A small web application for tests: plain HTTP (Deno.serve) in front of PostgreSQL through
 * node-postgres (`npm:pg`, a pure-protocol driver), one query per request.
 *
 * Usage: `deno run -A tests/targets/pg_app.ts PG_PORT` — prints `listening PORT`.
 *
 * Routes: `GET /items?name=N` (a parameterised SELECT, 200), `GET /broken` (a SELECT from a
 * missing table, 500), `POST /items?name=N` (an INSERT, 201).
 *
 * @module
 */
// deno-lint-ignore no-import-prefix
import pg from "npm:pg@8.23.1";

const client = new pg.Client({
  host: "127.0.0.1",
  port: Number(Deno.args[0]),
  user: "postgres",
  database: "postgres",
});
await client.connect();
await client.query("CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text)");

const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => {
    console.log(`listening ${port}`);
  },
}, async (req) => {
  const url = new URL(req.url);
  const name = url.searchParams.get("name") ?? "";
  try {
    if (url.pathname === "/items" && req.method === "POST") {
      await client.query("INSERT INTO items (name) VALUES ($1)", [name]);
      return new Response("created\n", { status: 201 });
    }
    if (url.pathname === "/items") {
      const r = await client.query("SELECT id, name FROM items WHERE name = $1", [name]);
      return new Response(`${r.rowCount} rows\n`);
    }
    if (url.pathname === "/broken") {
      await client.query("SELECT * FROM missing_table");
    }
    return new Response("not found\n", { status: 404 });
  } catch (e) {
    return new Response(`${(e as Error).message}\n`, { status: 500 });
  }
});
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  await client.end();
  Deno.exit(0);
});
