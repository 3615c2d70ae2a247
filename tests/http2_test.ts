// HTTP/2 from real processes under real probes: Debian's nginx with `http2` on TLS (its
// OpenSSL plaintext) and on a plain socket (prior-knowledge h2c, its socket syscalls),
// clients curl and nghttp multiplexing several requests on one connection; curl's
// `Upgrade: h2c` (HTTP/1 handing its connection to HTTP/2) against Go's x/net h2c.
import assert from "node:assert/strict";
import { curl, type JsonSpan, startAgent } from "./agent.ts";
import { startNginx } from "./targets/nginx.ts";
import { makeCert } from "./targets/certs.ts";
import { startNodeServer } from "./targets/targets.ts";
import { buildGrpcFixture, startGrpcFixture } from "./targets/grpc_fixture.ts";

const SITE = { "index.html": "<h1>hi</h1>\n", "big.bin": 300_000 };

function rows(spans: JsonSpan[]) {
  return spans
    .map((s) => [
      s.name,
      s.kind,
      `${s.attributes["url.path"]}${
        s.attributes["url.query"] ? "?" + s.attributes["url.query"] : ""
      }`,
      s.attributes["http.response.status_code"],
      s.attributes["http.response.body.size"],
      s.attributes["network.protocol.version"],
      s.status.code,
    ])
    .sort((a, b) => String(a[2]).localeCompare(String(b[2])));
}

Deno.test("HTTP/2: nginx with http2 on TLS, curl --http2 with four requests on one connection", async () => {
  const dir = await Deno.makeTempDir();
  const certs = await makeCert(dir);
  await using nginx = await startNginx(SITE, { tls: certs, http2: true });
  // Warmed up as users run it (HTTP/2 exchanges too): none of its spans may reach the output.
  await using agent = await startAgent(nginx.pids.flatMap((p) => ["--pid", String(p)]), {
    env: { UPSPAN_WARM_UP: "1" },
  });
  const base = `https://127.0.0.1:${nginx.port}`;
  const out = await curl(
    "--http2",
    "-w",
    "%{http_version} %{response_code} %{num_connects}\\n",
    "-H",
    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ...["/index.html", "/big.bin", "/nope", "/index.html?again=1"].flatMap((p) => [
      "-o",
      "/dev/null",
      base + p,
    ]),
  );
  // curl says HTTP/2 for each, and that it opened one connection only.
  assert.deepEqual(out.trim().split("\n"), ["2 200 1", "2 200 0", "2 404 0", "2 200 0"]);
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 4);
  await new Promise((r) => setTimeout(r, 500)); // nothing more may come
  assert.equal(agent.spans.length, 4, JSON.stringify(agent.spans, null, 1));
  assert.deepEqual(rows(spans), [
    ["GET", "SERVER", "/big.bin", 200, 300_000, "2", "UNSET"],
    ["GET", "SERVER", "/index.html", 200, 12, "2", "UNSET"],
    ["GET", "SERVER", "/index.html?again=1", 200, 12, "2", "UNSET"],
    ["GET", "SERVER", "/nope", 404, 153, "2", "UNSET"],
  ]);
  const ports = new Set(spans.map((s) => s.attributes["client.port"]));
  assert.equal(ports.size, 1, "one connection");
  for (const s of spans) {
    assert.equal(s.attributes["url.scheme"], "https");
    assert.equal(s.attributes["server.port"], nginx.port);
    assert.equal(s.resource["process.pid"], nginx.workerPid);
    assert.equal(s.traceId, "0af7651916cd43dd8448eb211c80319c", "traceparent continued");
    assert.equal(s.parentSpanId, "b7ad6b7169203331");
    assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("HTTP/2: nginx h2c on a plain socket, nghttp multiplexing four requests", async () => {
  await using nginx = await startNginx(SITE, { http2: true });
  await using agent = await startAgent(nginx.pids.flatMap((p) => ["--pid", String(p)]));
  const base = `http://127.0.0.1:${nginx.port}`;
  const nghttp = await new Deno.Command("nghttp", {
    args: [
      "-n",
      "-s",
      `${base}/index.html`,
      `${base}/big.bin`,
      `${base}/nope`,
      `${base}/index.html?b=2`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(nghttp.success, new TextDecoder().decode(nghttp.stderr));
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 4);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(agent.spans.length, 4, JSON.stringify(agent.spans, null, 1));
  assert.deepEqual(rows(spans), [
    ["GET", "SERVER", "/big.bin", 200, 300_000, "2", "UNSET"],
    ["GET", "SERVER", "/index.html", 200, 12, "2", "UNSET"],
    ["GET", "SERVER", "/index.html?b=2", 200, 12, "2", "UNSET"],
    ["GET", "SERVER", "/nope", 404, 153, "2", "UNSET"],
  ]);
  for (const s of spans) assert.equal(s.attributes["url.scheme"], "http");
});

/**
 * A traced Node.js http2 server (node's own OpenSSL, or h2c on its socket) and a traced curl
 * on one HTTP/2 connection. curl starts first (the agent needs its pid), so both ends are
 * joined mid-way: HPACK entries made before are unknown, and what comes out must be right.
 */
async function nodeAndCurl(tls: boolean) {
  const dir = await Deno.makeTempDir();
  const certs = tls ? await makeCert(dir) : {};
  await using server = await startNodeServer({ ...certs, http2: true });
  const base = `${tls ? "https" : "http"}://127.0.0.1:${server.port}`;
  const urls = Array.from({ length: 48 }, (_, i) => `${base}/status/${i % 2 ? 404 : 200}?n=${i}`);
  const client = new Deno.Command("curl", {
    args: [
      "-sk",
      tls ? "--http2" : "--http2-prior-knowledge",
      "--rate",
      "6/s",
      "-o",
      "/dev/null",
      ...urls,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await using agent = await startAgent([
      "--pid",
      String(client.pid),
      "--pid",
      String(server.pid),
    ]);
    await agent.waitForSpans((s) => s.kind === "CLIENT", 4);
    await client.status;
    await agent.waitForSpans((s) => s.kind === "SERVER", 4);
    await agent.stop();
    const clients = agent.spans.filter((s) => s.kind === "CLIENT");
    const servers = agent.spans.filter((s) => s.kind === "SERVER");
    for (const s of [...clients, ...servers]) {
      const n = Number(String(s.attributes["url.query"]).slice(2));
      const status = n % 2 ? 404 : 200;
      assert.equal(s.attributes["url.path"], `/status/${status}`);
      assert.equal(s.attributes["http.response.status_code"], status);
      assert.equal(s.attributes["network.protocol.version"], "2");
      assert.equal(s.attributes["url.scheme"], tls ? "https" : "http");
      assert.equal(s.status.code, s.kind === "CLIENT" && status === 404 ? "ERROR" : "UNSET");
      assert.equal(s.resource["process.pid"], s.kind === "CLIENT" ? client.pid : server.pid);
    }
    // One span per request each side saw, never two.
    for (const side of [clients, servers]) {
      const ns = side.map((s) => s.attributes["url.query"]);
      assert.equal(new Set(ns).size, ns.length, JSON.stringify(ns));
    }
    const callers = new Map(clients.map((c) => [c.attributes["url.query"], c]));
    let linked = 0;
    for (const s of servers) {
      const caller = callers.get(s.attributes["url.query"]);
      if (caller === undefined) continue;
      assert.equal(s.traceId, caller.traceId);
      assert.equal(s.parentSpanId, caller.spanId);
      linked++;
    }
    assert.ok(linked >= 4, `server spans linked to their callers: ${linked}`);
  } finally {
    await client.status;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("HTTP/2: Node.js http2 over TLS and curl --http2, both traced, joined mid-way, linked", async () => {
  await nodeAndCurl(true);
});

Deno.test("HTTP/2: Node.js h2c on a plain socket, nghttp multiplexing six requests a connection", async () => {
  // (curl 7.88 sends only the first of several prior-knowledge URLs: nghttp is the client.)
  // Node answers all the streams it has in one writev.
  await using server = await startNodeServer({ http2: true });
  await using agent = await startAgent(["--pid", String(server.pid)]);
  const base = `http://127.0.0.1:${server.port}`;
  const urls = Array.from({ length: 12 }, (_, i) => `${base}/status/${i % 2 ? 404 : 200}?n=${i}`);
  for (let i = 0; i < urls.length; i += 6) {
    const out = await new Deno.Command("nghttp", {
      args: ["-n", ...urls.slice(i, i + 6)],
      stderr: "piped",
    })
      .output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  }
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 12);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(agent.spans.length, 12);
  for (const s of spans) {
    const n = Number(String(s.attributes["url.query"]).slice(2));
    assert.equal(s.attributes["http.response.status_code"], n % 2 ? 404 : 200);
    assert.equal(
      s.attributes["user_agent.original"],
      "nghttp2/1.52.0",
      "dynamic-table fields known",
    );
    assert.equal(s.attributes["server.port"], server.port);
  }
  assert.deepEqual(
    spans.map((s) => s.attributes["url.query"]).sort(),
    urls.map((_, i) => `n=${i}`).sort(),
  );
});

Deno.test("HTTP/2: curl --http2 on http:// upgrades to h2c (Go's x/net h2c), traced curl: stream 1 and the next, no 101", async () => {
  // Go's server makes its spans from its own probes; the traced side here is curl, whose
  // plain socket carries the upgrade. curl reads its URLs from stdin (`-K -`) and so opens
  // the connection only once the agent is attached: the upgrade request is seen.
  const binary = await buildGrpcFixture("go1.26.8", { stripped: true });
  await using server = await startGrpcFixture(binary, "h2c");
  const base = `http://127.0.0.1:${server.port}`;
  const client = new Deno.Command("curl", {
    args: ["-s", "--http2", "-K", "-", "-w", "%{http_version} %{http_code}\\n"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  await using agent = await startAgent(["--pid", String(client.pid)]);
  const config = ["hello", "nope"].map((p) => `url = "${base}/${p}"\noutput = /dev/null\n`);
  const w = client.stdin.getWriter();
  await w.write(new TextEncoder().encode(config.join("")));
  await w.close();
  const out = await client.output();
  assert.equal(new TextDecoder().decode(out.stdout), "2 200\n2 404\n", "curl upgraded");
  await agent.waitForSpans((s) => s.attributes["url.path"] === "/nope", 1);
  await agent.stop();
  assert.deepEqual(
    agent.spans.map((s) => [
      s.name,
      s.kind,
      s.attributes["url.path"],
      s.attributes["http.response.status_code"],
      s.attributes["http.response.body.size"],
      s.attributes["network.protocol.version"],
      s.attributes["server.port"],
    ]),
    [
      ["GET", "CLIENT", "/hello", 200, 20, "2", server.port],
      ["GET", "CLIENT", "/nope", 404, 19, "2", server.port],
    ],
  );
});
