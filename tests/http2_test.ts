// HTTP/2 from real processes under real probes: Debian's nginx with `http2` on TLS (its
// OpenSSL plaintext) and on a plain socket (prior-knowledge h2c, its socket syscalls),
// clients curl and nghttp multiplexing several requests on one connection.
import assert from "node:assert/strict";
import { curl, type JsonSpan, startAgent } from "./agent.ts";
import { startNginx } from "./targets/nginx.ts";
import { makeCert } from "./targets/certs.ts";

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
  await using agent = await startAgent(nginx.pids.flatMap((p) => ["--pid", String(p)]));
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
