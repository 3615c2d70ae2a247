/**
 * The Go instrumentation's end-to-end scenario, shared by `tests/go_test.ts` (a few
 * toolchains, a few hundred requests) and `scripts/go_matrix.ts` (every supported
 * toolchain, 10,000 requests): run the fixture server under the Go instrumentation
 * (`attachInstrumentation`), make the checked requests and N more, then check spans, parents
 * and responses.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  GoInstrumentation,
  type GoLocation,
  type GoStats,
  probeHits,
} from "../../../src/golang/mod.ts";
import { attachInstrumentation, type RunResult } from "../run_instrumentation.ts";
import type { Span } from "../../../src/model/span.ts";
import { buildGoServer, startGoServer } from "./build.ts";

/** What one scenario run produced. */
export interface GoScenarioOutcome {
  toolchain: string;
  stripped: boolean;
  /** Spans of the checked requests (/users/7?x=1, /fail). */
  checked: Span[];
  /** Spans of the N bulk requests. */
  bulk: Span[];
  /** Bulk responses whose status or bytes differed from those served without probes. */
  mismatched: number;
  requests: number;
  result: Extract<RunResult<GoStats, GoLocation>, { ok: true }>;
}

/** Options for {@linkcode runGoScenario}. */
export interface GoScenarioOptions {
  stripped: boolean;
  /** Bulk requests under probes. */
  requests: number;
  /** Bulk requests in flight at once. Default 4. */
  concurrency?: number;
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Builds the fixture with `toolchain`, runs it under probes and returns what it saw. */
export async function runGoScenario(
  toolchain: string,
  options: GoScenarioOptions,
): Promise<GoScenarioOutcome> {
  const built = await buildGoServer(toolchain, { stripped: options.stripped });
  if (!built.ok) throw new Error(built.error);
  const server = await startGoServer(built.path);
  const base = `http://127.0.0.1:${server.port}`;
  const get = async (path: string) => {
    const res = await fetch(base + path);
    return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
  };
  try {
    // Responses before probes, to compare byte for byte.
    const before = new Map<number, Uint8Array>();
    for (let id = 0; id < 10; id++) before.set(id, (await get(`/users/${id}`)).body);

    const spans: Span[] = [];
    const run = await attachInstrumentation(
      new GoInstrumentation({ onSpan: (s) => spans.push(s) }),
      { pid: server.pid },
    );

    assert.equal((await get("/users/7?x=1")).status, 200);
    assert.equal((await get("/fail")).status, 500);
    await waitFor(() => spans.length >= 7);
    const checked = spans.splice(0);

    let mismatched = 0;
    let next = 0;
    const worker = async () => {
      while (next < options.requests) {
        const id = next++ % 10;
        const r = await get(`/users/${id}`);
        if (r.status !== 200 || !equalBytes(r.body, before.get(id)!)) mismatched++;
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
    // Five spans per /users request: its server span, the backend's, client, 2 SQL.
    await waitFor(() => spans.length >= 5 * options.requests);
    const result = await run.stop();
    if (!result.ok) throw new Error(result.error);
    // The server still answers after the probes are gone: it did not crash.
    assert.equal((await get("/users/3")).status, 200, "the server stopped answering");
    return {
      toolchain,
      stripped: options.stripped,
      checked,
      bulk: spans,
      mismatched,
      requests: options.requests,
      result,
    };
  } finally {
    await server.stop();
  }
}

function children(spans: Span[], parent: Span): Span[] {
  return spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);
}

/** A span reduced to what must not depend on ids, times, ports or DWARF. */
export function spanShape(span: Span): string {
  const a = { ...span.attributes };
  for (const k of ["server.port", "client.port", "network.peer.port", "url.full"]) delete a[k];
  return JSON.stringify([span.kind, span.name, span.status.code, a]);
}

/**
 * Checks an outcome (throws an AssertionError naming the first problem) and returns the
 * shapes of the checked spans, to compare a stripped build with its DWARF twin.
 */
export function checkGoScenario(o: GoScenarioOutcome): string[] {
  const { checked, bulk, result } = o;
  assert.equal(result.location.offsetsSource, o.stripped ? "table" : "dwarf");
  const routed = o.toolchain !== "go1.21.13" && !o.toolchain.startsWith("go1.21.");
  const names = JSON.stringify(checked.map((s) => s.name));

  // The /users request: a server span, its client call and two SQL children (one made
  // from a goroutine the handler started).
  const server = checked.find((s) =>
    s.kind === "SERVER" && s.attributes["url.path"] === "/users/7"
  );
  assert.ok(server, `no server span for /users/7 among ${names}`);
  assert.equal(server.parentSpanId, "");
  assert.equal(server.name, routed ? "GET /users/{id}" : "GET");
  assert.equal(server.attributes["http.route"], routed ? "/users/{id}" : undefined);
  assert.equal(server.attributes["http.request.method"], "GET");
  assert.equal(server.attributes["url.query"], "x=1");
  assert.equal(server.attributes["url.scheme"], "http");
  assert.equal(server.attributes["http.response.status_code"], 200);
  assert.equal(server.attributes["server.address"], "127.0.0.1");
  assert.equal(server.attributes["client.address"], "127.0.0.1");
  assert.equal(server.status.code, "UNSET");
  assert.ok(server.endTimeUnixNano > server.startTimeUnixNano);

  const kids = children(checked, server);
  const client = kids.find((s) => s.kind === "CLIENT" && s.attributes["url.full"]);
  assert.ok(client, "no client child");
  assert.equal(client.name, "GET");
  assert.match(
    String(client.attributes["url.full"]),
    /^http:\/\/127\.0\.0\.1:\d+\/backend\/7\?q=1$/,
  );
  assert.equal(client.attributes["url.path"], "/backend/7");
  assert.equal(client.attributes["http.response.status_code"], 200);
  assert.equal(client.attributes["server.address"], "127.0.0.1");
  assert.ok(client.startTimeUnixNano >= server.startTimeUnixNano);
  assert.ok(client.endTimeUnixNano <= server.endTimeUnixNano);

  const select = kids.find((s) => s.attributes["db.operation.name"] === "SELECT");
  assert.ok(select, "no SELECT child (made from a goroutine the handler started)");
  assert.equal(select.attributes["db.query.text"], "SELECT name FROM users WHERE id = ?");
  assert.equal(select.attributes["db.system.name"], "other_sql");
  assert.equal(select.name, "SELECT users");
  assert.equal(select.kind, "CLIENT");
  assert.equal(select.status.code, "UNSET");
  const update = kids.find((s) => s.attributes["db.operation.name"] === "UPDATE");
  assert.ok(update, "no UPDATE child");
  assert.equal(
    update.attributes["db.query.text"],
    "UPDATE users SET seen = seen + ? WHERE id = ?", // literals sanitized
  );
  assert.equal(kids.length, 3);

  // The backend request (the same process, over a local connection): the client call's
  // child, linked in BPF by the connection's address pair.
  const backend = checked.find((s) =>
    s.kind === "SERVER" && s.attributes["url.path"] === "/backend/7"
  );
  assert.ok(backend, "no server span for /backend/7");
  assert.equal(backend.traceId, client.traceId);
  assert.equal(backend.parentSpanId, client.spanId);
  assert.equal(backend.attributes["upspan.parent.method"], "peer");
  assert.equal(backend.attributes["http.route"], routed ? "/backend/{id}" : undefined);

  // /fail: a 500 server span with a failed SQL child.
  const failed = checked.find((s) => s.kind === "SERVER" && s.attributes["url.path"] === "/fail");
  assert.ok(failed, "no server span for /fail");
  assert.equal(failed.attributes["http.response.status_code"], 500);
  assert.equal(failed.status.code, "ERROR");
  const failedKids = children(checked, failed);
  assert.equal(failedKids.length, 1);
  assert.equal(failedKids[0]!.attributes["db.query.text"], "DELETE FROM missing_table");
  assert.equal(failedKids[0]!.status.code, "ERROR");
  assert.equal(checked.length, 7);

  // The bulk: identical bytes, every request traced with its three children.
  assert.equal(o.mismatched, 0, `${o.mismatched} responses differed under probes`);
  const servers = bulk.filter((s) =>
    s.kind === "SERVER" && String(s.attributes["url.path"]).startsWith("/users/")
  );
  assert.equal(servers.length, o.requests);
  const byParent = new Map<string, number>();
  for (const s of bulk) byParent.set(s.parentSpanId, (byParent.get(s.parentSpanId) ?? 0) + 1);
  const orphans = servers.filter((s) => byParent.get(s.spanId) !== 3).length;
  assert.equal(orphans, 0, `${orphans} server spans lack exactly three children`);
  assert.equal(result.stats.drops, 0);
  assert.equal(result.badRecords, 0);
  // One return per served request. (Entries may exceed returns: a call that grows its
  // stack in the prologue re-executes the entry instruction after runtime.morestack.)
  const served = [...checked, ...bulk].filter((s) => s.kind === "SERVER").length;
  assert.equal(result.stats.serverRet, served);
  assert.ok(result.stats.serverEntry >= served);

  return [server, client, select, update, failed, failedKids[0]!].map(spanShape);
}

/** Probe hits per bulk request (each also causes one backend request). */
export function hitsPerRequest(o: GoScenarioOutcome): number {
  return probeHits(o.result.stats) / (o.requests + 3);
}
