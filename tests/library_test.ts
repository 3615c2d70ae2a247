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
  assert.equal(info?.probes, 6);
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

Deno.test("trace(): bad input rejects with an UpspanError, nothing attached", async () => {
  await assert.rejects(trace({ pids: [] }), (e) => e instanceof UpspanError && e.exitCode === 2);
  await assert.rejects(
    trace({ pids: [4_000_001] }),
    (e) => e instanceof UpspanError && e.exitCode === 1 && /No process/.test(e.message),
  );
});
