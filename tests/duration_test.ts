// --duration and the traced process exiting: the agent stops by itself, flushes,
// detaches and exits 0.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { startPythonServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";

Deno.test("--duration: stops by itself with exit 0 and the spans it saw", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  const t0 = performance.now();
  await using agent = await startAgent(["--pid", String(server.pid), "--duration", "3"]);
  await curl(`https://127.0.0.1:${server.port}/hello`);
  const status = await agent.status;
  assert.equal(status.code, 0, agent.stderr());
  assert.ok(performance.now() - t0 < 20_000, "ended by itself");
  assert.match(agent.stderr(), /^ready: 6 probes on 1 process \(6 syscall tracepoints\)$/m);
  assert.match(agent.stderr(), /^stopped: 1 spans from \d+ events/m);
  await new Promise((r) => setTimeout(r, 50)); // the stdout reader drains
  assert.deepEqual(agent.spans.map((s) => s.attributes["url.path"]), ["/hello"]);
});

Deno.test("the traced process exits: the agent says so and stops with exit 0", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  const server = await startPythonServer({ cert, key });
  await using agent = await startAgent(["--pid", String(server.pid)]);
  await server.stop();
  const status = await agent.status;
  assert.equal(status.code, 0, agent.stderr());
  assert.match(agent.stderr(), new RegExp(`^pid ${server.pid} exited$`, "m"));
});

Deno.test("--debug: libbpf's own log appears on stderr", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  await using agent = await startAgent(["--pid", String(server.pid), "--debug", "--duration", "1"]);
  assert.equal((await agent.status).code, 0);
  assert.match(agent.stderr(), /^libbpf debug: libbpf: /m);
});
