// nginx as a reverse proxy (proxy_pass) in front of a Python server, both traced.
import assert from "node:assert/strict";
import { startNginx } from "./targets/nginx.ts";
import { startPythonServer } from "./targets/targets.ts";
import { curl, type JsonSpan, startAgent } from "./agent.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER = "00f067aa0ba902b7";

/** One GET through nginx to the backend, with `headers`; nginx's and the backend's spans. */
async function proxied(headers: string[], agentArgs: string[] = []) {
  await using backend = await startPythonServer({});
  await using nginx = await startNginx({}, {
    server: `large_client_header_buffers 4 64k;
    location / { proxy_pass http://127.0.0.1:${backend.port}; }`,
  });
  await using agent = await startAgent([
    "--pid",
    String(nginx.masterPid),
    "--pid",
    String(backend.pid),
    ...agentArgs,
  ]);
  const h = headers.flatMap((x) => ["-H", x]);
  const status = await curl(
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    ...h,
    `http://127.0.0.1:${nginx.port}/hello`,
  );
  assert.equal(status, "200");
  await agent.waitForSpans((s) => s.kind === "SERVER", 2);
  await agent.waitForSpans((s) => s.kind === "CLIENT", 1);
  assert.equal(await agent.stop("SIGTERM"), 0);
  const find = (pred: (s: JsonSpan) => boolean) => {
    const found = agent.spans.filter(pred);
    assert.equal(found.length, 1, JSON.stringify(agent.spans));
    return found[0]!;
  };
  const front = find((s) => s.kind === "SERVER" && s.resource["process.pid"] !== backend.pid);
  const call = find((s) => s.kind === "CLIENT");
  const back = find((s) => s.kind === "SERVER" && s.resource["process.pid"] === backend.pid);
  assert.equal(call.parentSpanId, front.spanId, "nginx's call is its request's child");
  assert.equal(back.parentSpanId, call.spanId, "the backend is the call's child");
  assert.equal(call.attributes["url.path"], "/hello");
  assert.equal(call.attributes["server.port"], backend.port);
  return { front, call, back };
}

Deno.test("nginx passes its caller's traceparent on: its CLIENT span is its SERVER span's child, with an id of its own", async () => {
  const { front, call, back } = await proxied([`traceparent: 00-${TRACE}-${CALLER}-01`]);
  for (const s of [front, call, back]) assert.equal(s.traceId, TRACE);
  assert.equal(front.parentSpanId, CALLER, "nginx continues its caller's trace");
  assert.notEqual(call.spanId, CALLER, "the call has an id of its own");
});

Deno.test("request heads of 16 KiB and more: nginx's call and the backend's parent, at the default capture size", async () => {
  for (const size of [16_384, 40_000]) {
    const { front, back } = await proxied([`X-Big: ${"x".repeat(size)}`]);
    assert.equal(back.traceId, front.traceId);
  }
});

Deno.test("request heads of 40 KB under --capture-bytes 65536: the fields after the large one are read", async () => {
  const { front, call } = await proxied(
    [`X-Big: ${"x".repeat(40_000)}`, `traceparent: 00-${TRACE}-${CALLER}-01`],
    ["--capture-bytes", "65536"],
  );
  assert.equal(front.parentSpanId, CALLER);
  assert.equal(call.traceId, TRACE);
  assert.notEqual(call.spanId, CALLER);
});
