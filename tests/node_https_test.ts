// A Node.js HTTPS server: OpenSSL is linked into the node executable, which exports SSL_read.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { startNodeServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";

Deno.test("node https server: SERVER spans from OpenSSL inside the node binary", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startNodeServer({ cert, key });
  await using agent = await startAgent(["--pid", String(server.pid)]);
  assert.match(agent.stderr(), /OpenSSL in \/usr\/bin\/node|OpenSSL in .*node/);
  const base = `https://127.0.0.1:${server.port}`;
  await curl(`${base}/hello`, `${base}/status/404`, `${base}/bytes/1000`);
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 3);
  assert.equal(spans.length, 3);
  assert.deepEqual(
    spans.map((
      s,
    ) => [
      s.name,
      s.attributes["http.response.status_code"],
      s.attributes["http.response.body.size"],
    ]),
    [["GET /hello", 200, 6], [
      "GET /status/404",
      404,
      spans[1]!.attributes["http.response.body.size"],
    ], [
      "GET /bytes/1000",
      200,
      1000,
    ]],
  );
  for (const s of spans) assert.equal(s.resource["process.pid"], server.pid);
});
