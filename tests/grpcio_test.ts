// Python's grpcio (PyPI) server and client over an insecure channel, both traced: its C core
// writes HTTP/2 on plain sockets, so its calls come from the socket bytes through the HTTP/2
// parser, client and server linked — except what the capture misses (below). (grpcio over
// TLS is not seen: its BoringSSL is linked into `cygrpc` with no symbols to probe.)
import assert from "node:assert/strict";
import { startAgent } from "./agent.ts";
import { startGrpcClient, startGrpcFixture } from "./targets/grpc_fixture.ts";
import { pythonEnv } from "./targets/python_env.ts";
import type { JsonSpan as Span } from "./agent.ts";

const APP = new URL("./targets/grpcio_app.py", import.meta.url).pathname;

Deno.test("grpcio, insecure channel: NOT_FOUND and INTERNAL after a first call; client and server linked", async () => {
  const app = [await pythonEnv(), APP];
  await using server = await startGrpcFixture(app, "serve");
  await using client = await startGrpcClient(app, server.port);
  await using agent = await startAgent(["--pid", String(server.pid), "--pid", String(client.pid)]);
  assert.equal(await client.calls(), "Say 'hello' OK\nFail NOT_FOUND\nFail INTERNAL\ndone\n");

  // grpcio writes the connection's first call in more buffers than the capture reads (8):
  // the client its HEADERS and DATA in 24 (every HPACK literal a buffer of its own), the
  // server its reply in 14. That call gets no span, and the client's later HEADERS refer to
  // table entries it made, never seen: its later calls are plain HTTP/2 POST spans.
  // That first call's server span, if any, ends with the connection, without its status:
  // partial, never wrong.
  const fail = (s: Span) => s.attributes["url.path"] === "/demo.Echo/Fail";
  await agent.waitForSpans(fail, 4);
  await new Promise((r) => setTimeout(r, 300)); // a fifth span would have come by now
  await agent.stop();
  const [fails, others] = [agent.spans.filter(fail), agent.spans.filter((s) => !fail(s))];
  assert.equal(fails.length, 4, JSON.stringify(agent.spans, null, 1));
  for (const s of others) {
    assert.deepEqual([s.kind, s.name, s.attributes["rpc.grpc.status_code"], s.status.code], [
      "SERVER",
      "demo.Echo/Say",
      undefined,
      "UNSET",
    ]);
  }

  const side = (kind: string, pid: number) =>
    fails.filter((s) => s.kind === kind && s.resource["process.pid"] === pid);
  const clients = side("CLIENT", client.pid);
  const servers = side("SERVER", server.pid);
  const summary = (s: Span) => [
    s.name,
    s.attributes["url.path"],
    s.attributes["rpc.system"],
    s.attributes["rpc.service"],
    s.attributes["rpc.method"],
    s.attributes["rpc.grpc.status_code"],
    s.attributes["url.scheme"],
    s.status.code,
  ];
  // NOT_FOUND is the caller's error only; INTERNAL the server's too (gRPC span status rules).
  assert.deepEqual(servers.map(summary), [
    ["demo.Echo/Fail", "/demo.Echo/Fail", "grpc", "demo.Echo", "Fail", 5, "http", "UNSET"],
    ["demo.Echo/Fail", "/demo.Echo/Fail", "grpc", "demo.Echo", "Fail", 13, "http", "ERROR"],
  ]);
  const post = ["POST", "/demo.Echo/Fail", undefined, undefined, undefined, undefined, "http"];
  assert.deepEqual(clients.map(summary), [[...post, "UNSET"], [...post, "UNSET"]]);
  clients.forEach((c, i) => {
    const s = servers[i]!;
    assert.equal(s.parentSpanId, c.spanId, `${c.name}: the server span is the client's child`);
    assert.equal(s.traceId, c.traceId);
  });
});
