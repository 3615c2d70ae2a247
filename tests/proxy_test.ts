// nginx as a reverse proxy (proxy_pass) in front of a Python server, both traced.
import assert from "node:assert/strict";
import { startNginx } from "./targets/nginx.ts";
import { startPythonServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER = "00f067aa0ba902b7";

Deno.test("nginx passes its caller's traceparent on: its CLIENT span is its SERVER span's child, with an id of its own", async () => {
  await using backend = await startPythonServer({});
  await using nginx = await startNginx({}, {
    server: `location / { proxy_pass http://127.0.0.1:${backend.port}; }`,
  });
  await using agent = await startAgent([
    "--pid",
    String(nginx.masterPid),
    "--pid",
    String(backend.pid),
  ]);
  await curl(
    "-o",
    "/dev/null",
    "-H",
    `traceparent: 00-${TRACE}-${CALLER}-01`,
    `http://127.0.0.1:${nginx.port}/hello`,
  );
  await agent.waitForSpans((s) => s.kind === "SERVER", 2);
  await agent.waitForSpans((s) => s.kind === "CLIENT", 1);
  assert.equal(await agent.stop("SIGTERM"), 0);
  const front = agent.spans.find((s) =>
    s.kind === "SERVER" && s.resource["process.pid"] !== backend.pid
  );
  const call = agent.spans.find((s) => s.kind === "CLIENT");
  const back = agent.spans.find((s) =>
    s.kind === "SERVER" && s.resource["process.pid"] === backend.pid
  );
  assert.ok(front && call && back, JSON.stringify(agent.spans));
  for (const s of [front, call, back]) assert.equal(s.traceId, TRACE);
  assert.equal(front.parentSpanId, CALLER, "nginx continues its caller's trace");
  assert.equal(call.parentSpanId, front.spanId, "its call is its request's child");
  assert.notEqual(call.spanId, CALLER, "the call has an id of its own");
  assert.equal(back.parentSpanId, call.spanId, "the backend is the call's child");
  assert.equal(call.attributes["url.path"], "/hello");
  assert.equal(call.attributes["server.port"], backend.port);
});
