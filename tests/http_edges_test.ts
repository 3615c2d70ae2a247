// Exchanges that stress the stream and HTTP machinery on a real TLS connection.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { pipelinedRequest, startPythonServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";

Deno.test("two requests pipelined in one TLS write: two spans, each with its own response", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  await using agent = await startAgent(["--pid", String(server.pid)]);
  await pipelinedRequest(server.port, ["/status/201", "/status/404"], { caCert: cert });
  await agent.waitForSpans((s) => s.kind === "SERVER", 2);
  assert.equal(await agent.stop("SIGTERM"), 0);
  assert.deepEqual(
    agent.spans.map((s) => [s.attributes["url.path"], s.attributes["http.response.status_code"]]),
    [["/status/201", 201], ["/status/404", 404]],
    "two spans, no extra ones",
  );
});

Deno.test("a 1 MB response: one span, right status and size, no garbage spans", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  await using agent = await startAgent(["--pid", String(server.pid)]);
  const base = `https://127.0.0.1:${server.port}`;
  const body = await curl(`${base}/bytes/1048576`);
  assert.equal(body.length, 1048576);
  await curl(`${base}/hello`);
  await agent.waitForSpans((s) => s.kind === "SERVER", 2);
  assert.equal(await agent.stop("SIGTERM"), 0);
  const spans = agent.spans;
  assert.equal(spans.length, 2, "no garbage spans");
  assert.equal(spans[0]!.attributes["url.path"], "/bytes/1048576");
  assert.equal(spans[0]!.attributes["http.response.status_code"], 200);
  assert.equal(spans[0]!.attributes["http.response.body.size"], 1048576);
  assert.equal(spans[1]!.attributes["url.path"], "/hello");
});
