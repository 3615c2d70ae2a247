import assert from "node:assert/strict";
import { makeCert } from "./certs.ts";
import {
  parseResponses,
  pipelinedRequest,
  type ServerOptions,
  startNodeServer,
  startPythonServer,
  type TargetServer,
} from "./targets.ts";

const SERVERS: [string, (options: ServerOptions) => Promise<TargetServer>][] = [
  ["python", startPythonServer],
  ["node", startNodeServer],
];

/** Runs `fn` with a fresh certificate and a running server; cleans both up. */
async function withServer(
  start: (options: ServerOptions) => Promise<TargetServer>,
  fn: (server: TargetServer, cert: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "upspan-targets-" });
  try {
    const { cert, key } = await makeCert(dir);
    await using server = await start({ cert, key });
    await fn(server, cert);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `curl -sk`: returns [status, bytes downloaded, body]. */
async function curl(url: string, extra: string[] = []): Promise<[number, number, string]> {
  const out = await new Deno.Command("curl", {
    args: ["-sk", "-o", "-", "-w", "\n%{http_code} %{size_download}", ...extra, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, `curl ${url}: ${new TextDecoder().decode(out.stderr)}`);
  const text = new TextDecoder().decode(out.stdout);
  const cut = text.lastIndexOf("\n");
  const [code, size] = text.slice(cut + 1).split(" ").map(Number);
  return [code ?? 0, size ?? -1, text.slice(0, cut)];
}

for (const [name, start] of SERVERS) {
  Deno.test(`${name} target answers every route`, async () => {
    await withServer(start, async (server) => {
      assert.ok(server.pid > 0);
      const base = `https://127.0.0.1:${server.port}`;
      assert.deepEqual(await curl(`${base}/hello`), [200, 6, "hello\n"]);
      assert.deepEqual(await curl(`${base}/status/204`), [204, 0, ""]);
      assert.deepEqual(await curl(`${base}/status/503`), [503, 11, "status 503\n"]);
      const [code, size] = await curl(`${base}/bytes/1048576`);
      assert.deepEqual([code, size], [200, 1048576]);
      assert.deepEqual(await curl(`${base}/echo`, ["--data-binary", "ping pong"]), [
        200,
        9,
        "ping pong",
      ]);
      assert.deepEqual((await curl(`${base}/nope`)).slice(0, 1), [404]);
      assert.equal(server.stderr(), "");
    });
  });

  Deno.test(`${name} target serves two pipelined requests on one connection`, async () => {
    await withServer(start, async (server, cert) => {
      const raw = await pipelinedRequest(server.port, ["/hello", "/status/204", "/bytes/3"], {
        caCert: cert,
      });
      const responses = parseResponses(raw);
      assert.deepEqual(responses.map((r) => r.status), [200, 204, 200]);
      assert.deepEqual(responses.map((r) => new TextDecoder().decode(r.body)), [
        "hello\n",
        "",
        "xxx",
      ]);
      assert.equal(responses[0]?.headers["content-length"], "6");
    });
  });
}

Deno.test("node target works with fetch and the generated certificate", async () => {
  await withServer(startNodeServer, async (server, cert) => {
    using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(cert)] });
    const res = await fetch(`https://localhost:${server.port}/bytes/1048576`, { client });
    assert.equal(res.status, 200);
    assert.equal((await res.bytes()).length, 1048576);
  });
});

Deno.test("startServer reports a server that exits before listening", async () => {
  await assert.rejects(
    () => startPythonServer({ cert: "/nonexistent/cert.pem", key: "/nonexistent/key.pem" }),
    /exited with code 1 before listening; stderr: .*No such file/s,
  );
});

Deno.test("parseResponses leaves out an incomplete response", () => {
  const raw = new TextEncoder().encode(
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 304 Not Modified\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
  );
  assert.deepEqual(parseResponses(raw).map((r) => r.status), [200, 304]);
});
