// Go's net/http over HTTP/2 (TLS, ALPN h2) under its own probes: the bundled HTTP/2
// server's handlers run through serverHandler.ServeHTTP with a *http2responseWriter, and
// the client's h2 round trips return through (*Transport).roundTrip. Statuses, protocol
// version and one span per request, read by curl --http2 on one connection.
import assert from "node:assert/strict";
import { curl, startAgent } from "./agent.ts";
import { buildGoServer, GO_MATRIX_TOOLCHAINS, startGoServer } from "./targets/go/build.ts";
import { makeCert } from "./targets/certs.ts";
import { startCaddy } from "./targets/caddy.ts";
import { buildGrpcFixture, startGrpcClient, startGrpcFixture } from "./targets/grpc_fixture.ts";

// CI runs a representative pair; UPSPAN_GO_MATRIX=full (`deno task go:matrix:h2`) every
// supported minor version's latest patch release (and go1.26.8), stripped and not.
const FULL = Deno.env.get("UPSPAN_GO_MATRIX") === "full";
const BUILDS = FULL
  ? ["go1.19.13", "go1.20.14", ...GO_MATRIX_TOOLCHAINS].flatMap((toolchain) =>
    [false, true].map((stripped) => ({ toolchain, stripped }))
  )
  : [
    { toolchain: "go1.22.12", stripped: true },
    { toolchain: "go1.26.8", stripped: false },
  ];

for (const { toolchain, stripped } of BUILDS) {
  Deno.test(`go ${toolchain}${stripped ? " stripped" : ""}: HTTP/2 server and client spans, statuses right`, async () => {
    const built = await buildGoServer(toolchain, { stripped });
    if (!built.ok) throw new Error(built.error);
    const dir = await Deno.makeTempDir({ prefix: "upspan-goh2-" });
    const tls = await makeCert(dir);
    const server = await startGoServer(built.path, { tls });
    try {
      await using agent = await startAgent(["--pid", String(server.pid)]);
      const base = `https://127.0.0.1:${server.port}`;
      const paths = ["/users/7", "/fail", "/missing", "/users/8"];
      // One curl, one connection: the four requests as streams 1, 3, 5, 7.
      const seen = (await curl(
        "--http2",
        "-w",
        "%{http_version} %{http_code}\\n",
        ...paths.flatMap((p) => ["-o", "/dev/null", base + p]),
      )).trim().split("\n");
      assert.deepEqual(seen, ["2 200", "2 500", "2 404", "2 200"], "what curl saw");

      const isServer = (s: { kind: string; attributes: Record<string, unknown> }) =>
        s.kind === "SERVER" && paths.includes(String(s.attributes["url.path"]));
      await agent.waitForSpans(isServer, paths.length);
      // Each /users/N calls the backend over HTTP/2: a client span and the backend's.
      await agent.waitForSpans(
        (s) => s.kind === "CLIENT" && s.attributes["url.full"] !== undefined,
        2,
      );
      await agent.waitForSpans(
        (s) => s.kind === "SERVER" && String(s.attributes["url.path"]).startsWith("/backend/"),
        2,
      );
      await new Promise((r) => setTimeout(r, 300)); // a second span would have come by now
      await agent.stop();

      const front = agent.spans.filter(isServer);
      const status = Object.fromEntries(
        front.map((s) => [s.attributes["url.path"], s.attributes["http.response.status_code"]]),
      );
      assert.equal(front.length, paths.length, "one span per request");
      assert.deepEqual(status, { "/users/7": 200, "/fail": 500, "/missing": 404, "/users/8": 200 });
      for (const s of front) {
        assert.equal(s.attributes["network.protocol.version"], "2");
        assert.equal(s.attributes["url.scheme"], "https");
      }
      assert.equal(front.find((s) => s.attributes["url.path"] === "/fail")!.status.code, "ERROR");

      const clients = agent.spans.filter((s) =>
        s.kind === "CLIENT" && s.attributes["url.full"] !== undefined
      );
      const backends = agent.spans.filter((s) =>
        s.kind === "SERVER" && String(s.attributes["url.path"]).startsWith("/backend/")
      );
      assert.equal(clients.length, 2, "one client span per backend call");
      assert.equal(backends.length, 2, "one backend span per call");
      for (const s of [...clients, ...backends]) {
        assert.equal(s.attributes["http.response.status_code"], 200);
        assert.equal(s.attributes["network.protocol.version"], "2");
      }
      const users = front.filter((s) => String(s.attributes["url.path"]).startsWith("/users/"));
      for (const c of clients) {
        assert.ok(users.some((u) => u.spanId === c.parentSpanId), "the handler's child");
      }
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("caddy from Debian (stripped Go) over HTTP/2: statuses right, one span per request", async () => {
  await using caddy = await startCaddy({ "index.html": "<h1>caddy</h1>\n" });
  await using agent = await startAgent(["--pid", String(caddy.pid)]);
  assert.match(agent.stderr(), /\(caddy\): Go go1\.\d+\.\d+, offsets from the table/);
  const base = `https://127.0.0.1:${caddy.port}`;
  const paths = ["/index.html", "/missing.html", "/index.html"];
  const seen = (await curl(
    "--http2",
    "-w",
    "%{http_version} %{http_code}\\n",
    ...paths.flatMap((p) => ["-o", "/dev/null", base + p]),
  )).trim().split("\n");
  assert.deepEqual(seen, ["2 200", "2 404", "2 200"], "what curl saw");
  await agent.waitForSpans((s) => s.kind === "SERVER", paths.length);
  await new Promise((r) => setTimeout(r, 300)); // a second span would have come by now
  await agent.stop();
  assert.deepEqual(
    agent.spans.map((s) => [
      s.kind,
      s.attributes["url.path"],
      s.attributes["http.response.status_code"],
      s.attributes["network.protocol.version"],
    ]),
    paths.map((p, i) => ["SERVER", p, i === 1 ? 404 : 200, "2"]),
  );
});

Deno.test("go net/http on x/net/http2's own server, behind ConfigureServer and h2c.NewHandler: its status from DWARF, none when stripped; the h2c preface is no request", async () => {
  const stripped = await buildGrpcFixture("go1.26.8", { stripped: true });
  const dwarf = await buildGrpcFixture("go1.26.8");
  const dir = await Deno.makeTempDir({ prefix: "upspan-goh2-" });
  try {
    const tls = await makeCert(dir);
    // x/net/http2's server behind http2.ConfigureServer: its requests start at x/net's
    // runHandler (the ServeHTTP they then pass through adds nothing) and end at its
    // writer's handlerDone, whose layout follows x/net's version: read from the binary's
    // DWARF, and with none, no status rather than a guess.
    await using xnet = await startGrpcFixture(dwarf, "xnet", tls);
    await using xnetStripped = await startGrpcFixture(stripped, "xnet", tls);
    // x/net's h2c: the preface arrives as an HTTP/1 "PRI * HTTP/2.0" request whose
    // handler takes the connection over; its requests never pass through ServeHTTP.
    await using h2c = await startGrpcFixture(stripped, "h2c");
    // x/net's http2.Transport used directly (with DWARF or not: the response's status is
    // net/http's, known either way).
    await using client = await startGrpcClient(stripped, h2c.port);
    const pids = [xnet.pid, xnetStripped.pid, h2c.pid, client.pid];
    await using agent = await startAgent(pids.flatMap((p) => ["--pid", String(p)]));
    const curl = async (...args: string[]) => {
      const out = await new Deno.Command("curl", {
        args: ["-s", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", ...args],
        stdout: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout);
    };
    for (const x of [xnet, xnetStripped]) {
      const base = `https://127.0.0.1:${x.port}`;
      assert.equal(await curl("--http2", "--cacert", tls.cert, `${base}/hello`), "2 200");
      assert.equal(await curl("--http2", "--cacert", tls.cert, `${base}/nope`), "2 404");
    }
    const hbase = `http://127.0.0.1:${h2c.port}`;
    assert.equal(await curl("--http2-prior-knowledge", `${hbase}/hello`), "2 200");
    assert.equal(await curl("--http1.1", `${hbase}/nope`), "1.1 404");
    // Upgrade: h2c: the HTTP/1 request x/net's h2c handler takes over is stream 1, one span.
    assert.equal(await curl("--http2", `${hbase}/nope?upgraded`), "2 404");
    await agent.waitForSpans((s) => s.attributes["url.path"] === "/nope", 4);
    assert.equal(await client.h2Get(`${hbase}/hello`), "200\ndone\n");
    assert.equal(await client.h2Get(`${hbase}/nope`), "404\ndone\n");
    await agent.waitForSpans((s) => s.kind === "CLIENT", 2);
    await new Promise((r) => setTimeout(r, 300)); // anything more would have come by now
    await agent.stop();
    const names = ["xnet", "xnet stripped", "h2c", "client"];
    const seen = agent.spans.map((s) => [
      names[pids.indexOf(Number(s.resource["process.pid"]))],
      s.attributes["http.request.method"],
      s.attributes["url.path"],
      s.attributes["http.response.status_code"],
      s.attributes["network.protocol.version"],
    ]);
    assert.deepEqual(seen, [
      ["xnet", "GET", "/hello", 200, "2"],
      ["xnet", "GET", "/nope", 404, "2"],
      ["xnet stripped", "GET", "/hello", undefined, "2"],
      ["xnet stripped", "GET", "/nope", undefined, "2"],
      ["h2c", "GET", "/hello", undefined, "2"], // no "PRI *" span
      ["h2c", "GET", "/nope", 404, "1.1"],
      ["h2c", "GET", "/nope", undefined, "2"], // the upgraded one; no hijacked HTTP/1 span
      ["h2c", "GET", "/hello", undefined, "2"],
      ["client", "GET", "/hello", 200, "2"],
      ["h2c", "GET", "/nope", undefined, "2"],
      ["client", "GET", "/nope", 404, "2"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
