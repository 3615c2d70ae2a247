/**
 * The grpc-go fixture (`tests/targets/go/grpc/`): built once per source hash and toolchain
 * into the cache beside the other Go fixtures, and started as a gRPC server (`serve`), a
 * net/http server over cleartext HTTP/2 (`h2c`) or over TLS on x/net/http2's own server
 * (`xnet`), or the gRPC server mounted on net/http (`mounted`), on a free loopback port.
 *
 * @module
 */
import { goTargetCacheDir } from "./go/build.ts";
import { tied } from "./tied.ts";

const DIR = new URL("./go/grpc/", import.meta.url);
const SOURCES = ["main.go", "go.mod", "go.sum"];

/** The builds the tests use (grpc-go v1.83 needs Go 1.25 or later): two Go versions. */
export const GRPC_TEST_BUILDS = [
  { toolchain: "go1.25.14", stripped: true },
  { toolchain: "go1.26.8", stripped: false },
  { toolchain: "go1.26.8", stripped: true },
] as const;

/** Builds the fixture with `toolchain` (default: the local Go), returning the binary's path. */
export async function buildGrpcFixture(
  toolchain?: string,
  options: { stripped?: boolean } = {},
): Promise<string> {
  const text = SOURCES.map((f) => Deno.readTextFileSync(new URL(f, DIR))).join("\0");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const hash = Array.from(
    new Uint8Array(digest).slice(0, 4),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  const dir = goTargetCacheDir();
  await Deno.mkdir(dir, { recursive: true });
  const out = `${dir}/grpc-${hash}-${toolchain ?? "local"}${options.stripped ? "-stripped" : ""}`;
  try {
    await Deno.stat(out);
    return out;
  } catch { /* not built yet */ }
  const args = ["build", "-o", `${out}.tmp`];
  if (options.stripped) args.push("-ldflags=-s -w");
  args.push(".");
  const env: Record<string, string> = { GOFLAGS: "-mod=mod" };
  if (toolchain !== undefined) env.GOTOOLCHAIN = toolchain;
  const result = await new Deno.Command("go", {
    args,
    cwd: DIR.pathname,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(
      `go build of the gRPC fixture failed: ${new TextDecoder().decode(result.stderr)}`,
    );
  }
  await Deno.rename(`${out}.tmp`, out);
  return out;
}

/**
 * The fixture's binary, or the command of another program taking the same arguments and
 * speaking the same lines (`tests/targets/grpcio_app.py` under the tests' Python).
 */
export type Command = string | readonly string[];

const argv = (c: Command) => typeof c === "string" ? [c] : c;

/** A running fixture. */
export interface GrpcFixture extends AsyncDisposable {
  pid: number;
  port: number;
}

/**
 * Starts the fixture in `mode` on a free port and waits for its "ready" line; `tls` makes
 * the gRPC server (or `xnet`, net/http on x/net/http2's server; or `mounted`, net/http)
 * serve over TLS with it.
 */
export async function startGrpcFixture(
  binary: Command,
  mode: "serve" | "h2c" | "xnet" | "mounted" | "mountedh2c",
  tls?: { cert: string; key: string },
): Promise<GrpcFixture> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const extra = tls === undefined ? [] : [tls.cert, tls.key];
  const [cmd, args] = tied([...argv(binary), mode, `127.0.0.1:${port}`, ...extra]);
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${binary} ${mode} exited before it was ready`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return {
    pid: child.pid,
    port,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** A running gRPC client of the fixture, idle until asked to make its calls. */
export interface GrpcClient extends AsyncDisposable {
  pid: number;
  /** Makes the three calls (Say ok, Say failing with status 5, Count) and returns what it printed. */
  calls(): Promise<string>;
  /** Makes one call whose handler GETs `url` (Say "get:URL") and returns what it printed. */
  callOut(url: string): Promise<string>;
  /** GETs `url` with x/net/http2's own Transport (h2c prior knowledge); its status line. */
  h2Get(url: string): Promise<string>;
  /**
   * Makes one call whose handler calls Say "hello" of the gRPC server at `addr` (Say
   * "call:ADDR") and returns what it printed.
   */
  callOn(addr: string): Promise<string>;
}

/** Starts the fixture's client of the server at `port` (over TLS trusting `ca`, if given). */
export async function startGrpcClient(
  binary: Command,
  port: number,
  ca?: string,
): Promise<GrpcClient> {
  const [cmd, args] = tied([...argv(binary), "client", `127.0.0.1:${port}`, ...(ca ? [ca] : [])]);
  const child = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const writer = child.stdin.getWriter();
  const until = async (line: string) => {
    let text = "";
    while (!text.endsWith(`${line}\n`)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the gRPC client exited before "${line}": ${text}`);
      text += new TextDecoder().decode(value);
    }
    return text;
  };
  await until("ready");
  return {
    pid: child.pid,
    async calls() {
      await writer.write(new TextEncoder().encode("go\n"));
      return await until("done");
    },
    async callOut(url: string) {
      await writer.write(new TextEncoder().encode(`get ${url}\n`));
      return await until("done");
    },
    async h2Get(url: string) {
      await writer.write(new TextEncoder().encode(`h2get ${url}\n`));
      return await until("done");
    },
    async callOn(addr: string) {
      await writer.write(new TextEncoder().encode(`call ${addr}\n`));
      return await until("done");
    },
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
    },
  };
}
