// A Go server traced the way a user does it — `deno run -A mod.ts --pid N` — with its own
// probes: net/http and database/sql spans with parents, exactly one span per request (the
// socket capture leaves a Go process to its Go probes), a stripped build alike.
import assert from "node:assert/strict";
import { startAgent } from "./agent.ts";
import { buildGoServer, goTargetCacheDir, startGoServer } from "./targets/go/build.ts";
import { makeCert } from "./targets/certs.ts";
import { startPythonServer } from "./targets/targets.ts";
import { startCaddy } from "./targets/caddy.ts";

for (const stripped of [false, true]) {
  Deno.test(`go via the agent${stripped ? ", stripped" : ""}: one span per request, parents`, async () => {
    const built = await buildGoServer("go1.26.8", { stripped });
    if (!built.ok) throw new Error(built.error);
    const server = await startGoServer(built.path);
    try {
      await using agent = await startAgent(["--pid", String(server.pid)]);
      assert.match(agent.stderr(), /Go go1\.26\.8, offsets from (its DWARF|the table)/);
      assert.match(agent.stderr(), stripped ? /from the table/ : /from its DWARF/);
      const base = `http://127.0.0.1:${server.port}`;
      for (let i = 0; i < 5; i++) await (await fetch(`${base}/backend/${i}`)).arrayBuffer();
      const res = await fetch(`${base}/users/7?x=1`);
      await res.arrayBuffer();
      assert.equal(res.status, 200);

      const [users] = await agent.waitForSpans((s) => s.attributes["url.path"] === "/users/7", 1);
      await agent.waitForSpans((s) => s.parentSpanId === users!.spanId, 3);
      await new Promise((r) => setTimeout(r, 300)); // anything extra would have come by now
      await agent.stop();
      const backend = agent.spans.filter((s) =>
        s.kind === "SERVER" && String(s.attributes["url.path"]).startsWith("/backend/")
      );
      // 5 direct requests and 1 made by /users: each once, none twice from the sockets.
      assert.equal(backend.length, 6, JSON.stringify(backend.map((s) => s.attributes["url.path"])));
      assert.equal(users!.name, "GET /users/{id}");
      assert.equal(users!.attributes["http.route"], "/users/{id}");
      assert.equal(users!.attributes["http.response.status_code"], 200);
      const children = agent.spans.filter((s) => s.parentSpanId === users!.spanId);
      assert.deepEqual(children.map((s) => s.kind).sort(), ["CLIENT", "CLIENT", "CLIENT"]);
      assert.ok(children.some((s) => s.attributes["db.query.text"] !== undefined), "SQL child");
      assert.ok(children.some((s) => s.attributes["url.full"] !== undefined), "HTTP child");
      for (const s of agent.spans) assert.equal(s.resource["process.pid"], server.pid);
      assert.match(agent.stderr(), /stopped: .* [1-9]\d* Go and SQL library/);
    } finally {
      await server.stop();
    }
  });
}

Deno.test("caddy from Debian (a stripped Go binary nobody here built) serving HTTPS: server spans", async () => {
  await using caddy = await startCaddy({ "index.html": "<h1>caddy</h1>\n" });
  await using agent = await startAgent(["--pid", String(caddy.pid)]);
  assert.match(agent.stderr(), /\(caddy\): Go go1\.\d+\.\d+, offsets from the table/);
  const base = `https://127.0.0.1:${caddy.port}`;
  for (const path of ["/index.html", "/missing.html"]) {
    await new Deno.Command("curl", {
      args: ["-s", "-o", "/dev/null", "--http1.1", "--cacert", caddy.cert, base + path],
    }).output();
  }
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 2);
  const byPath = new Map(spans.map((s) => [s.attributes["url.path"], s]));
  assert.equal(byPath.get("/index.html")?.attributes["http.response.status_code"], 200);
  assert.equal(byPath.get("/index.html")?.attributes["url.scheme"], "https");
  assert.equal(byPath.get("/missing.html")?.attributes["http.response.status_code"], 404);
  for (const s of spans) assert.equal(s.resource["process.pid"], caddy.pid);
  assert.match(agent.stderr(), /\(caddy\): Go's crypto\/tls in \/usr\/bin\/caddy/);
  await new Promise((r) => setTimeout(r, 300)); // a second span would have come by now
  await agent.stop();
  assert.equal(
    agent.spans.filter((s) => s.kind === "SERVER").length,
    2,
    "net/http's probes and the TLS plaintext: one span per request",
  );
});

Deno.test("Go's crypto/tls without net/http: the plaintext makes client spans", async () => {
  const exe = await buildTlsClient();
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  const client = new Deno.Command(exe, {
    args: [`127.0.0.1:${server.port}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = client.stdin.getWriter();
  try {
    await using agent = await startAgent(["--pid", String(client.pid)]);
    assert.match(agent.stderr(), /Go's crypto\/tls in /);
    await writer.write(new TextEncoder().encode("/status/201?go=tls\n/hello?go=again\n"));
    const spans = await agent.waitForSpans((s) => s.kind === "CLIENT", 2);
    assert.equal(
      spans[0]!.attributes["url.full"],
      `https://127.0.0.1:${server.port}/status/201?go=tls`,
    );
    assert.equal(spans[0]!.attributes["http.response.status_code"], 201);
    assert.equal(spans[1]!.attributes["url.query"], "go=again");
    for (const s of spans) assert.equal(s.resource["process.pid"], client.pid);
  } finally {
    await writer.close().catch(() => {});
    await client.status;
    await client.stdout.cancel().catch(() => {});
  }
});

/** Builds tests/targets/go/tlsclient with the local Go, cached beside the other fixtures. */
async function buildTlsClient(): Promise<string> {
  const src = new URL("./targets/go/tlsclient/", import.meta.url).pathname;
  const dir = `${goTargetCacheDir()}/tlsclient`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile(`${src}main.go`, `${dir}/main.go`);
  await Deno.writeTextFile(`${dir}/go.mod`, "module example.com/tlsclient\n\ngo 1.21\n");
  const out = await new Deno.Command("go", {
    args: ["build", "-o", "tlsclient", "."],
    cwd: dir,
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return `${dir}/tlsclient`;
}

for (const toolchain of ["go1.22.12", "go1.26.8"]) {
  Deno.test(`go ${toolchain}: an incoming traceparent continues the caller's trace, children too`, async () => {
    const built = await buildGoServer(toolchain, { stripped: true });
    if (!built.ok) throw new Error(built.error);
    const server = await startGoServer(built.path);
    try {
      await using agent = await startAgent(["--pid", String(server.pid)]);
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const parent = "00f067aa0ba902b7";
      const res = await fetch(`http://127.0.0.1:${server.port}/users/3`, {
        headers: { traceparent: `00-${traceId}-${parent}-01`, "x-other": "1" },
      });
      await res.arrayBuffer();
      const [users] = await agent.waitForSpans((s) => s.attributes["url.path"] === "/users/3", 1);
      assert.equal(users!.traceId, traceId, "the caller's trace");
      assert.equal(users!.parentSpanId, parent, "the caller's span is its parent");
      const children = await agent.waitForSpans((s) => s.parentSpanId === users!.spanId, 3);
      for (const c of children) assert.equal(c.traceId, traceId);
      // Among many headers (a larger map: more buckets, or a swiss table of several groups).
      const many: Record<string, string> = { traceparent: `00-${traceId}-${"1".repeat(16)}-01` };
      for (let i = 0; i < 14; i++) many[`x-extra-${i}`] = String(i);
      await (await fetch(`http://127.0.0.1:${server.port}/backend/5`, { headers: many }))
        .arrayBuffer();
      const [busy] = await agent.waitForSpans((s) => s.attributes["url.path"] === "/backend/5", 1);
      assert.equal(busy!.traceId, traceId, "found among 17 headers");
      assert.equal(busy!.parentSpanId, "1".repeat(16));
      // Without the header: a trace of its own.
      await (await fetch(`http://127.0.0.1:${server.port}/backend/9`)).arrayBuffer();
      const [own] = await agent.waitForSpans((s) => s.attributes["url.path"] === "/backend/9", 1);
      assert.notEqual(own!.traceId, traceId);
    } finally {
      await server.stop();
    }
  });
}
