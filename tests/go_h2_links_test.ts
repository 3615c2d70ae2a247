// Same-host links over HTTP/2: the Go fixture serves HTTPS (h2 by ALPN) and its handlers
// call its own backend listener over HTTP/2 — concurrent requests multiplexed as streams
// on one connection. Each backend span is the child of the client span that sent its
// stream (never a neighbour's), in one trace, its parent found by "peer".
import assert from "node:assert/strict";
import { type JsonSpan, startAgent } from "./agent.ts";
import { buildGoServer, startGoServer } from "./targets/go/build.ts";
import { makeCert } from "./targets/certs.ts";

const METHOD = "upspan.parent.method";
const N = 24;

function one(spans: JsonSpan[], pred: (s: JsonSpan) => boolean, what: string): JsonSpan {
  const found = spans.filter(pred);
  assert.equal(found.length, 1, `${what}: ${JSON.stringify(found)}`);
  return found[0]!;
}

for (
  const { toolchain, stripped } of [
    { toolchain: "go1.22.12", stripped: true },
    { toolchain: "go1.26.8", stripped: false },
  ]
) {
  Deno.test(`go ${toolchain}${stripped ? " stripped" : ""}: HTTP/2 calls to itself, ${N} at once multiplexed: each backend span the child of its own client span`, async () => {
    const built = await buildGoServer(toolchain, { stripped });
    if (!built.ok) throw new Error(built.error);
    const dir = await Deno.makeTempDir({ prefix: "upspan-goh2link-" });
    const tls = await makeCert(dir);
    const server = await startGoServer(built.path, { tls });
    try {
      await using agent = await startAgent(["--pid", String(server.pid)]);
      const base = `https://127.0.0.1:${server.port}`;
      // One curl, one connection, all at once: the handlers run concurrently and their
      // backend calls share the Go client's HTTP/2 connection to the backend.
      const ids = Array.from({ length: N }, (_, i) => 100 + i);
      const out = await new Deno.Command("curl", {
        args: [
          "-s",
          "--http2",
          "--parallel",
          "--parallel-immediate",
          "--parallel-max",
          String(N),
          "--cacert",
          tls.cert,
          "-w",
          "%{http_version} %{http_code}\\n",
          ...ids.flatMap((id) => ["-o", "/dev/null", `${base}/users/${id}`]),
        ],
        stdout: "piped",
      }).output();
      const seen = new TextDecoder().decode(out.stdout).trim().split("\n");
      assert.deepEqual(seen, ids.map(() => "2 200"), "what curl saw");
      // The premise: the backend calls were multiplexed, far fewer connections than calls.
      const ss = await new Deno.Command("ss", {
        args: ["-Htn", "state", "established", `( sport = :${server.backendPort} )`],
        stdout: "piped",
      }).output();
      const conns = new TextDecoder().decode(ss.stdout).trim().split("\n").filter((l) => l);
      assert.ok(conns.length >= 1 && conns.length < N / 2, `backend connections: ${conns.length}`);

      const isBackend = (s: JsonSpan) =>
        s.kind === "SERVER" && String(s.attributes["url.path"]).startsWith("/backend/");
      await agent.waitForSpans(isBackend, N);
      await agent.waitForSpans(
        (s) => s.kind === "CLIENT" && s.attributes["url.full"] !== undefined,
        N,
      );
      await new Promise((r) => setTimeout(r, 300)); // anything late would have come by now
      await agent.stop();
      const all = agent.spans;

      for (const id of ids) {
        const users = one(all, (s) => s.attributes["url.path"] === `/users/${id}`, `/users/${id}`);
        const client = one(
          all,
          (s) =>
            s.kind === "CLIENT" && String(s.attributes["url.full"]).includes(`/backend/${id}?`),
          `client call to /backend/${id}`,
        );
        const backend = one(
          all,
          (s) => isBackend(s) && s.attributes["url.path"] === `/backend/${id}`,
          `/backend/${id}`,
        );
        assert.equal(client.attributes["network.protocol.version"], "2");
        assert.equal(backend.attributes["network.protocol.version"], "2");
        assert.equal(client.parentSpanId, users.spanId);
        assert.equal(backend.traceId, users.traceId, `/backend/${id}: one trace`);
        assert.equal(backend.parentSpanId, client.spanId, `/backend/${id}: its own client's child`);
        assert.equal(backend.attributes[METHOD], "peer");
      }
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
