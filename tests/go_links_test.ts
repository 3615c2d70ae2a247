// Traces that do not break between services on one host: a Go server calling itself, a
// Go client calling a Python server, a Python client calling a Go server — one trace each,
// the inner server span the child of the client span, and each inferred parent says how it
// was found (upspan.parent.method).
import assert from "node:assert/strict";
import { type JsonSpan, startAgent } from "./agent.ts";
import { buildGoServer, startGoServer } from "./targets/go/build.ts";
import { startPythonServer } from "./targets/targets.ts";

const METHOD = "upspan.parent.method";

function one(spans: JsonSpan[], pred: (s: JsonSpan) => boolean, what: string): JsonSpan {
  const found = spans.filter(pred);
  assert.equal(found.length, 1, `${what}: ${JSON.stringify(found)}`);
  return found[0]!;
}

for (const stripped of [false, true]) {
  Deno.test(`go links${stripped ? ", stripped" : ""}: Go calling itself, Go → Python, Python → Go: one trace each`, async () => {
    const built = await buildGoServer("go1.26.8", { stripped });
    if (!built.ok) throw new Error(built.error);
    const go = await startGoServer(built.path);
    await using py = await startPythonServer({});
    try {
      await using agent = await startAgent(["--pid", String(go.pid), "--pid", String(py.pid)]);
      const base = `http://127.0.0.1:${go.port}`;
      // Go calling itself: /users/{id} calls its own backend listener.
      await (await fetch(`${base}/users/5`)).arrayBuffer();
      // Go calling Python.
      const target = encodeURIComponent(`http://127.0.0.1:${py.port}/hello`);
      assert.equal(await (await fetch(`${base}/call?url=${target}`)).text(), "200 hello\n\n");
      // Python calling Go (Python's client, traced by the socket capture).
      const pyCall = await fetch(`http://127.0.0.1:${py.port}/call/${go.backendPort}/backend/9`);
      assert.equal(await pyCall.text(), "b9");

      await agent.waitForSpans((s) => s.kind === "SERVER", 6);
      await agent.waitForSpans(
        (s) => s.kind === "CLIENT" && s.attributes["url.full"] !== undefined,
        3,
      );
      await new Promise((r) => setTimeout(r, 300)); // anything late would have come by now
      const all = agent.spans;

      // Go → Go in one process.
      const users = one(all, (s) => s.attributes["url.path"] === "/users/5", "users");
      const toBackend = one(
        all,
        (s) => s.kind === "CLIENT" && String(s.attributes["url.full"]).includes("/backend/5"),
        "client call to the backend",
      );
      const backend = one(
        all,
        (s) => s.kind === "SERVER" && s.attributes["url.path"] === "/backend/5",
        "backend",
      );
      assert.equal(toBackend.parentSpanId, users.spanId);
      assert.equal(toBackend.attributes[METHOD], "goroutine");
      assert.equal(backend.traceId, users.traceId, "one trace");
      assert.equal(backend.parentSpanId, toBackend.spanId, "the server is the client's child");
      assert.equal(backend.attributes[METHOD], "peer");
      assert.equal(users.parentSpanId, "");
      assert.equal(users.attributes[METHOD], undefined, "a root says nothing");

      // Go → Python.
      const call = one(all, (s) => s.attributes["url.path"] === "/call", "call");
      const toPy = one(
        all,
        (s) =>
          s.kind === "CLIENT" && s.resource["process.pid"] === go.pid &&
          String(s.attributes["url.full"]).endsWith("/hello"),
        "Go's client call to Python",
      );
      const hello = one(
        all,
        (s) => s.kind === "SERVER" && s.attributes["url.path"] === "/hello",
        "Python's /hello",
      );
      assert.equal(toPy.parentSpanId, call.spanId);
      assert.equal(hello.resource["process.pid"], py.pid);
      assert.equal(hello.traceId, call.traceId, "one trace");
      assert.equal(hello.parentSpanId, toPy.spanId);
      assert.equal(hello.attributes[METHOD], "peer");

      // Python → Go.
      const pyServer = one(
        all,
        (s) => s.kind === "SERVER" && String(s.attributes["url.path"]).startsWith("/call/"),
        "Python's /call",
      );
      const pyClient = one(
        all,
        (s) => s.kind === "CLIENT" && s.resource["process.pid"] === py.pid,
        "Python's client call",
      );
      const goBackend = one(
        all,
        (s) => s.kind === "SERVER" && s.attributes["url.path"] === "/backend/9",
        "Go's /backend/9",
      );
      assert.equal(pyClient.parentSpanId, pyServer.spanId);
      assert.equal(pyClient.attributes[METHOD], "thread");
      assert.equal(goBackend.traceId, pyServer.traceId, "one trace");
      assert.equal(goBackend.parentSpanId, pyClient.spanId);
      assert.equal(goBackend.attributes[METHOD], "peer");
    } finally {
      await go.stop();
    }
  });
}
