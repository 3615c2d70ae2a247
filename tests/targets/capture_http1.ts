/**
 * Records a real HTTP/1.1 conversation — curl reusing one connection for a GET with a
 * query, a POST with a body, a HEAD, a 404 and a chunked response — through
 * {@linkcode startRecordingProxy} in front of a Deno server, and writes it as a test
 * fixture (`src/protocols/http1/testdata/curl.json`, the format of the SQL captures).
 * Re-run after changing the conversation:
 *
 * `deno run -A tests/targets/capture_http1.ts`
 *
 * @module
 */
import { encodeBase64 } from "./sql_fixture.ts";
import { type RecordedPiece, startRecordingProxy } from "./record_proxy.ts";

const HERE = new URL(".", import.meta.url).pathname;
const OUT = `${HERE}../../src/protocols/http1/testdata/`;

/** The server: fixed answers, one chunked. */
function handler(req: Request): Response {
  const url = new URL(req.url);
  if (url.pathname === "/missing") return new Response("no such thing\n", { status: 404 });
  if (url.pathname === "/stream") {
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("part one\n"));
        c.enqueue(new TextEncoder().encode("part two\n"));
        c.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/plain" } });
  }
  return new Response(`${req.method} ${url.pathname}\n`, { headers: { "x-test": "1" } });
}

/** Runs curl through a proxy to `port`: five requests on one connection. */
export async function captureCurl(port: number): Promise<RecordedPiece[][]> {
  await using proxy = await startRecordingProxy(port);
  const base = `http://127.0.0.1:${proxy.port}`;
  const args = [
    ["-s", "-o", "/dev/null", "-A", "upspan-capture", `${base}/users/42?expand=1`],
    ["-s", "-o", "/dev/null", "-d", "name=ann", `${base}/items`],
    ["-s", "-o", "/dev/null", "-I", `${base}/`],
    ["-s", "-o", "/dev/null", `${base}/missing`],
    ["-s", "-o", "/dev/null", `${base}/stream`],
  ];
  const out = await new Deno.Command("curl", {
    args: args.flatMap((a, i) => i === 0 ? a : ["--next", ...a]),
  })
    .output();
  if (!out.success) throw new Error(`curl failed: ${new TextDecoder().decode(out.stderr)}`);
  await proxy.close();
  return proxy.connections();
}

function toJson(conns: RecordedPiece[][]): string {
  const data = conns.map((c) =>
    c.map((p) => ({ dir: p.dir, ns: String(p.ns), b64: encodeBase64(p.bytes) }))
  );
  return JSON.stringify(data, null, 1) + "\n";
}

if (import.meta.main) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    const conns = await captureCurl(server.addr.port);
    await Deno.writeTextFile(`${OUT}curl.json`, toJson(conns));
  } finally {
    await server.shutdown();
  }
}
