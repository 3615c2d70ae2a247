// A Node.js HTTPS server: OpenSSL is linked into the node executable, which exports SSL_read.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { startNodeServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";

Deno.test("node https server: SERVER spans from OpenSSL inside the node binary", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startNodeServer({ cert, key });
  await using agent = await startAgent(["--pid", String(server.pid)]);
  assert.match(agent.stderr(), new RegExp(`pid ${server.pid} \\(node\\): OpenSSL in /\\S*node`));
  const base = `https://127.0.0.1:${server.port}`;
  await curl(`${base}/hello`, `${base}/status/404`, `${base}/bytes/1000`);
  await agent.waitForSpans((s) => s.kind === "SERVER", 3);
  assert.equal(await agent.stop("SIGTERM"), 0);
  const spans = agent.spans;
  assert.deepEqual(
    spans.map((s) => [s.attributes["url.path"], s.attributes["http.response.status_code"]]),
    [["/hello", 200], ["/status/404", 404], ["/bytes/1000", 200]],
  );
  assert.equal(spans[0]!.attributes["http.response.body.size"], 6);
  assert.equal(spans[2]!.attributes["http.response.body.size"], 1000);
  for (const s of spans) {
    assert.equal(s.resource["process.pid"], server.pid);
    // Node reads and writes OpenSSL through memory buffers; the socket comes from the
    // write that sends the encrypted bytes out right after SSL_write.
    assert.equal(s.attributes["client.address"], "127.0.0.1");
    assert.equal(s.attributes["server.port"], server.port);
  }
});
