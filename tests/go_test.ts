/**
 * End-to-end test of the Go instrumentation: the fixture server
 * (`tests/targets/go/server/`) built by several Go toolchains, with DWARF and stripped,
 * traced by real uprobes through the Go instrumentation. Needs root (or CAP_BPF + CAP_PERFMON) and
 * a `go` toolchain that can fetch others through the module proxy. The full matrix of
 * toolchains and 10,000 requests each: `deno run -A scripts/go_matrix.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GO_PROBES, GoInstrumentation, type GoProbeSite, locateGo } from "../src/golang/mod.ts";
import { attachInstrumentation, runInstrumentation } from "./targets/run_instrumentation.ts";
import type { Span } from "../src/model/span.ts";
import { buildGoServer, GO_TEST_TOOLCHAINS, startGoServer } from "./targets/go/build.ts";
import { checkGoScenario, hitsPerRequest, runGoScenario } from "./targets/go/scenario.ts";

const root = Deno.uid() === 0;
/** Requests served under probes per build in the safety check. */
const N = 500;

const shapes = new Map<string, string[]>();

for (const toolchain of GO_TEST_TOOLCHAINS) {
  for (const stripped of [false, true]) {
    const label = `${toolchain}${stripped ? " stripped" : ""}`;
    Deno.test({
      name: `go: ${label}: server, client and SQL spans with parents; ${N} requests unchanged`,
      ignore: !root,
      sanitizeResources: false,
      sanitizeOps: false,
      async fn() {
        const outcome = await runGoScenario(toolchain, { stripped, requests: N });
        const mine = checkGoScenario(outcome);
        console.log(
          `${label}: ${outcome.result.probes} probes, ` +
            `${hitsPerRequest(outcome).toFixed(1)} hits per /users request; ` +
            JSON.stringify(outcome.result.stats),
        );
        // A stripped binary gives the same spans as the one with DWARF.
        const other = shapes.get(toolchain);
        if (other !== undefined) assert.deepEqual(mine, other);
        shapes.set(toolchain, mine);
      },
    });
  }
}

Deno.test("go: locateGo: DWARF and the offsets table agree; stripped sites equal", async () => {
  for (const toolchain of GO_TEST_TOOLCHAINS) {
    const dwarf = await buildGoServer(toolchain);
    const stripped = await buildGoServer(toolchain, { stripped: true });
    if (!dwarf.ok || !stripped.ok) throw new Error("build failed");
    const inject = { injectTraceparent: true };
    const a = await locateGo({ path: dwarf.path }, inject);
    const b = await locateGo({ path: stripped.path }, inject);
    const c = await locateGo({ path: dwarf.path }, { ignoreDwarf: true, ...inject });
    if (!a.ok || !b.ok || !c.ok) throw new Error("locateGo failed on a fixture");
    const sitesA: GoProbeSite[] = a.location.sites;
    assert.equal(a.location.offsetsSource, "dwarf");
    assert.equal(b.location.offsetsSource, "table");
    // The measured table says what this binary's own DWARF says.
    assert.deepEqual(c.location.offsets, a.location.offsets);
    assert.deepEqual(b.location.offsets, a.location.offsets);
    assert.equal(a.location.version, toolchain);
    assert.deepEqual(a.location.skipped, []);
    // An entry where the table has one, and at least one RET where it has a return program
    // (grpc-go's handler and client probes and x/net's own server aside: this fixture links
    // neither).
    const always = GO_PROBES.filter((p) => !p.group.startsWith("grpc.") && !p.optional);
    for (const probe of always.filter((p) => !p.fallbackFor)) {
      const sites = sitesA.filter((s) => s.symbol === probe.symbol);
      const entries = sites.filter((s) => s.at === "entry").length;
      assert.equal(entries, probe.entry === undefined ? 0 : 1, probe.symbol);
      assert.equal(sites.some((s) => s.at === "return"), probe.ret !== undefined, probe.symbol);
    }
    // New goroutines are caught at newproc's call of runqput and requests end where their
    // server goes on after the handler, so neither newproc1's nor ServeHTTP's RETs are probed.
    const where = (group: string) =>
      sitesA.filter((s) => s.group === group).map((s) => `${s.symbol} ${s.at}`);
    assert.deepEqual(where("goroutines"), ["runtime.newproc.func1 call"]);
    assert.deepEqual(where("http.server"), [
      "net/http.serverHandler.ServeHTTP entry",
      "net/http.(*conn).serve call",
      "net/http.(*http2responseWriter).handlerDone entry",
    ]);
    assert.equal(a.location.sites.length, b.location.sites.length);
    const quiet = await locateGo({ path: stripped.path }, { followGoroutines: false });
    assert.ok(quiet.ok);
    assert.ok(quiet.location.sites.every((s) => s.group !== "goroutines"));
    // The writing probe only when asked for.
    assert.ok(quiet.location.sites.every((s) => s.group !== "inject"));
    assert.ok(b.location.sites.some((s) => s.group === "inject"));
  }
});

Deno.test({
  name: "go: a Go version missing from the offsets table gets no probes and one sentence",
  ignore: !root,
  async fn() {
    const built = await buildGoServer("go1.26.8", { stripped: true });
    if (!built.ok) throw new Error(built.error);
    const r = await locateGo({ path: built.path }, { versionOverride: "go1.99.0" });
    assert.ok(!r.ok);
    assert.match(r.error, /no struct offsets are known for Go version go1\.99\.0/);
    assert.match(r.error, /no probes attached$/);
    assert.doesNotMatch(r.error, /\n/);

    const server = await startGoServer(built.path);
    try {
      const go = new GoInstrumentation({
        onSpan: () => assert.fail("no span expected"),
        locate: { versionOverride: "go1.99.0" },
      });
      const result = await runInstrumentation(go, {
        pid: server.pid,
        signal: AbortSignal.timeout(5000),
        onReady: () => assert.fail("nothing should attach"),
      });
      assert.ok(!result.ok);
      assert.match(result.error, /go1\.99\.0/);
    } finally {
      await server.stop();
    }
  },
});

Deno.test("go: a non-Go binary is refused with a plain message", async () => {
  const r = await locateGo({ path: "/bin/true" });
  assert.ok(!r.ok);
  assert.match(r.error, /^\/bin\/true is not a Go executable/);
  const missing = await locateGo({ path: "/nonexistent/server" });
  assert.ok(!missing.ok);
  assert.match(missing.error, /nonexistent/);
});

Deno.test({
  name: "go: a connection no traced client speaks for sends its server's links once a second",
  ignore: !root,
  async fn() {
    // A server request's link is for a traced client's offer (curl's, Python's); where
    // there is none, its connection goes quiet (go_links.h, struct server_link).
    const built = await buildGoServer("go1.26.8", { stripped: true });
    if (!built.ok) throw new Error(built.error);
    const server = await startGoServer(built.path);
    try {
      const spans: Span[] = [];
      const run = await attachInstrumentation(
        new GoInstrumentation({ onSpan: (s) => spans.push(s) }),
        { pid: server.pid },
      );
      // 200 requests over one keep-alive connection of this untraced process, for about 2 s.
      const client = Deno.createHttpClient({ poolMaxIdlePerHost: 1 });
      for (let i = 0; i < 200; i++) {
        const res = await fetch(`http://127.0.0.1:${server.backendPort}/backend/${i}`, { client });
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, 10));
      }
      client.close();
      await new Promise((r) => setTimeout(r, 200));
      const result = await run.stop();
      assert.ok(result.ok, result.ok ? "" : result.error);
      assert.equal(spans.filter((s) => s.kind === "SERVER").length, 200);
      const links = result.stats.events - spans.length;
      assert.ok(links >= 1 && links < 40, `${links} server links for 200 requests`);
    } finally {
      await server.stop();
    }
  },
});
