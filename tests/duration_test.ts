// --duration and the traced process exiting: the agent stops by itself, flushes,
// detaches and exits 0.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { startPythonServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";
import { tied } from "./targets/tied.ts";

Deno.test("--duration: stops by itself with exit 0 and the spans it saw", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  const t0 = performance.now();
  await using agent = await startAgent(["--pid", String(server.pid), "--duration", "3"]);
  await curl(`https://127.0.0.1:${server.port}/hello`);
  const status = await agent.status;
  assert.equal(status.code, 0, agent.stderr());
  assert.ok(performance.now() - t0 < 20_000, "ended by itself");
  assert.match(
    agent.stderr(),
    /^ready: 6 probes on 1 process \(\d+ tracepoints, syscalls via \w+\)$/m,
  );
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

Deno.test("the reader of stdout goes away (`| head -1`): the agent stops quietly with exit 0", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  const [cmd, argv] = tied([
    Deno.execPath(),
    "run",
    "-A",
    new URL("../mod.ts", import.meta.url).pathname,
    "--pid",
    String(server.pid),
    "--format",
    "json",
  ]);
  const agent = new Deno.Command(cmd, {
    args: argv,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(agent.stderr).text();
  const reader = agent.stdout.getReader();
  const traffic = setInterval(
    () => curl(`https://127.0.0.1:${server.port}/hello`).catch(() => {}),
    100,
  );
  try {
    const first = await reader.read(); // a span line: the agent is tracing
    assert.ok(first.value && first.value.length > 0);
    await reader.cancel(); // the reader goes away; the next write finds a broken pipe
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      agent.status,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("the agent went on tracing")), 15_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const err = await stderr;
    assert.equal(status.code, 0, err);
    assert.doesNotMatch(err, /Uncaught|BrokenPipe/);
    assert.match(err, /^stopped: /m);
  } finally {
    clearInterval(traffic);
    try {
      agent.kill("SIGKILL");
    } catch { /* already gone */ }
  }
});
