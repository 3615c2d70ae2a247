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
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 2);
  assert.deepEqual(
    spans.map((s) => [s.attributes["url.path"], s.attributes["http.response.status_code"]]),
    [["/status/201", 201], ["/status/404", 404]],
  );
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(agent.spans.length, 2, "no extra spans");
});

Deno.test("a 1 MB response: one span, right status and size, no garbage spans", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  await using agent = await startAgent(["--pid", String(server.pid)]);
  const base = `https://127.0.0.1:${server.port}`;
  const body = await curl(`${base}/bytes/1048576`);
  assert.equal(body.length, 1048576);
  await curl(`${base}/hello`);
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 2);
  assert.equal(spans[0]!.name, "GET /bytes/1048576");
  assert.equal(spans[0]!.attributes["http.response.status_code"], 200);
  assert.equal(spans[0]!.attributes["http.response.body.size"], 1048576);
  assert.equal(spans[1]!.name, "GET /hello");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(agent.spans.length, 2, "no garbage spans");
});
