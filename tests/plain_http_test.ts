// Plain HTTP, no TLS: servers in Python, Node.js and nginx, and curl as a client, traced
// from the read and write syscalls of their sockets.
import assert from "node:assert/strict";
import { curl, type JsonSpan, runAgent, startAgent } from "./agent.ts";
import { startNodeServer, startPythonServer, type TargetServer } from "./targets/targets.ts";
import { startNginx } from "./targets/nginx.ts";

/** Requests every server target answers the same way, and the spans they must give. */
async function exerciseServer(
  server: TargetServer,
  env: Record<string, string> = {},
): Promise<void> {
  const base = `http://127.0.0.1:${server.port}`;
  await using agent = await startAgent(["--pid", String(server.pid)], { env });
  // One curl, one keep-alive connection: four exchanges on it, one with a 1 MB body.
  await curl(`${base}/hello`, `${base}/status/404?x=1`, `${base}/bytes/1000000`, "-o", "/dev/null");
  await curl("-X", "POST", "--data-binary", "ping-pong", `${base}/echo`);
  // Two requests in one write (pipelining) on a raw connection.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const req = (path: string) => `GET ${path} HTTP/1.1\r\nHost: pipelined\r\n\r\n`;
  await conn.write(new TextEncoder().encode(req("/status/201") + req("/status/202")));
  await readUntil(conn, (text) => text.includes("status 202\n"));
  conn.close();

  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 6);
  assert.equal(spans.length, 6, JSON.stringify(spans, null, 1));
  const byPath = new Map(spans.map((s) => [s.attributes["url.path"], s]));
  const hello = byPath.get("/hello")!;
  assert.equal(hello.name, "GET");
  assert.equal(hello.attributes["url.scheme"], "http");
  assert.equal(hello.attributes["http.response.status_code"], 200);
  assert.equal(hello.attributes["http.response.body.size"], 6);
  assert.equal(hello.attributes["server.port"], server.port);
  assert.equal(hello.attributes["client.address"], "127.0.0.1");
  assert.equal(hello.resource["process.pid"], server.pid);
  const missing = byPath.get("/status/404")!;
  assert.equal(missing.attributes["url.query"], "x=1");
  assert.equal(missing.attributes["http.response.status_code"], 404);
  assert.equal(missing.attributes["client.port"], hello.attributes["client.port"], "keep-alive");
  assert.equal(byPath.get("/bytes/1000000")!.attributes["http.response.body.size"], 1_000_000);
  const echo = byPath.get("/echo")!;
  assert.equal(echo.name, "POST");
  assert.equal(echo.attributes["http.request.body.size"], 9);
  assert.equal(echo.attributes["http.response.body.size"], 9);
  assert.equal(byPath.get("/status/201")!.attributes["http.response.status_code"], 201);
  assert.equal(byPath.get("/status/202")!.attributes["http.response.status_code"], 202);
  for (const s of spans) assert.equal(s.parentSpanId, "", "no incoming traceparent: roots");
  await agent.stop();
  assert.match(agent.stderr(), /tracing its plain sockets only|OpenSSL in/);
}

async function readUntil(conn: Deno.Conn, done: (text: string) => boolean): Promise<string> {
  const buf = new Uint8Array(65536);
  let text = "";
  while (!done(text)) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

Deno.test("plain HTTP: python http.server, spans exact", async () => {
  await using server = await startPythonServer({});
  await exerciseServer(server);
});

for (const method of ["tp_btf", "tracepoint"]) {
  Deno.test(`plain HTTP: the same spans with syscalls hooked through ${method}`, async () => {
    await using server = await startPythonServer({});
    await exerciseServer(server, { UPSPAN_SYSCALL_ATTACH: method });
  });
}

Deno.test("plain HTTP: node http server, spans exact", async () => {
  await using server = await startNodeServer({});
  await exerciseServer(server);
});

Deno.test("plain HTTP: nginx (master and worker), bodies sent with sendfile", async () => {
  await using nginx = await startNginx({ "index.html": "<h1>hi</h1>\n", "big.bin": 300_000 });
  await using agent = await startAgent(nginx.pids.flatMap((p) => ["--pid", String(p)]));
  const base = `http://127.0.0.1:${nginx.port}`;
  await curl(`${base}/index.html`, `${base}/big.bin?n=1`, `${base}/nope`, "-o", "/dev/null");
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 3);
  const byPath = new Map(spans.map((s) => [s.attributes["url.path"], s]));
  assert.equal(spans.length, 3);
  assert.equal(byPath.get("/index.html")!.attributes["http.response.status_code"], 200);
  assert.equal(byPath.get("/index.html")!.attributes["http.response.body.size"], 12);
  const big = byPath.get("/big.bin")!;
  assert.equal(big.attributes["http.response.body.size"], 300_000, "sendfile's bytes counted");
  assert.equal(big.attributes["url.query"], "n=1");
  assert.equal(byPath.get("/nope")!.attributes["http.response.status_code"], 404);
  assert.equal(byPath.get("/nope")!.status.code, "UNSET", "a 4xx is not a server error");
  for (const s of spans) assert.equal(s.resource["process.pid"], nginx.workerPid);
});

Deno.test("plain HTTP: curl as a client, linked to the traced server", async () => {
  await using server = await startPythonServer({});
  const base = `http://127.0.0.1:${server.port}`;
  const urls = Array.from({ length: 48 }, (_, i) => `${base}/status/${i % 2 ? 404 : 200}?n=${i}`);
  const client = new Deno.Command("curl", {
    args: ["-s", "--rate", "6/s", "-o", "/dev/null", ...urls],
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
    const clients = await agent.waitForSpans((s) => s.kind === "CLIENT", 4);
    for (const s of clients) {
      const n = Number(String(s.attributes["url.query"]).slice(2));
      const status = n % 2 ? 404 : 200;
      assert.equal(s.resource["process.pid"], client.pid);
      assert.equal(s.attributes["url.full"], `${base}/status/${status}?n=${n}`);
      assert.equal(s.attributes["http.response.status_code"], status);
      assert.equal(s.attributes["server.port"], server.port);
    }
    await client.status;
    await agent.stop();
    const callers = new Map(
      agent.spans.filter((s) => s.kind === "CLIENT").map((c) => [c.attributes["url.query"], c]),
    );
    // In start order. Until one is linked, the connection may have waited for curl's
    // offers in vain (curl's probes not in yet), and then waits for none for a second; from
    // the first linked on, every one is.
    const servers = agent.spans.filter((s: JsonSpan) => s.kind === "SERVER")
      .sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
    let linked = 0;
    for (const s of servers) {
      const caller = callers.get(s.attributes["url.query"]);
      if (caller === undefined) continue;
      if (linked === 0 && s.parentSpanId !== caller.spanId) continue; // not linked yet
      assert.equal(s.traceId, caller.traceId);
      assert.equal(s.parentSpanId, caller.spanId);
      linked++;
    }
    assert.ok(linked >= 4, `server spans linked to their callers: ${linked}`);
  } finally {
    await client.status;
  }
});

Deno.test("plain HTTP: processes that are not traced cause no events", async () => {
  // Traffic between an untraced curl and an untraced server, while only `sleep` is traced,
  // through each way of hooking the syscalls (this kernel has BTF raw tracepoints).
  await using server = await startPythonServer({});
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    for (
      const [method, ready] of [
        ["socket", /^ready: 1 probe on 1 process \(7 tracepoints, syscalls via socket\)/m],
        ["tp_btf", /^ready: 1 probe on 1 process \(5 tracepoints, syscalls via tp_btf\)/m],
        [
          "tracepoint",
          /^ready: 1 probe on 1 process \(22 tracepoints, syscalls via tracepoint\)/m,
        ],
      ] as const
    ) {
      const run = runAgent(["--pid", String(sleeper.pid), "--duration", "3"], {
        UPSPAN_SYSCALL_ATTACH: method,
      });
      await new Promise((r) => setTimeout(r, 1500));
      for (let i = 0; i < 5; i++) await curl(`http://127.0.0.1:${server.port}/hello`);
      const r = await run;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /\(sleep\) does not use OpenSSL.*tracing its plain sockets only/);
      assert.match(r.stderr, ready);
      assert.match(r.stderr, /stopped: 0 spans from 0 events;.* 0 socket syscalls/);
    }
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
});

Deno.test("plain HTTP: a call made while serving a request is its child (by thread)", async () => {
  await using backend = await startPythonServer({});
  await using front = await startPythonServer({});
  await using agent = await startAgent(["--pid", String(front.pid)]);
  await curl(`http://127.0.0.1:${front.port}/call/${backend.port}/status/203`);
  const [client] = await agent.waitForSpans((s) => s.kind === "CLIENT", 1);
  const [server] = await agent.waitForSpans((s) => s.kind === "SERVER", 1);
  assert.equal(server!.attributes["http.response.status_code"], 203, "the answer passed on");
  assert.equal(client!.attributes["url.full"], `http://127.0.0.1:${backend.port}/status/203`);
  assert.equal(client!.traceId, server!.traceId);
  assert.equal(client!.parentSpanId, server!.spanId);
});

Deno.test("plain HTTP: 20 concurrent keep-alive connections, 25 requests each, every span", async () => {
  await using server = await startPythonServer({});
  await using agent = await startAgent(["--pid", String(server.pid)]);
  const client = async (c: number) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    for (let i = 0; i < 25; i++) {
      const req = `GET /status/200?c=${c}&i=${i} HTTP/1.1\r\nHost: load\r\n\r\n`;
      await conn.write(new TextEncoder().encode(req));
      await readUntil(conn, (text) => text.endsWith("status 200\n"));
    }
    conn.close();
  };
  await Promise.all(Array.from({ length: 20 }, (_, c) => client(c)));
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 500, 20_000);
  assert.equal(spans.length, 500);
  const queries = new Set(spans.map((s) => s.attributes["url.query"]));
  assert.equal(queries.size, 500, "each request once");
  const ports = new Set(spans.map((s) => s.attributes["client.port"]));
  assert.equal(ports.size, 20, "one connection per client");
});

Deno.test("plain HTTP: a client that shuts down writing before it reads the answer", async () => {
  // shutdown(SHUT_WR) ends only the request direction: the capture keeps the connection
  // until the answer is read (the socket layer's hook sees the FIN leave, not a close).
  await using server = await startPythonServer({});
  const client = new Deno.Command("python3", {
    args: [
      "-c",
      `import socket, sys
sys.stdin.readline()
s = socket.create_connection(("127.0.0.1", ${server.port}))
s.sendall(b"GET /status/201?half=1 HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
s.shutdown(socket.SHUT_WR)
answer = b""
while chunk := s.recv(65536):
    answer += chunk
print(answer.split(b"\\r\\n")[0].decode(), flush=True)
sys.stdin.readline()`,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const stdin = client.stdin.getWriter();
  try {
    await using agent = await startAgent(["--pid", String(client.pid)]);
    await stdin.write(new TextEncoder().encode("go\n"));
    const [span] = await agent.waitForSpans((s) => s.kind === "CLIENT", 1);
    assert.equal(span!.attributes["url.query"], "half=1");
    assert.equal(span!.attributes["http.response.status_code"], 201);
  } finally {
    await stdin.write(new TextEncoder().encode("done\n")).catch(() => {});
    await stdin.close().catch(() => {});
    const out = await client.output();
    assert.match(new TextDecoder().decode(out.stdout), /^HTTP\/1\.[01] 201/);
  }
});
