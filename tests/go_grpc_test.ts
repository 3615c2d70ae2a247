// grpc-go (from the module proxy) server and client, both traced: grpc-go runs its own
// HTTP/2 transport, which net/http's probes never see, so its calls come from the bytes
// (plain sockets, or Go's crypto/tls plaintext) through the HTTP/2 parser — one span per
// call, client and server linked — while the process's net/http stays with its probes.
import assert from "node:assert/strict";
import { startAgent } from "./agent.ts";
import { makeCert } from "./targets/certs.ts";
import { startPythonServer } from "./targets/targets.ts";
import { buildGrpcFixture, startGrpcClient, startGrpcFixture } from "./targets/grpc_fixture.ts";
import type { JsonSpan as Span } from "./agent.ts";
import { locateGo } from "../src/golang/locate.ts";
import { GRPC_OFFSETS } from "../src/golang/grpc_offsets.ts";

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

// A handler's own calls: the handler runs on a goroutine the probes see, its call's span
// comes from the bytes; the two are joined by connection and stream (README, "Go"). The
// Python server called is traced too: its span is in the same trace, the GET's child.
for (const { toolchain, stripped, tls } of CASES) {
  const name = `grpc-go built by ${toolchain}${stripped ? ", stripped" : ""}, ${
    tls ? "TLS" : "plaintext"
  }: HTTP calls made in a handler are children of its gRPC SERVER span`;
  Deno.test(name, async () => {
    const binary = await buildGrpcFixture(toolchain, { stripped });
    const dir = await Deno.makeTempDir({ prefix: "upspan-grpc-" });
    try {
      const cert = tls ? await makeCert(dir) : undefined;
      await using target = await startPythonServer({});
      await using server = await startGrpcFixture(binary, "serve", cert);
      await using client = await startGrpcClient(binary, server.port, cert?.cert);
      await using agent = await startAgent([
        "--pid",
        String(server.pid),
        "--pid",
        String(client.pid),
        "--pid",
        String(target.pid),
      ]);
      // Two calls on one connection (streams 1 and 3): each call's GET is its own child.
      const paths = ["/status/202", "/status/204"];
      for (const path of paths) {
        const printed = await client.callOut(`http://127.0.0.1:${target.port}${path}`);
        assert.match(printed, /Say get: "20[24] [A-Za-z ]+" OK\n/);
      }
      const gets = (s: Span) => s.attributes["http.request.method"] === "GET";
      const rpc = (s: Span) => s.attributes["rpc.system"] === "grpc";
      await agent.waitForSpans(gets, 4);
      await agent.waitForSpans(rpc, 4);
      await agent.stop();

      const byStart = (a: Span, b: Span) =>
        Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano));
      const of = (kind: string, pid: number, pred: (s: Span) => boolean) =>
        agent.spans.filter((s) => s.kind === kind && s.resource["process.pid"] === pid && pred(s))
          .sort(byStart);
      const calls = of("CLIENT", client.pid, rpc);
      const served = of("SERVER", server.pid, rpc);
      const out = of("CLIENT", server.pid, gets);
      const received = of("SERVER", target.pid, gets);
      assert.equal(calls.length, 2);
      assert.equal(served.length, 2);
      assert.deepEqual(out.map((s) => s.attributes["url.path"]), paths);
      out.forEach((get, i) => {
        const call = served[i]!;
        assert.equal(get.parentSpanId, call.spanId, `${paths[i]}: the handler's call's child`);
        assert.equal(get.traceId, call.traceId);
        assert.equal(get.attributes["upspan.parent.method"], "goroutine");
        // The whole chain is one trace: client call → server call → the handler's GET.
        assert.equal(call.parentSpanId, calls[i]!.spanId);
        assert.equal(call.traceId, calls[i]!.traceId);
        // And on to the traced server it called.
        assert.equal(received[i]!.parentSpanId, get.spanId);
        assert.equal(received[i]!.traceId, call.traceId);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

// grpc-go mounted on net/http (grpc.Server.ServeHTTP): net/http's probes see each call's
// request and the bytes give its gRPC span, for the same connection and stream. One span
// per call goes out, the gRPC one, and the handler's calls are its children (README, "Go").
for (const { toolchain, stripped, tls } of CASES) {
  const name = `grpc-go mounted on net/http, built by ${toolchain}${
    stripped ? ", stripped" : ""
  }, ${tls ? "TLS" : "cleartext HTTP/2"}: one gRPC span per call, a handler's HTTP call its child`;
  Deno.test(name, async () => {
    const binary = await buildGrpcFixture(toolchain, { stripped });
    const dir = await Deno.makeTempDir({ prefix: "upspan-grpc-" });
    try {
      const cert = tls ? await makeCert(dir) : undefined;
      await using target = await startPythonServer({});
      await using server = await startGrpcFixture(binary, "mounted", cert);
      await using client = await startGrpcClient(binary, server.port, cert?.cert);
      await using agent = await startAgent([
        "--pid",
        String(server.pid),
        "--pid",
        String(client.pid),
        "--pid",
        String(target.pid),
      ]);
      const printed = await client.calls();
      assert.match(printed, /Say hello: "hello" OK\nSay fail:5: "" NotFound\nCount: 4 messages/);
      const url = `http://127.0.0.1:${target.port}/status/202`;
      assert.match(await client.callOut(url), /Say get: "202 Accepted" OK\n/);
      // A POST that is no gRPC call (grpc-go answers 415): net/http's span is its one span.
      const curl = await new Deno.Command("curl", {
        args: [
          "-sSk",
          tls ? "--http2" : "--http2-prior-knowledge",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{http_version}",
          "-X",
          "POST", // no body: one left unread would be reset, which curl may take for an error
          "-H",
          "content-type: text/plain",
          `${tls ? "https" : "http"}://127.0.0.1:${server.port}/demo.Echo/Say`,
        ],
      }).output();
      assert.equal(
        new TextDecoder().decode(curl.stdout),
        "415 2",
        new TextDecoder().decode(curl.stderr),
      );

      const rpc = (s: Span) => s.attributes["rpc.system"] === "grpc";
      const gets = (s: Span) => s.attributes["http.request.method"] === "GET";
      await agent.waitForSpans(rpc, 8);
      await agent.waitForSpans(gets, 2);
      await agent.waitForSpans((s) => s.attributes["http.response.status_code"] === 415, 1);
      await new Promise((r) => setTimeout(r, 300)); // a second span would have come by now
      await agent.stop();

      const byStart = (a: Span, b: Span) =>
        Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano));
      const of = (kind: string, pid: number) =>
        agent.spans.filter((s) => s.kind === kind && s.resource["process.pid"] === pid)
          .sort(byStart);
      const calls = of("CLIENT", client.pid);
      const [plain, ...served] = of("SERVER", server.pid).sort((a, b) =>
        Number(rpc(a)) - Number(rpc(b)) || byStart(a, b)
      );
      assert.deepEqual(
        [plain?.name, plain?.attributes["rpc.system"], plain?.attributes["url.path"]],
        ["POST", undefined, "/demo.Echo/Say"],
      );
      const summary = (s: Span) => [
        s.name,
        s.attributes["rpc.system"],
        s.attributes["rpc.service"],
        s.attributes["rpc.method"],
        s.attributes["rpc.grpc.status_code"],
      ];
      const expected = [
        ["demo.Echo/Say", "grpc", "demo.Echo", "Say", 0],
        ["demo.Echo/Say", "grpc", "demo.Echo", "Say", 5],
        ["demo.Echo/Count", "grpc", "demo.Echo", "Count", 0],
        ["demo.Echo/Say", "grpc", "demo.Echo", "Say", 0],
      ];
      assert.deepEqual(calls.map(summary), expected);
      assert.deepEqual(served.map(summary), expected, "one SERVER span per call: the gRPC one");
      served.forEach((s, i) => {
        assert.equal(s.parentSpanId, calls[i]!.spanId, `${s.name}: the client call's child`);
        assert.equal(s.traceId, calls[i]!.traceId);
      });
      const [get, ...more] = of("CLIENT", server.pid);
      assert.equal(more.length, 0);
      assert.ok(get && gets(get));
      assert.equal(get.parentSpanId, served[3]!.spanId, "the handler's GET is its call's child");
      assert.equal(get.traceId, served[3]!.traceId);
      assert.equal(get.attributes["upspan.parent.method"], "goroutine");
      const [received] = of("SERVER", target.pid);
      assert.equal(received?.parentSpanId, get.spanId);
      assert.equal(received?.traceId, get.traceId);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

// grpc-go behind x/net's h2c.NewHandler: x/net's server probes see each call's request, with
// no stream id to join it to the call's span from the bytes; a gRPC request there (by its
// content type) makes no span of its own, other requests do.
Deno.test("grpc-go behind x/net's h2c.NewHandler, built by go1.26.8: one gRPC span per call, a plain POST its own", async () => {
  const binary = await buildGrpcFixture("go1.26.8");
  await using server = await startGrpcFixture(binary, "mountedh2c");
  await using client = await startGrpcClient(binary, server.port);
  await using agent = await startAgent(["--pid", String(server.pid), "--pid", String(client.pid)]);
  assert.match(await client.calls(), /Say hello: "hello" OK\nSay fail:5: "" NotFound\n/);
  const curl = await new Deno.Command("curl", {
    args: ["-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"]
      .concat(["-H", "content-type: text/plain", `http://127.0.0.1:${server.port}/demo.Echo/Say`]),
  }).output();
  assert.equal(new TextDecoder().decode(curl.stdout), "415");
  const served = (s: Span) => s.kind === "SERVER" && s.resource["process.pid"] === server.pid;
  await agent.waitForSpans(served, 4);
  await new Promise((r) => setTimeout(r, 300)); // a fifth would have come by now
  await agent.stop();
  const names = agent.spans.filter(served).map((s) => [s.name, s.attributes["rpc.system"]]);
  assert.deepEqual(names.sort(), [
    ["POST", undefined],
    ["demo.Echo/Count", "grpc"],
    ["demo.Echo/Say", "grpc"],
    ["demo.Echo/Say", "grpc"],
  ]);
});

// A grpc-go call made in a grpc-go handler: its span comes from the bytes the client
// transport's own goroutine writes; the probe where the call's stream is made on the
// handler's goroutine (http2Client.NewStream) names its parent by connection and stream.
for (const { toolchain, stripped, tls } of CASES) {
  for (const mode of ["serve", "mounted"] as const) {
    const name = `grpc-go ${mode === "serve" ? "" : "mounted on net/http, "}built by ${toolchain}${
      stripped ? ", stripped" : ""
    }, ${tls ? "TLS" : "plaintext"}: a gRPC call made in a handler is the child of its call`;
    Deno.test(name, async () => {
      const binary = await buildGrpcFixture(toolchain, { stripped });
      const dir = await Deno.makeTempDir({ prefix: "upspan-grpc-" });
      try {
        const cert = tls ? await makeCert(dir) : undefined;
        await using backend = await startGrpcFixture(binary, "serve");
        await using server = await startGrpcFixture(binary, mode, cert);
        await using client = await startGrpcClient(binary, server.port, cert?.cert);
        await using agent = await startAgent([
          "--pid",
          String(server.pid),
          "--pid",
          String(client.pid),
          "--pid",
          String(backend.pid),
        ]);
        for (let i = 0; i < 2; i++) {
          const printed = await client.callOn(`127.0.0.1:${backend.port}`);
          assert.match(printed, /Say call: "hello" OK\n/);
        }
        const rpc = (s: Span) => s.attributes["rpc.system"] === "grpc";
        await agent.waitForSpans(rpc, 8);
        await agent.stop();

        const byStart = (a: Span, b: Span) =>
          Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano));
        const of = (kind: string, pid: number) =>
          agent.spans.filter((s) => s.kind === kind && s.resource["process.pid"] === pid)
            .sort(byStart);
        const calls = of("CLIENT", client.pid);
        const served = of("SERVER", server.pid);
        const out = of("CLIENT", server.pid);
        const received = of("SERVER", backend.pid);
        assert.deepEqual([calls, served, out, received].map((l) => l.length), [2, 2, 2, 2]);
        served.forEach((call, i) => {
          assert.equal(call.parentSpanId, calls[i]!.spanId);
          assert.equal(call.traceId, calls[i]!.traceId);
          const made = out[i]!;
          assert.equal(made.name, "demo.Echo/Say");
          assert.equal(made.parentSpanId, call.spanId, "the handler's call is its call's child");
          assert.equal(made.traceId, call.traceId);
          assert.equal(made.attributes["upspan.parent.method"], "goroutine");
          assert.equal(received[i]!.parentSpanId, made.spanId);
          assert.equal(received[i]!.traceId, call.traceId);
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
}

Deno.test("grpc-go's table offsets are its DWARF's, and stripped builds get the handler and client probes", async () => {
  const dwarf = await locateGo({ path: await buildGrpcFixture("go1.26.8") });
  assert.ok(dwarf.ok && dwarf.location.offsetsSource === "dwarf");
  const version = dwarf.location.grpc!;
  const table = GRPC_OFFSETS[version];
  assert.ok(table, `grpc-go ${version} (the fixture's) is in the table`);
  for (const [field, offset] of Object.entries(table)) {
    assert.equal(dwarf.location.offsets[field as keyof typeof table], offset, field);
  }
  for (const toolchain of ["go1.25.14", "go1.26.8"]) {
    const stripped = await locateGo({
      path: await buildGrpcFixture(toolchain, { stripped: true }),
    });
    assert.ok(stripped.ok && stripped.location.offsetsSource === "table");
    const site = stripped.location.sites.find((s) => s.program === "go_grpc_handler");
    assert.ok(site, `${toolchain}: handleStream is probed`);
    assert.equal(site.at, "entry");
    const client = stripped.location.sites.filter((s) => s.group === "grpc.client");
    assert.deepEqual(
      [...new Set(client.map((s) => `${s.program} ${s.at}`))],
      ["go_grpc_call_entry entry", "go_grpc_call_ret return"],
      `${toolchain}: NewStream is probed at its entry and returns`,
    );
  }
});
