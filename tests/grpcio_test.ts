// Python's grpcio (PyPI) server and client over an insecure channel, both traced: its C core
// writes HTTP/2 on plain sockets, so its calls come from the socket bytes through the HTTP/2
// parser, client and server linked. (grpcio over
// TLS is not seen: its BoringSSL is linked into `cygrpc` with no symbols to probe.)
import assert from "node:assert/strict";
import { startAgent } from "./agent.ts";
import { startGrpcClient, startGrpcFixture } from "./targets/grpc_fixture.ts";
import { pythonEnv } from "./targets/python_env.ts";
import type { JsonSpan as Span } from "./agent.ts";

const APP = new URL("./targets/grpcio_app.py", import.meta.url).pathname;

Deno.test("grpcio, insecure channel: OK, NOT_FOUND and INTERNAL calls, client and server linked", async () => {
  const app = [await pythonEnv(), APP];
  await using server = await startGrpcFixture(app, "serve");
  await using client = await startGrpcClient(app, server.port);
  await using agent = await startAgent(["--pid", String(server.pid), "--pid", String(client.pid)]);
  assert.equal(await client.calls(), "Say 'hello' OK\nFail NOT_FOUND\nFail INTERNAL\ndone\n");

  // grpcio writes a call in dozens of small buffers (the first call's HEADERS and DATA in
  // 24, every HPACK literal a buffer of its own): the capture packs them into one chunk.
  const rpc = (s: Span) => s.attributes["rpc.system"] === "grpc";
  await agent.waitForSpans(rpc, 6);
  await new Promise((r) => setTimeout(r, 300)); // a seventh span would have come by now
  await agent.stop();
  assert.equal(agent.spans.length, 6, JSON.stringify(agent.spans, null, 1));

  const side = (kind: string, pid: number) =>
    agent.spans.filter((s) => s.kind === kind && s.resource["process.pid"] === pid);
  const clients = side("CLIENT", client.pid);
  const servers = side("SERVER", server.pid);
  const summary = (s: Span) => [
    s.name,
    s.attributes["url.path"],
    s.attributes["rpc.service"],
    s.attributes["rpc.method"],
    s.attributes["rpc.grpc.status_code"],
    s.attributes["url.scheme"],
    s.status.code,
  ];
  // NOT_FOUND is the caller's error only; INTERNAL the server's too (gRPC span status rules).
  const call = (
    method: string,
    code: number,
  ) => [`demo.Echo/${method}`, `/demo.Echo/${method}`, "demo.Echo", method, code, "http"];
  assert.deepEqual(servers.map(summary), [
    [...call("Say", 0), "UNSET"],
    [...call("Fail", 5), "UNSET"],
    [...call("Fail", 13), "ERROR"],
  ]);
  assert.deepEqual(clients.map(summary), [
    [...call("Say", 0), "UNSET"],
    [...call("Fail", 5), "ERROR"],
    [...call("Fail", 13), "ERROR"],
  ]);
  clients.forEach((c, i) => {
    const s = servers[i]!;
    assert.equal(s.parentSpanId, c.spanId, `${c.name}: the server span is the client's child`);
    assert.equal(s.traceId, c.traceId);
  });
});
