// Same-host links over HTTP/2. The Go fixture serves HTTPS (h2 by ALPN) and its handlers
// call its own backend listener over HTTP/2 — concurrent requests multiplexed as streams on
// one connection: each backend span is the child of the client span that sent its stream
// (never a neighbour's), in one trace, its parent found by "peer". Also POSTs (net/http
// copies such a request before it is sent) to its backend and to a Node.js http2 server, and
// a traced curl --http2 calling a Go HTTP/2 server.
import assert from "node:assert/strict";
import { type JsonSpan, startAgent } from "./agent.ts";
import { buildGoServer, GO_MATRIX_TOOLCHAINS, startGoServer } from "./targets/go/build.ts";
import { makeCert } from "./targets/certs.ts";
import { startNodeServer } from "./targets/targets.ts";

const METHOD = "upspan.parent.method";
const N = 24;

function one(spans: JsonSpan[], pred: (s: JsonSpan) => boolean, what: string): JsonSpan {
  const found = spans.filter(pred);
  assert.equal(found.length, 1, `${what}: ${JSON.stringify(found)}`);
  return found[0]!;
}

// CI runs a representative pair; UPSPAN_GO_MATRIX=full (`deno task go:matrix:h2`) every
// supported minor version's latest patch release (and go1.26.8), stripped and not.
const BUILDS = Deno.env.get("UPSPAN_GO_MATRIX") === "full"
  ? ["go1.19.13", "go1.20.14", ...GO_MATRIX_TOOLCHAINS].flatMap((toolchain) =>
    [false, true].map((stripped) => ({ toolchain, stripped }))
  )
  : [
    { toolchain: "go1.22.12", stripped: true },
    { toolchain: "go1.26.8", stripped: false },
  ];

for (const { toolchain, stripped } of BUILDS) {
  Deno.test(`go ${toolchain}${stripped ? " stripped" : ""}: HTTP/2 calls to itself, ${N} at once multiplexed: each backend span the child of its own client span`, async () => {
    const built = await buildGoServer(toolchain, { stripped });
    if (!built.ok) throw new Error(built.error);
    const dir = await Deno.makeTempDir({ prefix: "upspan-goh2link-" });
    const tls = await makeCert(dir);
    const server = await startGoServer(built.path, { tls });
    try {
      await using agent = await startAgent(["--pid", String(server.pid)]);
      const base = `https://127.0.0.1:${server.port}`;
      // One request first, so the Go client holds an HTTP/2 connection to its backend: a
      // burst on a cold client races its dials (12 connections for 24 calls, seen on a busy
      // machine) instead of multiplexing.
      const warm = await new Deno.Command("curl", {
        args: ["-s", "--http2", "--cacert", tls.cert, "-o", "/dev/null", `${base}/users/99`],
      }).output();
      assert.ok(warm.success, "warm-up request");
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

Deno.test("go HTTP/2 client: POSTs (a request net/http copies to rewind its body) to its own backend and to a Node.js http2 server, each server span the child of its client span", async () => {
  const built = await buildGoServer("go1.26.8", {});
  if (!built.ok) throw new Error(built.error);
  const dir = await Deno.makeTempDir({ prefix: "upspan-goh2link-" });
  const tls = await makeCert(dir);
  const go = await startGoServer(built.path, { tls });
  await using node = await startNodeServer({ ...tls, http2: true });
  try {
    await using agent = await startAgent(["--pid", String(go.pid), "--pid", String(node.pid)]);
    // The backend serves GET only: its 405 is a served request all the same.
    const targets: [string, string][] = [
      [`https://127.0.0.1:${go.backendPort}/backend/post`, "405 "],
      [`https://127.0.0.1:${node.port}/echo`, "200 "],
    ];
    for (const [url, status] of targets) {
      const out = await new Deno.Command("curl", {
        args: [
          "-s",
          "--http2",
          "--cacert",
          tls.cert,
          `https://127.0.0.1:${go.port}/call?n=3&post=1&url=${encodeURIComponent(url)}`,
        ],
        stdout: "piped",
      }).output();
      const body = new TextDecoder().decode(out.stdout);
      assert.equal(body.split("\n").filter((l) => l.startsWith(status)).length, 3, body);
    }
    const isInner = (s: JsonSpan) =>
      s.kind === "SERVER" && ["/backend/post", "/echo"].includes(String(s.attributes["url.path"]));
    await agent.waitForSpans(isInner, 6);
    await agent.waitForSpans(
      (s) => s.kind === "CLIENT" && s.attributes["url.full"] !== undefined,
      6,
    );
    await new Promise((r) => setTimeout(r, 300)); // anything late would have come by now
    await agent.stop();
    const all = agent.spans;
    const clients = all.filter((s) =>
      s.kind === "CLIENT" && s.resource["process.pid"] === go.pid &&
      s.attributes["url.full"] !== undefined
    );
    assert.equal(clients.length, 6, "one client span per call");
    for (const path of ["/backend/post", "/echo"]) {
      const inner = all.filter((s) => isInner(s) && s.attributes["url.path"] === path);
      assert.equal(inner.length, 3, `${path}: one server span per call`);
      for (const s of inner) {
        const parent = clients.find((c) => c.spanId === s.parentSpanId);
        assert.ok(parent !== undefined, `${path}: parent is a Go client span`);
        assert.equal(s.traceId, parent.traceId);
        assert.equal(s.attributes["network.protocol.version"], "2");
        assert.equal(s.attributes[METHOD], "peer");
        assert.ok(String(parent.attributes["url.full"]).endsWith(path));
      }
      assert.equal(new Set(inner.map((s) => s.parentSpanId)).size, 3, `${path}: three parents`);
    }
  } finally {
    await go.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("go HTTP/2 server called by a traced curl --http2 (OpenSSL): each Go server span the child of curl's client span", async () => {
  const built = await buildGoServer("go1.26.8", { stripped: true });
  if (!built.ok) throw new Error(built.error);
  const dir = await Deno.makeTempDir({ prefix: "upspan-goh2link-" });
  const tls = await makeCert(dir);
  const go = await startGoServer(built.path, { tls });
  // curl starts first (the agent needs its pid), paced (12 s) so many requests come after
  // both are attached even on a loaded machine: curl's spans start once its OpenSSL probes
  // are in, which can be seconds before the last of the Go server's 40-odd probes is.
  const urls = Array.from(
    { length: 60 },
    (_, i) => `https://127.0.0.1:${go.backendPort}/backend/${200 + i}`,
  );
  const curl = new Deno.Command("curl", {
    args: ["-s", "--http2", "--cacert", tls.cert, "--rate", "5/s", "-o", "/dev/null", ...urls],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await using agent = await startAgent(["--pid", String(curl.pid), "--pid", String(go.pid)]);
    assert.equal((await curl.status).code, 0);
    await agent.waitForSpans((s) => s.kind === "SERVER", 4);
    await new Promise((r) => setTimeout(r, 300)); // anything late would have come by now
    await agent.stop();
    const clients = new Map(
      agent.spans.filter((s) => s.kind === "CLIENT" && s.resource["process.pid"] === curl.pid)
        .map((s) => [s.attributes["url.path"], s]),
    );
    // In start order. Until one is linked, the connection may have gone quiet (no traced
    // client when its first requests came: curl's probes not in yet), its links then sent
    // once a second; from the first linked on, every one is.
    const servers = agent.spans.filter((s) => s.kind === "SERVER")
      .sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
    let linked = 0;
    for (const s of servers) {
      assert.equal(s.resource["process.pid"], go.pid);
      assert.equal(s.attributes["network.protocol.version"], "2");
      const caller = clients.get(s.attributes["url.path"]);
      if (caller === undefined) continue; // sent before the agent saw curl
      if (linked === 0 && s.parentSpanId !== caller.spanId) continue; // not linked yet
      assert.equal(s.traceId, caller.traceId, `${s.attributes["url.path"]}: one trace`);
      assert.equal(s.parentSpanId, caller.spanId);
      assert.equal(s.attributes[METHOD], "peer");
      linked++;
    }
    assert.ok(linked >= 4, `Go server spans linked to curl's: ${linked}`);
  } finally {
    await curl.status;
    await go.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
