/**
 * End to end: libpq's synchronous mode. A synchronous client (a libpq C program, psycopg2)
 * starts probed asynchronously, turns synchronous after a run of PQexec* calls, then costs
 * two probe hits per statement — read from the probes' own counters between the client's
 * steps — with the same spans; its first asynchronous call turns it back for good. Probes
 * shared by two processes turn when both would.
 */
import assert from "node:assert/strict";
import { havePostgres, startPostgres } from "./targets/sql_servers.ts";
import { summarize } from "./targets/sqllib/run_traced.ts";
import { attachInstrumentation } from "./targets/run_instrumentation.ts";
import { pythonEnv } from "./targets/python_env.ts";
import { SqlLibInstrumentation, type SqlLibStatement } from "../src/sqllib/mod.ts";
import { inspectProcess } from "../src/discovery/mod.ts";
import type { Span } from "../src/model/span.ts";

const here = new URL("./targets/sqllib/", import.meta.url).pathname;
/** PQEXEC_RUN of sqllib.bpf.c: the application's PQexec* calls in a row that turn it. */
const RUN = 16;

/** A client run in steps: each `next()` writes a line and waits for the line it prints. */
async function stepped(cmd: string, args: string[]) {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  const decoder = new TextDecoder();
  const outDone = (async () => {
    for await (const c of child.stdout) stdout += decoder.decode(c);
  })();
  const errDone = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  const until = async (what: () => boolean, label: string) => {
    const deadline = Date.now() + 30_000;
    while (!what()) {
      if (Date.now() > deadline) {
        throw new Error(`waited for ${label}; stdout: ${stdout}; stderr: ${await errDone}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const line = (word: string) => () => new RegExp(`^${word}$`, "m").test(stdout);
  await until(line("ready"), "ready");
  const spans: Span[] = [];
  const statements: SqlLibStatement[] = [];
  const connections = new Set<string>();
  const sqllib = new SqlLibInstrumentation({
    onSpan: (s) => spans.push(s),
    onStatement: (s) => statements.push(s),
    onConnection: (_, conn) => connections.add(conn),
  });
  const run = await attachInstrumentation(sqllib, { pid: child.pid, pollMs: 20 });
  return {
    pid: child.pid,
    sqllib,
    connections,
    spans,
    statements,
    until,
    /** Writes a line, then waits until the client has printed `word`. */
    async next(word: string) {
      await writer.write(new TextEncoder().encode("go\n"));
      await until(line(word), word);
    },
    /** Waits until the agent probes the client in `mode`. */
    mode(mode: "sync" | "async") {
      return until(() => sqllib.libpqMode(child.pid) === mode, `${mode} mode`);
    },
    hits: () => sqllib.stats().libpqHits,
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => {});
      const status = await child.status;
      await outDone;
      const r = await run.stop();
      if (!r.ok) throw new Error(r.error);
      assert.equal(r.badRecords, 0);
      assert.equal(r.stats.drops, 0);
      assert.ok(status.success, await errDone);
    },
  };
}

const pg = { ignore: !havePostgres() };

Deno.test({
  name: "sqllib: a synchronous libpq client costs two probe hits per statement",
  ...pg,
  fn: async () => {
    await using server = await startPostgres();
    const dir = await Deno.makeTempDir({ prefix: "upspan-sqllib-sync-" });
    try {
      const exe = `${dir}/pq_sync_client`;
      const cc = await new Deno.Command("gcc", {
        args: ["-O2", "-o", exe, `${here}pq_sync_client.c`, "-I/usr/include/postgresql", "-lpq"],
      }).output();
      assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
      const count = 100;
      const conninfo = `host=127.0.0.1 port=${server.port} user=postgres dbname=postgres`;
      {
        await using run = await stepped(exe, [conninfo, String(RUN), String(count)]);
        // Asynchronous at first, synchronous once RUN PQexec calls came in a row.
        assert.equal(run.sqllib.libpqMode(run.pid), "async");
        await run.next("warm");
        await run.mode("sync");
        const before = run.hits();
        await run.next("sync");
        // PQexec ×count, PQexecParams, PQprepare, PQexecPrepared, a failing PQexec: entry
        // and return of each, nothing else.
        assert.equal(run.hits() - before, 2 * (count + 4));
        await run.next("async");
        await run.mode("async");
        // Asynchronous for good: a PQsendQuery with its two PQgetResult calls (5 hits), a
        // PQexec through the same calls (7); its PLT stub is no longer probed.
        const mixed = run.hits();
        await run.next("done");
        assert.equal(run.hits() - mixed, 5 + 7);
        await run.until(() => run.spans.length === RUN + count + 5, "the last spans");
        // "SELECT 3", sent while the asynchronous probes were being attached, is not seen.
        assert.deepEqual(run.statements.map((s) => s.exchange.text), [
          ...Array.from({ length: RUN }, () => "SELECT 1"),
          ...Array.from({ length: count }, () => "SELECT 2"),
          "INSERT INTO sync_items VALUES ($1, 'x')",
          "SELECT name FROM sync_items WHERE id = $1",
          "SELECT * FROM sync_missing",
          "SELECT 4",
          "SELECT 5",
        ]);
        assert.deepEqual(summarize(run.spans).slice(RUN + count), [
          {
            name: "INSERT sync_items",
            system: "postgresql",
            text: "INSERT INTO sync_items VALUES ($1, ?)",
            status: "UNSET",
          },
          {
            name: "SELECT sync_items",
            system: "postgresql",
            text: "SELECT name FROM sync_items WHERE id = $1",
            status: "UNSET",
          },
          {
            name: "SELECT sync_missing",
            system: "postgresql",
            text: "SELECT * FROM sync_missing",
            status: "ERROR",
            code: "42P01",
          },
          { name: "SELECT", system: "postgresql", text: "SELECT ?", status: "UNSET" },
          { name: "SELECT", system: "postgresql", text: "SELECT ?", status: "UNSET" },
        ]);
        const sync = run.statements[RUN + count]!;
        assert.equal(sync.exchange.commandTag, "INSERT 0 1");
        assert.equal(run.statements[RUN + count + 1]!.exchange.statementName, "by_id");
        assert.match(run.spans[RUN + count + 2]!.status.message ?? "", /"sync_missing"/);
        for (const s of run.spans) {
          const a = s.attributes;
          assert.deepEqual(
            [a["db.namespace"], a["server.address"], a["server.port"]],
            ["postgres", "127.0.0.1", server.port],
          );
        }
        // Each statement lasts from its call to its return (monotonic clock; the spans' wall
        // times are converted one by one).
        for (const st of run.statements) assert.ok(st.exchange.endMonoNs > st.exchange.startMonoNs);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "sqllib: psycopg2 turns synchronous: two probe hits per statement",
  ...pg,
  fn: async () => {
    const python = await pythonEnv();
    await using server = await startPostgres();
    const count = 100;
    await using run = await stepped(python, [
      `${here}pg_psycopg2_loop.py`,
      `host=127.0.0.1 port=${server.port} user=postgres dbname=postgres`,
      String(RUN),
      String(count),
    ]);
    await run.next("warm");
    await run.mode("sync");
    const [hits, spans] = [run.hits(), run.spans.length];
    const connections = new Set(run.connections);
    await run.next("done");
    // count statements, then one on a new connection: two hits each.
    assert.equal(run.hits() - hits, 2 * (count + 1));
    await run.until(() => run.spans.length === spans + count + 1, "the spans");
    assert.deepEqual(
      run.spans.slice(spans).map((s) => s.attributes["db.query.text"]),
      [...Array.from({ length: count }, () => "SELECT ? FROM py_loop WHERE id = ?"), "SELECT ?"],
    );
    for (const s of run.spans.slice(spans)) {
      assert.deepEqual(
        [s.attributes["db.namespace"], s.attributes["server.port"]],
        ["postgres", server.port],
      );
    }
    // The new connection's socket was named libpq's (the wire parsers leave it alone).
    assert.equal(run.connections.size, connections.size + 1);
  },
});

Deno.test({
  name: "sqllib: probes shared by two processes turn synchronous once both would",
  ...pg,
  fn: async () => {
    await using server = await startPostgres();
    const dir = await Deno.makeTempDir({ prefix: "upspan-sqllib-shared-" });
    const spans = new Map<number, number>();
    try {
      const exe = `${dir}/pq_sync_client`;
      const cc = await new Deno.Command("gcc", {
        args: ["-O2", "-o", exe, `${here}pq_sync_client.c`, "-I/usr/include/postgresql", "-lpq"],
      }).output();
      assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
      const count = 50;
      const conninfo = `host=127.0.0.1 port=${server.port} user=postgres dbname=postgres`;
      const clients = [0, 1].map(() => steppedChild(exe, [conninfo, String(RUN), String(count)]));
      for (const c of clients) await c.until("ready");
      // Probed as under --exe or --all: one set of probes on the file for both processes.
      const traced = new SqlLibInstrumentation({
        onSpan: () => {},
        onStatement: (s) => spans.set(s.pid, (spans.get(s.pid) ?? 0) + 1),
      });
      for (const c of clients) {
        const info = await inspectProcess(c.pid);
        if (!info.ok) throw new Error(info.message);
        assert.ok((await traced.add(info.process, false)).attached);
      }
      const reading = setInterval(() => {
        while (traced.consume() > 0) { /* until empty */ }
      }, 20);
      try {
        const [a, b] = clients as [SteppedChild, SteppedChild];
        await a.next("warm");
        // a's run is read (its statements are), b has made none: neither turns.
        await waitFor(() => spans.get(a.pid) === RUN, "a's statements");
        assert.equal(traced.libpqMode(a.pid), "async");
        await b.next("warm");
        await waitFor(() => traced.libpqMode(a.pid) === "sync", "a synchronous");
        await waitFor(() => traced.libpqMode(b.pid) === "sync", "b synchronous");
        const before = traced.stats().libpqHits;
        await a.next("sync");
        await b.next("sync");
        assert.equal(traced.stats().libpqHits - before, 2 * 2 * (count + 4));
        // a's first PQsendQuery turns both back, for good.
        await a.next("async");
        await waitFor(() => traced.libpqMode(b.pid) === "async", "b asynchronous");
        await b.next("async");
        for (const c of clients) await c.next("done");
      } finally {
        clearInterval(reading);
        for (const c of clients) await c.close();
        await traced.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

interface SteppedChild {
  pid: number;
  until(word: string): Promise<void>;
  next(word: string): Promise<void>;
  close(): Promise<void>;
}

/** A client whose steps are lines: `next` writes one and waits for the word it prints. */
function steppedChild(cmd: string, args: string[]): SteppedChild {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "null" })
    .spawn();
  let stdout = "";
  const decoder = new TextDecoder();
  const outDone = (async () => {
    for await (const c of child.stdout) stdout += decoder.decode(c);
  })();
  const writer = child.stdin.getWriter();
  const until = (word: string) =>
    waitFor(() => new RegExp(`^${word}$`, "m").test(stdout), `${word} (${stdout})`);
  return {
    pid: child.pid,
    until,
    async next(word) {
      await writer.write(new TextEncoder().encode("go\n"));
      await until(word);
    },
    async close() {
      await writer.close().catch(() => {});
      const status = await child.status;
      await outDone;
      assert.ok(status.success);
    },
  };
}

async function waitFor(what: () => boolean, label: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`waited for ${label}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
