// The library face: trace() from mod.ts runs the same engine in-process.
import assert from "node:assert/strict";
import { type ReadyInfo, type Span, trace, UpspanError } from "../mod.ts";
import { makeCert } from "./targets/certs.ts";
import { startNodeServer } from "./targets/targets.ts";
import { curl } from "./agent.ts";

Deno.test("trace(): spans in-process, stopped by an AbortSignal, with its counters", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startNodeServer({ cert, key });
  const ac = new AbortController();
  const spans: Span[] = [];
  let ready!: (r: ReadyInfo) => void;
  const isReady = new Promise<ReadyInfo>((r) => (ready = r));
  const run = trace({
    pids: [server.pid],
    signal: ac.signal,
    onReady: (r) => ready(r),
    onSpan: (s) => {
      spans.push(s);
      if (spans.length === 2) ac.abort();
    },
  });
  const info = await Promise.race([isReady, run.then(() => undefined)]);
  assert.equal(info?.probes, 10); // OpenSSL's 9 and the loader's
  assert.equal(info?.processes[0]?.pid, server.pid);
  await curl(
    `https://127.0.0.1:${server.port}/hello`,
    `https://127.0.0.1:${server.port}/status/500`,
  );
  const summary = await run;
  assert.deepEqual(spans.map((s) => [s.attributes["url.path"], s.status.code]), [[
    "/hello",
    "UNSET",
  ], [
    "/status/500",
    "ERROR",
  ]]);
  assert.equal(typeof spans[0]!.startTimeUnixNano, "bigint");
  assert.equal(summary.spans, 2);
  assert.equal(summary.dropped, 0);
  assert.ok(
    summary.probeHits.write >= 2 && summary.probeHits.readEntry >= 2,
    JSON.stringify(summary),
  );
  assert.equal(
    summary.probeHits.readEntry,
    summary.probeHits.readReturn,
    "every read entry has its return",
  );
});

Deno.test("trace(): the spans the command line prints — routed, measured, then sampled", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startNodeServer({ cert, key });
  const base = `https://127.0.0.1:${server.port}`;
  const run = async (sampleRatio: number) => {
    const ac = new AbortController();
    const kept: Span[] = [];
    const measured: Span[] = [];
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const done = trace({
      pids: [server.pid],
      signal: ac.signal,
      sampleRatio,
      onReady: () => ready(),
      onSpan: (s) => kept.push(s),
      metrics: {
        record: (s) => {
          measured.push(s);
          if (measured.length === 2) ac.abort();
        },
      },
    });
    await Promise.race([isReady, done]);
    await curl(`${base}/bytes/64`, `${base}/status/404`);
    const summary = await done;
    return { kept, measured, summary };
  };

  const all = await run(1);
  assert.deepEqual(
    all.kept.map((s) => [s.kind, s.attributes["url.path"], s.attributes["http.route"]]),
    [["SERVER", "/bytes/64", "/bytes/{id}"], ["SERVER", "/status/404", "/status/{id}"]],
  );
  assert.deepEqual(all.measured, all.kept);
  assert.deepEqual([all.summary.spans, all.summary.spansSampledOut], [2, 0]);

  // Ratio 0: nothing handed on, every span still measured (and routed).
  const none = await run(0);
  assert.equal(none.kept.length, 0);
  assert.deepEqual(
    none.measured.map((s) => s.attributes["http.route"]),
    ["/bytes/{id}", "/status/{id}"],
  );
  assert.deepEqual([none.summary.spans, none.summary.spansSampledOut], [2, 2]);
});

Deno.test("trace(): bad input rejects with an UpspanError, nothing attached", async () => {
  await assert.rejects(trace({ pids: [] }), (e) => e instanceof UpspanError && e.exitCode === 2);
  await assert.rejects(
    trace({ pids: [4_000_001] }),
    (e) => e instanceof UpspanError && e.exitCode === 1 && /No process/.test(e.message),
  );
});
