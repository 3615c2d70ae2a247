// Nothing changed: what a traced target sends is byte for byte what it sends untraced —
// status lines, headers (but Date) and bodies, a 1 MB body included.
import assert from "node:assert/strict";
import { startAgent } from "./agent.ts";
import { startPythonServer } from "./targets/targets.ts";
import { startNginx } from "./targets/nginx.ts";

/** sha256 of each response (headers without Date, then body) for `paths`. */
async function fetchAll(port: number, paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    const r = await new Deno.Command("curl", {
      args: ["-s", "-i", `http://127.0.0.1:${port}${path}`],
    }).output();
    assert.ok(r.success);
    const text = new TextDecoder("latin1").decode(r.stdout).replace(/^Date: .*\r\n/im, "");
    const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    out.push(
      `${path} ${r.stdout.length} ${
        [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("")
      }`,
    );
  }
  return out;
}

Deno.test("identical output: python http.server, traced and untraced", async () => {
  await using server = await startPythonServer({});
  const paths = ["/hello", "/status/404", "/status/204", "/bytes/1000000", "/bytes/1"];
  const untraced = await fetchAll(server.port, paths);
  await using agent = await startAgent(["--pid", String(server.pid)]);
  const traced = await fetchAll(server.port, paths);
  await agent.waitForSpans((s) => s.kind === "SERVER", paths.length);
  assert.deepEqual(traced, untraced);
});

Deno.test("identical output: nginx (sendfile), traced and untraced", async () => {
  await using nginx = await startNginx({ "index.html": "<h1>hi</h1>\n", "big.bin": 1_000_000 });
  const paths = ["/index.html", "/big.bin", "/nope"];
  const untraced = await fetchAll(nginx.port, paths);
  await using agent = await startAgent(nginx.pids.flatMap((p) => ["--pid", String(p)]));
  const traced = await fetchAll(nginx.port, paths);
  await agent.waitForSpans((s) => s.kind === "SERVER", paths.length);
  assert.deepEqual(traced, untraced);
});
