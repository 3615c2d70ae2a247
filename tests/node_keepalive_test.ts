// Node's https.get through a keep-alive Agent: its first request is handed to SSL_write
// before the handshake has completed; those calls fail and are retried, so only what a
// write call returns as written is part of the conversation.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { startNodeServer, startServer } from "./targets/targets.ts";
import { startAgent } from "./agent.ts";

const CLIENT = new URL("./targets/https_keepalive_client.mjs", import.meta.url).pathname;
const COUNT = 5;

Deno.test("node https.get with a keep-alive Agent: one CLIENT span per GET, the server's parent", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startNodeServer({ cert, key });
  await using client = await startServer("node", [CLIENT, String(server.port), String(COUNT)]);
  await using agent = await startAgent(["--pid", String(server.pid), "--pid", String(client.pid)]);
  Deno.kill(client.pid, "SIGUSR2");
  await agent.waitForSpans((s) => s.kind === "SERVER", COUNT);
  await agent.waitForSpans((s) => s.kind === "CLIENT", COUNT);
  assert.equal(await agent.stop("SIGTERM"), 0);
  const paths = Array.from({ length: COUNT }, (_, i) => `/bytes/${i + 1}`);
  const clients = agent.spans.filter((s) => s.kind === "CLIENT");
  const servers = agent.spans.filter((s) => s.kind === "SERVER");
  assert.deepEqual(clients.map((s) => s.attributes["url.path"]).sort(), paths);
  assert.deepEqual(servers.map((s) => s.attributes["url.path"]).sort(), paths);
  for (const s of servers) {
    const parent = clients.find((c) => c.spanId === s.parentSpanId);
    assert.ok(parent, `the parent of ${s.attributes["url.path"]} is an emitted CLIENT span`);
    assert.equal(parent.attributes["url.path"], s.attributes["url.path"]);
    assert.equal(parent.traceId, s.traceId);
    assert.ok(BigInt(parent.startTimeUnixNano) <= BigInt(s.startTimeUnixNano));
    assert.ok(BigInt(s.endTimeUnixNano) <= BigInt(parent.endTimeUnixNano));
  }
});
