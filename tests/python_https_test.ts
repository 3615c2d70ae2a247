// A Python HTTPS server (OpenSSL 3 through its ssl module, SSL_read_ex/SSL_write_ex) and
// curl calling it (libcurl's SSL_read/SSL_write), both traced by one agent.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { PYTHON3_NAME, PYTHON_SERVER, startPythonServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";

Deno.test("python https server: one SERVER span per exchange, paths and statuses exact", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  // Warmed up as users run it: none of the warm-up's spans may reach the output.
  await using agent = await startAgent(["--pid", String(server.pid)], {
    env: { UPSPAN_WARM_UP: "1" },
  });
  const base = `https://127.0.0.1:${server.port}`;
  await curl(`${base}/hello`, `${base}/status/404`, `${base}/status/503?x=1`);
  await curl("-X", "POST", "--data-binary", "ping-pong", `${base}/echo`);
  await agent.waitForSpans((s) => s.kind === "SERVER", 4);
  assert.equal(await agent.stop("SIGTERM"), 0, "SIGTERM: flush, detach, exit 0");

  const spans = agent.spans;
  assert.equal(spans.length, 4, "no duplicate or extra spans");
  assert.deepEqual(
    spans.map((
      s,
    ) => [
      s.name,
      s.attributes["url.path"],
      s.attributes["http.response.status_code"],
      s.status.code,
    ]),
    [
      ["GET", "/hello", 200, "UNSET"],
      ["GET", "/status/404", 404, "UNSET"],
      ["GET", "/status/503", 503, "ERROR"],
      ["POST", "/echo", 200, "UNSET"],
    ],
  );
  const [hello, , unavailable, echo] = spans;
  assert.equal(hello!.kind, "SERVER");
  assert.equal(hello!.attributes["http.request.method"], "GET");
  assert.equal(hello!.attributes["url.scheme"], "https");
  assert.equal(hello!.attributes["network.protocol.version"], "1.1");
  assert.equal(hello!.attributes["server.address"], "127.0.0.1");
  assert.equal(hello!.attributes["server.port"], server.port);
  assert.equal(hello!.attributes["client.address"], "127.0.0.1");
  assert.equal(typeof hello!.attributes["client.port"], "number");
  assert.match(String(hello!.attributes["user_agent.original"]), /^curl\//);
  assert.equal(hello!.attributes["http.response.body.size"], 6);
  assert.equal(unavailable!.attributes["url.query"], "x=1");
  assert.equal(unavailable!.attributes["error.type"], "503");
  assert.equal(echo!.attributes["http.request.body.size"], 9);
  assert.equal(echo!.attributes["http.response.body.size"], 9);
  // Two curl runs, two connections: the second may reuse the first's freed SSL* address,
  // and must still carry its own socket.
  const ports = spans.map((s) => s.attributes["client.port"]);
  assert.equal(ports[0], ports[1]);
  assert.equal(ports[1], ports[2]);
  assert.notEqual(ports[3], ports[0]);
  for (const s of spans) {
    assert.match(s.traceId, /^[0-9a-f]{32}$/);
    assert.match(s.spanId, /^[0-9a-f]{16}$/);
    assert.equal(s.parentSpanId, "");
    assert.equal(s.resource["process.pid"], server.pid);
    assert.equal(s.resource["service.name"], PYTHON3_NAME);
    const start = BigInt(s.startTimeUnixNano), end = BigInt(s.endTimeUnixNano);
    assert.ok(end >= start, "end after start");
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    assert.ok(nowNs - start < 60_000_000_000n && start - nowNs < 1_000_000_000n, "wall-clock time");
  }
});

Deno.test("python https server: an incoming traceparent continues the caller's trace", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  await using agent = await startAgent(["--pid", String(server.pid)]);
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  await curl(
    "-H",
    `traceparent: 00-${traceId}-00f067aa0ba902b7-01`,
    `https://127.0.0.1:${server.port}/hello`,
  );
  await curl(
    "-H",
    "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    `https://127.0.0.1:${server.port}/hello`,
  );
  await agent.waitForSpans((s) => s.kind === "SERVER", 2);
  const [continued, invalid] = agent.spans;
  assert.equal(continued!.traceId, traceId);
  assert.equal(continued!.parentSpanId, "00f067aa0ba902b7");
  assert.notEqual(continued!.spanId, "00f067aa0ba902b7");
  assert.notEqual(
    invalid!.traceId,
    "00000000000000000000000000000000",
    "an all-zero trace id is not continued",
  );
  assert.equal(invalid!.parentSpanId, "");
});

Deno.test("curl: CLIENT spans with the full URL and the server's address", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  const base = `https://127.0.0.1:${server.port}`;
  // Several URLs at a bounded rate: curl lives (8 s) long enough to be attached to, even
  // when the agent is slow to start on a busy machine.
  const urls = Array.from({ length: 48 }, (_, i) => `${base}/status/${i % 2 ? 404 : 200}?n=${i}`);
  const client = new Deno.Command("curl", {
    args: ["-sk", "--rate", "6/s", "-o", "/dev/null", ...urls],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await using agent = await startAgent([
      "--pid",
      String(client.pid),
      "--pid",
      String(server.pid),
    ]);
    assert.match(
      agent.stderr(),
      /^ready: 6 probes on 2 processes/m,
      "one libssl (5 probes) and one loader, attached once",
    );
    const clients = await agent.waitForSpans((s) => s.kind === "CLIENT", 4);
    for (const s of clients) {
      const n = Number(String(s.attributes["url.query"]).slice(2));
      const status = n % 2 ? 404 : 200;
      assert.equal(s.resource["process.pid"], client.pid);
      assert.equal(s.name, "GET");
      assert.equal(s.attributes["url.full"], `${base}/status/${status}?n=${n}`);
      assert.equal(s.attributes["http.response.status_code"], status);
      assert.equal(s.status.code, status === 404 ? "ERROR" : "UNSET");
      assert.equal(s.attributes["server.address"], "127.0.0.1");
      assert.equal(s.attributes["server.port"], server.port);
      assert.equal(s.attributes["network.peer.port"], server.port);
    }
    // The same exchanges seen from the server side, in the same agent, each the child of
    // its client span in one trace (upspan sees both ends of the connection).
    await client.status;
    assert.equal(await agent.stop("SIGTERM"), 0);
    const servers = agent.spans.filter((s) => s.kind === "SERVER");
    const callers = new Map(
      agent.spans.filter((s) => s.kind === "CLIENT").map((c) => [c.attributes["url.query"], c]),
    );
    let linked = 0;
    for (const s of servers) {
      assert.equal(s.resource["process.pid"], server.pid);
      const caller = callers.get(s.attributes["url.query"]);
      if (caller === undefined) continue; // sent before the probes were in place
      assert.equal(s.traceId, caller.traceId, `${s.attributes["url.query"]}: one trace`);
      assert.equal(
        s.parentSpanId,
        caller.spanId,
        `${s.attributes["url.query"]}: its caller's child`,
      );
      linked++;
    }
    assert.ok(linked >= 4, `server spans linked to their callers: ${linked}`);
  } finally {
    await client.status;
  }
});

Deno.test("python https server on IPv6: addresses from the socket in their text form", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key, host: "::1" });
  await using agent = await startAgent(["--pid", String(server.pid)]);
  await curl("-6", `https://[::1]:${server.port}/hello`);
  await agent.waitForSpans((s) => s.kind === "SERVER", 1);
  assert.equal(await agent.stop("SIGTERM"), 0);
  const [span] = agent.spans;
  assert.equal(span!.attributes["url.path"], "/hello");
  assert.equal(span!.attributes["client.address"], "::1");
  assert.equal(span!.attributes["network.peer.address"], "::1");
  assert.equal(span!.attributes["server.address"], "::1");
  assert.equal(span!.attributes["server.port"], server.port);
});

Deno.test("OpenSSL loaded after upspan attached (a late `import ssl`) is found and probed", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  // Plain Python first; the HTTPS server (and so libssl) only once the agent is ready.
  const go = await Deno.makeTempFile();
  const late = "import os, runpy, sys, time\n" +
    `while not os.path.getsize(${JSON.stringify(go)}): time.sleep(0.05)\n` +
    `sys.argv = ["https_server.py", "0", ${JSON.stringify(cert)}, ${JSON.stringify(key)}]\n` +
    `runpy.run_path(${JSON.stringify(PYTHON_SERVER)}, run_name="__main__")\n`;
  const child = new Deno.Command("python3", {
    args: ["-c", late],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    await using agent = await startAgent(["--pid", String(child.pid)]);
    assert.match(agent.stderr(), /tracing its plain sockets only/);
    await Deno.writeTextFile(go, "go");
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!/listening \d+\n/.test(out)) out += (await reader.read()).value ?? "";
    const port = Number(/listening (\d+)/.exec(out)![1]);
    const deadline = performance.now() + 5000;
    while (!/OpenSSL loaded/.test(agent.stderr()) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(agent.stderr(), /pid \d+ \(python3\): OpenSSL loaded, in .*libssl\.so/);
    await curl(`https://127.0.0.1:${port}/hello?late=1`);
    const [span] = await agent.waitForSpans((s) => s.attributes["url.query"] === "late=1", 1);
    assert.equal(span!.attributes["url.scheme"], "https");
    reader.releaseLock();
  } finally {
    child.kill();
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
});
