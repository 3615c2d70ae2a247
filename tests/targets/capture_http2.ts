/**
 * Records real HTTP/2 byte streams through {@linkcode startRecordingProxy} and writes them as
 * test fixtures (`src/protocols/http2/testdata/*.json`, the format of `src/sql/testdata`):
 *
 * - `nginx_h2c.json`: nghttp (Debian's nghttp2-client) with prior knowledge against
 *   Debian's nginx (`listen … http2`), four requests multiplexed on one connection (200s, a
 *   404, a 20,000-byte file, a traceparent header), then curl: a HEAD, a POST nginx refuses
 *   (405), one connection each;
 * - `go_h2c_upgrade.json`: curl `--http2` on a plain URL (the `Upgrade: h2c` path) against
 *   Go's net/http with `x/net/http2/h2c`, nghttp `-u` (upgrade, then a second request,
 *   a 404, on the same connection), then curl with prior knowledge;
 * - `grpc_go.json`: a grpc-go client and server: a unary call, a unary call failing with
 *   NOT_FOUND, a server-streaming call of four messages.
 *
 * `deno run -A tests/targets/capture_http2.ts` (needs Go and the module proxy or cache).
 *
 * @module
 */
import { encodeBase64 } from "./sql_fixture.ts";
import { type RecordedPiece, startRecordingProxy } from "./record_proxy.ts";
import { startNginx } from "./nginx.ts";
import { buildGrpcFixture, startGrpcFixture } from "./grpc_fixture.ts";

const HERE = new URL(".", import.meta.url).pathname;
const OUT = `${HERE}../../src/protocols/http2/testdata/`;

/** What the nginx capture serves. */
export const NGINX_SITE = { "index.html": "<h1>hello</h1>\n", "big.bin": 20_000 };

/** The URLs curl fetches from nginx in one run (one connection), in order. */
export const NGINX_PATHS = ["/index.html", "/missing", "/big.bin", "/index.html?again=1"];

async function exec(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

function toJson(conns: RecordedPiece[][]): string {
  const data = conns.map((c) =>
    c.map((p) => ({ dir: p.dir, ns: String(p.ns), b64: encodeBase64(p.bytes) }))
  );
  return JSON.stringify(data, null, 1) + "\n";
}

/** Through a proxy to nginx: nghttp's GETs on one connection, then curl's HEAD and POST. */
export async function captureNginx(port: number): Promise<RecordedPiece[][]> {
  await using proxy = await startRecordingProxy(port);
  const base = `http://127.0.0.1:${proxy.port}`;
  // (curl 7.88 sends only the first of several prior-knowledge URLs; nghttp multiplexes.)
  await exec("nghttp", [
    "-n",
    "-H",
    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ...NGINX_PATHS.map((p) => base + p),
  ]);
  await exec("curl", [
    "-s",
    "-o",
    "/dev/null",
    "--http2-prior-knowledge",
    "-I",
    `${base}/index.html`,
  ]);
  await exec("curl", [
    "-s",
    "-o",
    "/dev/null",
    "--http2-prior-knowledge",
    "--data",
    "name=widget",
    `${base}/index.html`,
  ]);
  await proxy.close();
  return proxy.connections();
}

/** Upgrade: h2c by curl and by nghttp, then prior knowledge, against Go's h2c server. */
export async function captureGoUpgrade(port: number): Promise<RecordedPiece[][]> {
  await using proxy = await startRecordingProxy(port);
  const base = `http://127.0.0.1:${proxy.port}`;
  await exec("curl", ["-s", "-o", "/dev/null", "--http2", `${base}/hello`]);
  await exec("nghttp", ["-nu", `${base}/hello`, `${base}/nope`]);
  await exec("curl", ["-s", "-o", "/dev/null", "--http2-prior-knowledge", `${base}/hello`]);
  await proxy.close();
  return proxy.connections();
}

/** The grpc-go client's calls through a proxy to the grpc-go server. */
export async function captureGrpcGo(binary: string, port: number): Promise<RecordedPiece[][]> {
  await using proxy = await startRecordingProxy(port);
  const out = await exec(binary, ["call", `127.0.0.1:${proxy.port}`]);
  if (!out.includes("Count: 4 messages")) throw new Error(`grpc client failed: ${out}`);
  await proxy.close();
  return proxy.connections();
}

if (import.meta.main) {
  {
    await using nginx = await startNginx(NGINX_SITE, { http2: true });
    await Deno.writeTextFile(
      `${OUT}nginx_h2c.json`,
      toJson(await captureNginx(nginx.port)),
    );
  }
  const binary = await buildGrpcFixture();
  {
    await using h2c = await startGrpcFixture(binary, "h2c");
    await Deno.writeTextFile(`${OUT}go_h2c_upgrade.json`, toJson(await captureGoUpgrade(h2c.port)));
  }
  {
    await using server = await startGrpcFixture(binary, "serve");
    await Deno.writeTextFile(
      `${OUT}grpc_go.json`,
      toJson(await captureGrpcGo(binary, server.port)),
    );
  }
}
