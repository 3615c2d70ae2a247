// Selecting processes by executable and port, among decoys; processes that start or restart
// while upspan runs; selectors that match nothing.
import assert from "node:assert/strict";
import { curl, runAgent, startAgent } from "./agent.ts";
import { startNodeServer, startPythonServer, startServer } from "./targets/targets.ts";
import { PYTHON_SERVER } from "./targets/targets.ts";
import { trace } from "../src/trace.ts";
import { selectorWatch } from "../src/selector_watch.ts";
import type { Span } from "../src/model/span.ts";

/** python3 under a name of its own, so that `--exe` can pick it alone on a busy host. */
async function uniquePython(): Promise<{ exe: string; env: Record<string, string> }> {
  // The interpreter itself, not a launcher script (pyenv's shims are shell scripts).
  const which = await new Deno.Command("python3", {
    args: ["-c", "import sys; print(sys.executable)"],
  }).output();
  const real = await Deno.realPath(new TextDecoder().decode(which.stdout).trim());
  const dir = await Deno.makeTempDir({ prefix: "upspan-sel-" });
  const exe = `${dir}/upspan-py-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.copyFile(real, exe);
  await Deno.chmod(exe, 0o755);
  // A pyenv python finds libpython beside its own directory.
  const lib = real.replace(/\/bin\/[^/]+$/, "/lib");
  return { exe, env: { LD_LIBRARY_PATH: lib, PYTHONHOME: real.replace(/\/bin\/[^/]+$/, "") } };
}

Deno.test("--port picks the server on that port, not the one beside it", async () => {
  await using wanted = await startPythonServer({});
  await using decoy = await startPythonServer({});
  await using agent = await startAgent(["--port", String(wanted.port)]);
  assert.match(agent.stderr(), new RegExp(`pid ${wanted.pid} \\(python3[^)]*\\) matches --port`));
  await curl(`http://127.0.0.1:${decoy.port}/hello`);
  await curl(`http://127.0.0.1:${wanted.port}/status/201`);
  const [span] = await agent.waitForSpans((s) => s.kind === "SERVER", 1);
  assert.equal(span!.resource["process.pid"], wanted.pid);
  assert.equal(span!.attributes["http.response.status_code"], 201);
  await agent.stop();
  assert.ok(agent.spans.every((s) => s.resource["process.pid"] !== decoy.pid), "no decoy spans");
});

Deno.test("--exe picks processes by executable name, not the decoys", async () => {
  const py = await uniquePython();
  const name = py.exe.split("/").pop()!;
  await using wanted = await startServer(py.exe, [PYTHON_SERVER, "0", "-", "-"], { env: py.env });
  await using decoy = await startNodeServer({});
  await using agent = await startAgent(["--exe", `upspan-py-*${name.slice(-4)}`]);
  await curl(`http://127.0.0.1:${decoy.port}/hello`);
  await curl(`http://127.0.0.1:${wanted.port}/hello`);
  const [span] = await agent.waitForSpans((s) => s.kind === "SERVER", 1);
  assert.equal(span!.resource["process.pid"], wanted.pid);
  await agent.stop();
  assert.ok(agent.spans.every((s) => s.resource["process.pid"] !== decoy.pid), "no decoy spans");
});

Deno.test("--exe: a server started after upspan, then restarted, is traced within a second", async () => {
  const py = await uniquePython();
  await using agent = await startAgent(["--exe", py.exe]);
  assert.match(agent.stderr(), /No process has an executable matching --exe .*Watching for one/);
  for (const round of [1, 2]) {
    const started = performance.now();
    await using server = await startServer(py.exe, [PYTHON_SERVER, "0", "-", "-"], { env: py.env });
    // Requests from the moment it listens: it must be traced within a second of its exec.
    let spans: number;
    for (;;) {
      await curl(`http://127.0.0.1:${server.port}/status/20${round}`);
      spans = agent.spans.filter((s) => s.resource["process.pid"] === server.pid).length;
      if (spans > 0 || performance.now() - started > 5000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(spans > 0, `round ${round}: no spans from the new server`);
    assert.ok(performance.now() - started < 5000);
    await curl(`http://127.0.0.1:${server.port}/hello?round=${round}`);
    const hello = await agent.waitForSpans(
      (s) => s.attributes["url.query"] === `round=${round}`,
      1,
    );
    assert.equal(hello.length, 1, "one span per request: no duplicates");
    assert.equal(hello[0]!.resource["process.pid"], server.pid);
    await server.stop();
  }
  await agent.stop();
  assert.match(agent.stderr(), /started: --exe/);
  assert.match(agent.stderr(), /exited/);
});

Deno.test("selectors that match nothing: one plain line each, and upspan keeps watching", async () => {
  const r = await runAgent([
    "--exe",
    "no-such-program-anywhere",
    "--container",
    "0123456789ab",
    "--duration",
    "1",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /No process has an executable matching --exe no-such-program-anywhere/);
  assert.match(r.stderr, /No running process is in a container whose id begins with 0123456789ab/);
  assert.match(r.stderr, /^ready: 0 probes on 0 processes/m);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
});

Deno.test("a container id that is not hex: exit 2 with a sentence", async () => {
  const r = await runAgent(["--container", "my-app"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--container needs a container id/);
});

Deno.test("without the scheduler's tracepoints, /proc polling finds a new process", async () => {
  const py = await uniquePython();
  const ac = new AbortController();
  const spans: Span[] = [];
  const lines: string[] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const run = trace({
    pids: [],
    watch: selectorWatch({ exes: [py.exe] }, (l) => lines.push(l)),
    processEvents: "proc",
    onSpan: (s) => spans.push(s),
    onReady: () => ready(),
    log: (l) => lines.push(l),
    signal: ac.signal,
  });
  try {
    await isReady;
    await using server = await startServer(py.exe, [PYTHON_SERVER, "0", "-", "-"], {
      env: py.env,
    });
    const deadline = performance.now() + 5000;
    while (spans.length === 0 && performance.now() < deadline) {
      await curl(`http://127.0.0.1:${server.port}/hello`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(spans.length > 0, lines.join("\n"));
    assert.equal(spans[0]!.resource["process.pid"], server.pid);
  } finally {
    ac.abort();
    await run;
  }
});

Deno.test("--all: processes that come and go are summed up in a line, not a line each", async () => {
  await using agent = await startAgent(["--all"]);
  // Short-lived programs with something to probe: each is matched at its exec, then ends.
  for (let i = 0; i < 6; i++) {
    await new Deno.Command("python3", { args: ["-c", "import ssl, time; time.sleep(0.3)"] })
      .output();
  }
  assert.equal(await agent.stop(), 0);
  const err = agent.stderr();
  assert.doesNotMatch(err, /^pid \d+ exited$/m);
  assert.doesNotMatch(err, /^pid \d+ \(.*\) forked from/m);
  assert.doesNotMatch(err, /No process with pid|is not the file it mapped/);
  const summed = [...err.matchAll(/^processes since the last such line: (\d+) traced exited/gm)];
  assert.ok(summed.reduce((n, m) => n + Number(m[1]), 0) >= 6, err);
});
