// Span durations against the client's own clock, on plain TCP, where a program blocks in
// read: the server waits for the next request on a keep-alive connection, the client for
// its answer. A span must not be shorter than the work the server did (it slept) nor longer
// than what the client measured around the call, plus a little slack for the clocks.
import assert from "node:assert/strict";
import { type JsonSpan, startAgent } from "./agent.ts";
import { startPythonServer } from "./targets/targets.ts";
import { haveMariadb, havePostgres, startMariadb, startPostgres } from "./targets/sql_servers.ts";
import { pythonEnv } from "./targets/python_env.ts";
import { tied } from "./targets/tied.ts";

const TIMED_CLIENT = new URL("./targets/timed_client.py", import.meta.url).pathname;
/** What a span may exceed the client's own measure by. */
const SLACK_MS = 5;

function durationMs(s: JsonSpan): number {
  return Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6;
}

/** Runs timed_client.py; `go()` lets it start and resolves with its per-call durations. */
async function timedClient(python: string, args: string[]) {
  const [cmd, argv] = tied([python, TIMED_CLIENT, ...args]);
  const child = new Deno.Command(cmd, {
    args: argv,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready\n")) {
    const next = await out.read();
    if (next.done) throw new Error(`timed_client.py ${args.join(" ")} ended before ready`);
    text += next.value;
  }
  const stderr = new Response(child.stderr).text();
  return {
    pid: child.pid,
    async go(): Promise<number[]> {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode("go\n"));
      await w.close();
      for (let next = await out.read(); !next.done; next = await out.read()) text += next.value;
      const status = await child.status;
      assert.equal(status.code, 0, await stderr);
      return [...text.matchAll(/^took ([\d.]+)$/gm)].map((m) => Number(m[1]));
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

/** Each span, in start order, lasts at least `atLeastMs` and at most its call's measure. */
function assertDurations(spans: JsonSpan[], took: number[], atLeastMs: number, what: string) {
  const sorted = [...spans].sort((a, b) =>
    Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano))
  );
  const got = sorted.map(durationMs);
  const detail = `${what}: spans ${got.map((d) => d.toFixed(2))} ms, client ${took} ms`;
  assert.equal(sorted.length, took.length, detail);
  for (const [i, d] of got.entries()) {
    assert.ok(d >= atLeastMs, `${detail}: span ${i} is shorter than the server's sleep`);
    assert.ok(d <= took[i]! + SLACK_MS, `${detail}: span ${i} is longer than the client saw`);
  }
}

Deno.test("plain HTTP keep-alive: server and client spans last what the client measured", async () => {
  await using server = await startPythonServer({});
  await using client = await timedClient("python3", [
    "http",
    String(server.port),
    "/sleep/30",
    "4",
    "300",
  ]);
  await using agent = await startAgent(["--pid", String(server.pid), "--pid", String(client.pid)]);
  const took = await client.go();
  const servers = await agent.waitForSpans((s) => s.kind === "SERVER", 4);
  const clients = await agent.waitForSpans((s) => s.kind === "CLIENT", 4);
  assert.ok(servers.every((s) => s.attributes["url.path"] === "/sleep/30"));
  assertDurations(servers, took, 30, "SERVER");
  assertDurations(clients, took, 30, "CLIENT");
  // The server span sits inside its client span: read after the write, answered before the read.
  for (const s of servers) {
    const parent = clients.find((c) => c.spanId === s.parentSpanId);
    assert.ok(parent, "each server span is its client span's child");
    assert.ok(BigInt(s.startTimeUnixNano) >= BigInt(parent.startTimeUnixNano));
    assert.ok(BigInt(s.endTimeUnixNano) <= BigInt(parent.endTimeUnixNano));
  }
});

Deno.test("pg8000 without TLS: a statement's span lasts what the client measured", async () => {
  assert.ok(
    havePostgres(),
    "PostgreSQL is not installed where pg_config --bindir says (Debian: postgresql, libpq-dev)",
  );
  const python = await pythonEnv();
  await using pg = await startPostgres();
  await using client = await timedClient(python, [
    "pg8000",
    String(pg.port),
    "SELECT pg_sleep(0.2)",
    "3",
    "100",
  ]);
  await using agent = await startAgent(["--pid", String(client.pid)]);
  const took = await client.go();
  const spans = await agent.waitForSpans((s) =>
    s.attributes["db.query.text"] !== undefined &&
    String(s.attributes["db.query.text"]).includes("pg_sleep"), 3);
  assertDurations(spans, took, 200, "pg8000");
});

Deno.test("PyMySQL without TLS: a statement's span lasts what the client measured", async () => {
  assert.ok(haveMariadb(), "MariaDB is not installed (Debian: mariadb-server)");
  const python = await pythonEnv();
  await using db = await startMariadb();
  await using client = await timedClient(python, [
    "pymysql",
    String(db.port),
    "SELECT SLEEP(0.2)",
    "3",
    "100",
  ]);
  await using agent = await startAgent(["--pid", String(client.pid)]);
  const took = await client.go();
  const spans = await agent.waitForSpans((s) =>
    s.attributes["db.query.text"] !== undefined &&
    String(s.attributes["db.query.text"]).includes("SLEEP"), 3);
  assertDurations(spans, took, 200, "PyMySQL");
});
