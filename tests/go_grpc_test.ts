// grpc-go (from the module proxy) server and client, both traced: grpc-go runs its own
// HTTP/2 transport, which net/http's probes never see, so its calls come from the bytes
// (plain sockets, or Go's crypto/tls plaintext) through the HTTP/2 parser — one span per
// call, client and server linked — while the process's net/http stays with its probes.
import assert from "node:assert/strict";
import { startAgent } from "./agent.ts";
import { makeCert } from "./targets/certs.ts";
import { buildGrpcFixture, startGrpcClient, startGrpcFixture } from "./targets/grpc_fixture.ts";
import type { JsonSpan as Span } from "./agent.ts";

// CI runs a representative pair; UPSPAN_GO_MATRIX=full (`deno task go:matrix:h2`) all of
// both toolchains × stripped or not × plaintext or TLS.
const FULL = Deno.env.get("UPSPAN_GO_MATRIX") === "full";
const CASES = FULL
  ? ["go1.25.14", "go1.26.8"].flatMap((toolchain) =>
    [false, true].flatMap((stripped) => [false, true].map((tls) => ({ toolchain, stripped, tls })))
  )
  : [
    { toolchain: "go1.25.14", stripped: true, tls: true },
    { toolchain: "go1.26.8", stripped: false, tls: false },
  ];

for (const { toolchain, stripped, tls } of CASES) {
  const name = `grpc-go built by ${toolchain}${stripped ? ", stripped" : ""}, ${
    tls ? "TLS" : "plaintext"
  }: unary, failing unary, server streaming; client and server linked`;
  Deno.test(name, async () => {
    const binary = await buildGrpcFixture(toolchain, { stripped });
    const dir = await Deno.makeTempDir({ prefix: "upspan-grpc-" });
    try {
      const cert = tls ? await makeCert(dir) : undefined;
      await using server = await startGrpcFixture(binary, "serve", cert);
      await using client = await startGrpcClient(binary, server.port, cert?.cert);
      await using agent = await startAgent([
        "--pid",
        String(server.pid),
        "--pid",
        String(client.pid),
      ]);
      assert.match(agent.stderr(), /grpc-go v[\d.]+ calls from its bytes/);
      const printed = await client.calls();
      assert.match(printed, /Say hello: "hello" OK\nSay fail:5: "" NotFound\nCount: 4 messages/);

      const rpc = (s: Span) => s.attributes["rpc.system"] === "grpc";
      await agent.waitForSpans(rpc, 6);
      await new Promise((r) => setTimeout(r, 300)); // a second span would have come by now
      await agent.stop();
      // What the calls cost in probe hits (BENCHMARKS.md): the stopped line counts them.
      console.log(agent.stderr().split("\n").find((l) => l.startsWith("stopped:")));
      assert.equal(agent.spans.length, 6, "one span per call and side, nothing else");

      const side = (kind: string, pid: number) =>
        agent.spans.filter((s) => s.kind === kind && s.resource["process.pid"] === pid);
      const clients = side("CLIENT", client.pid);
      const servers = side("SERVER", server.pid);
      const summary = (s: Span) => [
        s.name,
        s.attributes["rpc.service"],
        s.attributes["rpc.method"],
        s.attributes["rpc.grpc.status_code"],
        s.attributes["rpc.grpc.response.message_count"],
        s.attributes["url.scheme"],
        s.status.code,
      ];
      const scheme = tls ? "https" : "http";
      const calls = [
        ["demo.Echo/Say", "demo.Echo", "Say", 0, 1, scheme],
        ["demo.Echo/Say", "demo.Echo", "Say", 5, 0, scheme],
        ["demo.Echo/Count", "demo.Echo", "Count", 0, 4, scheme],
      ];
      // NOT_FOUND is the caller's error, not the server's (gRPC's span status rules).
      assert.deepEqual(
        clients.map(summary),
        calls.map((c, i) => [...c, i === 1 ? "ERROR" : "UNSET"]),
      );
      assert.deepEqual(servers.map(summary), calls.map((c) => [...c, "UNSET"]));
      clients.forEach((c, i) => {
        const s = servers[i]!;
        assert.equal(s.parentSpanId, c.spanId, `${c.name}: the server span is the client's child`);
        assert.equal(s.traceId, c.traceId);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
