// --duration: the agent stops by itself, flushes, detaches and exits 0.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { startPythonServer } from "./targets/targets.ts";
import { curl, runAgent } from "./agent.ts";

Deno.test("--duration 1.5: stops by itself with exit 0 and the spans it saw", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  const traffic = (async () => {
    for (let i = 0; i < 12; i++) {
      await curl(`https://127.0.0.1:${server.port}/hello?i=${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const t0 = performance.now();
  const r = await runAgent(["--pid", String(server.pid), "--duration", "1.5", "--format", "json"]);
  await traffic;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(performance.now() - t0 < 15_000, "ended by itself");
  assert.match(r.stderr, /^ready: 6 probes on 1 process/m);
  assert.match(r.stderr, /^stopped: \d+ spans/m);
  const spans = r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(spans.length >= 1, "some requests fell inside the window");
  for (const s of spans) assert.equal(s.attributes["url.path"], "/hello");
});

Deno.test("the traced process exits: the agent says so and stops with exit 0", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  const server = await startPythonServer({ cert, key });
  const run = runAgent(["--pid", String(server.pid)]);
  await new Promise((r) => setTimeout(r, 2500));
  await server.stop();
  const r = await run;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`^pid ${server.pid} exited$`, "m"));
});
