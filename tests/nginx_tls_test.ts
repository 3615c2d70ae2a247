// nginx over TLS (OpenSSL in its worker): what one connection teaches upspan about an SSL*
// ends with that connection, as nginx frees it and the next connection gets the same address.
import assert from "node:assert/strict";
import { curl, startAgent } from "./agent.ts";
import { makeCert } from "./targets/certs.ts";
import { startNginx } from "./targets/nginx.ts";

Deno.test("nginx with HTTP/2 and HTTP/1.1 on one TLS port: an HTTP/2 connection gets its spans and does not silence later HTTP/1.1 ones", async () => {
  const tls = await makeCert(await Deno.makeTempDir());
  await using nginx = await startNginx({ "index.html": "<h1>hi</h1>\n" }, { tls, http2: true });
  await using agent = await startAgent(nginx.pids.flatMap((p) => ["--pid", String(p)]));
  const base = `https://127.0.0.1:${nginx.port}`;
  // The HTTP/2 connection's two requests are spans of their own; the later HTTP/1.1
  // connections, which nginx may give the same SSL* address, are read afresh.
  await curl("--http2", `${base}/index.html`, `${base}/index.html?again`);
  for (let i = 0; i < 6; i++) await curl("--http1.1", `${base}/index.html?n=${i}`);
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 8);
  await new Promise((r) => setTimeout(r, 500)); // nothing more comes
  assert.deepEqual(
    agent.spans.filter((s) => s.kind === "SERVER")
      .map((s) => `${s.attributes["network.protocol.version"]} ${s.attributes["url.query"] ?? ""}`)
      .sort(),
    ["1.1 n=0", "1.1 n=1", "1.1 n=2", "1.1 n=3", "1.1 n=4", "1.1 n=5", "2 ", "2 again"],
    JSON.stringify(spans, null, 1),
  );
});
