// The OTLP backend misbehaves: the agent traces a real Python HTTPS server and exports to a
// backend that never answers, hangs up, resets, says 503 forever or trickles its answer.
// Whatever the backend does, SIGINT and SIGTERM end the agent with exit 0 within 5 s, the
// spans were printed locally, and every span the backend did not take is counted as
// dropped. A backend strict about HTTP/1.1 framing gets every span, well framed.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { startPythonServer } from "./targets/targets.ts";
import { type BackendState, startOtlpBackend } from "./targets/otlp_backend.ts";
import { curl, startAgent } from "./agent.ts";

/** Export early and often, metrics too, so requests are in flight when the signal comes. */
const FAST = { OTEL_BSP_SCHEDULE_DELAY: "100", OTEL_METRIC_EXPORT_INTERVAL: "300" };

const cases: [BackendState, Deno.Signal][] = [
  ["silent", "SIGINT"],
  ["hangup", "SIGTERM"],
  ["reset", "SIGINT"],
  ["unavailable", "SIGTERM"],
  ["trickle", "SIGINT"],
];

for (const [state, signal] of cases) {
  Deno.test(`otlp backend ${state}: ${signal} ends the agent with 0 within 5 s, drops counted`, async () => {
    const { cert, key } = await makeCert(await Deno.makeTempDir());
    await using backend = startOtlpBackend(state);
    await using server = await startPythonServer({ cert, key });
    await using agent = await startAgent(
      ["--pid", String(server.pid), "--otlp-endpoint", backend.url],
      { env: FAST },
    );
    await curl(`https://127.0.0.1:${server.port}/hello?n=[1-5]`);
    await agent.waitForSpans((s) => s.kind === "SERVER", 5);
    // The traces and the metrics exporter have both reached the backend.
    await backend.waitForRequests(2);
    try {
      Deno.kill(agent.pid, signal);
    } catch { /* gone already: the status says how */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      agent.status.then((s) => s.code),
      new Promise<"late">((r) => (timer = setTimeout(() => r("late"), 5000))),
    ]);
    clearTimeout(timer);
    assert.notEqual(ended, "late", `still running 5 s after ${signal}:\n${agent.stderr()}`);
    assert.equal(ended, 0, agent.stderr());
    await new Promise((r) => setTimeout(r, 50)); // the readers drain
    assert.match(
      agent.stderr(),
      /^otlp: 0 spans exported to http:\/\/127\.0\.0\.1:\d+\/v1\/traces, 5 dropped$/m,
    );
  });
}

Deno.test("otlp backend strict about framing: every request well framed, every span arrives", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using backend = startOtlpBackend("strict");
  await using server = await startPythonServer({ cert, key });
  await using agent = await startAgent(
    ["--pid", String(server.pid), "--otlp-endpoint", backend.url],
    { env: FAST },
  );
  await curl(`https://127.0.0.1:${server.port}/hello?n=[1-20]`);
  await agent.waitForSpans((s) => s.kind === "SERVER", 20);
  const end = performance.now() + 15_000;
  while (backend.spans < 20 && backend.framingErrors.length === 0 && performance.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(backend.framingErrors, []);
  assert.equal(backend.spans, 20);
  assert.equal(await agent.stop("SIGINT"), 0);
  assert.match(agent.stderr(), /^otlp: 20 spans exported to .*, 0 dropped$/m);
});
