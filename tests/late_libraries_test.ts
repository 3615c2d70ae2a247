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
