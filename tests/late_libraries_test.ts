// Libraries loaded after upspan attached: the loader's probe tells of each dlopen, so what
// is newly mapped is probed at once — libpq included, which was never looked for again.
import assert from "node:assert/strict";
import { havePostgres, startPostgres } from "./targets/sql_servers.ts";
import { pythonEnv } from "./targets/python_env.ts";
import { startServer } from "./targets/targets.ts";
import { type Agent, type JsonSpan, startAgent } from "./agent.ts";

const SCRIPT = new URL("./targets/late_libraries.py", import.meta.url).pathname;
const COUNT = 13;

/** Resolves once the agent's stderr matches `re`; rejects after 15 s. */
async function said(agent: Agent, re: RegExp): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!re.test(agent.stderr())) {
    if (Date.now() > deadline) throw new Error(`the agent never said ${re}:\n${agent.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "psycopg2 imported after ready: its libpq is probed, a span for every statement",
  ignore: !havePostgres(),
  fn: async () => {
    await using pg = await startPostgres();
    const dsn = `host=127.0.0.1 port=${pg.port} user=postgres dbname=postgres`;
    await using app = await startServer(await pythonEnv(), [
      SCRIPT,
      "psycopg2",
      dsn,
      String(COUNT),
    ]);
    await using agent = await startAgent(["--pid", String(app.pid)]);
    Deno.kill(app.pid, "SIGUSR1");
    await said(agent, /libpq in .* \(loaded after start\)/);
    Deno.kill(app.pid, "SIGUSR2");
    const selects = (s: JsonSpan) =>
      s.attributes["db.system.name"] === "postgresql" &&
      s.attributes["db.query.text"] === "SELECT ? + ?";
    await agent.waitForSpans(selects, COUNT);
    assert.equal(await agent.stop("SIGTERM"), 0);
    assert.equal(agent.spans.filter(selects).length, COUNT);
  },
});

for (const tls of [false, true]) {
  Deno.test({
    name: `${tls ? "libpq over TLS" : "psycopg2"} and pg8000 in one process: ` +
      "libpq's spans for one, wire spans for the other",
    ignore: !havePostgres(),
    fn: async () => {
      await using pg = await startPostgres({ tls });
      await using app = await startServer(await pythonEnv(), [
        SCRIPT,
        tls ? "both-tls" : "both",
        String(pg.port),
        String(COUNT),
      ]);
      await using agent = await startAgent(["--pid", String(app.pid)]);
      Deno.kill(app.pid, "SIGUSR1");
      await said(agent, /libpq in .* \(loaded after start\)/);
      // Over TLS, libpq's plaintext is seen too (the system's OpenSSL, Python's as well).
      if (tls) await said(agent, /OpenSSL loaded/);
      Deno.kill(app.pid, "SIGUSR2");
      // psycopg2 interpolates its parameter; pg8000 sends `$1` with the value apart.
      const byLibpq = (s: JsonSpan) => s.attributes["db.query.text"] === "SELECT ? + ?";
      const byWire = (s: JsonSpan) => s.attributes["db.query.text"] === "SELECT $1 * ?";
      await agent.waitForSpans(byLibpq, COUNT);
      await agent.waitForSpans(byWire, COUNT);
      assert.equal(await agent.stop("SIGTERM"), 0);
      const libpq = agent.spans.filter(byLibpq), wire = agent.spans.filter(byWire);
      // Each statement once, by the probe that saw it: libpq's connection is left to libpq.
      assert.equal(libpq.length, COUNT);
      assert.equal(wire.length, COUNT);
      assert.ok(libpq.every((s) => s.attributes["db.client.library"] === "libpq"));
      assert.ok(wire.every((s) => s.attributes["db.client.library"] === undefined));
      // Both name the server and the database, the libpq spans from the PGconn.
      for (const s of [...libpq, ...wire]) {
        assert.equal(s.attributes["server.address"], "127.0.0.1");
        assert.equal(s.attributes["server.port"], pg.port);
        assert.equal(s.attributes["db.namespace"], "postgres");
      }
    },
  });
}
