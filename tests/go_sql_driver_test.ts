// Go's database/sql on a real driver, go-sql-driver/mysql (fetched through the Go module
// proxy on first build), against a real MariaDB: the span says mysql, read from the driver
// module in the binary's build information, and the MySQL dialect hides double-quoted and
// backslash-escaped literals; comments go.
import assert from "node:assert/strict";
import { buildGoFixture } from "./go_fixtures.ts";
import { startAgent } from "./agent.ts";
import { startMariadb } from "./targets/sql_servers.ts";

Deno.test("go database/sql with go-sql-driver/mysql: db.system.name mysql, no literal left", async () => {
  const built = buildGoFixture("local", {
    source: new URL("./fixtures/go/mysql_target.go", import.meta.url),
    goModExtra: "require github.com/go-sql-driver/mysql v1.8.1\n",
  });
  assert.ok(built.ok, built.ok ? "" : built.error);
  await using db = await startMariadb();
  const app = new Deno.Command(built.path, {
    args: [`root@tcp(127.0.0.1:${db.port})/mysql`],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = app.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = app.stdin.getWriter();
  try {
    assert.match((await lines.read()).value ?? "", /^ready/);
    await using agent = await startAgent(["--pid", String(app.pid)]);
    await writer.write(new TextEncoder().encode(
      `SELECT user /* pw=hunter2 */ FROM user WHERE host = "hunter2" OR user = 'a\\'hunter2'\n`,
    ));
    assert.match((await lines.read()).value ?? "", /^done <nil>/);
    const [span] = await agent.waitForSpans((s) => s.attributes["db.query.text"] !== undefined, 1);
    assert.equal(span!.attributes["db.system.name"], "mysql");
    assert.equal(
      span!.attributes["db.query.text"],
      "SELECT user FROM user WHERE host = ? OR user = ?",
    );
    assert.equal(span!.name, "SELECT user");
    assert.equal(await agent.stop(), 0);
  } finally {
    await writer.close();
    await app.status;
    lines.releaseLock();
  }
});
