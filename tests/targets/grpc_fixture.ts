/**
 * The grpc-go fixture (`tests/targets/go/grpc/`): built once per source hash and toolchain
 * into the cache beside the other Go fixtures, and started as a gRPC server (`serve`) or a
 * net/http server over cleartext HTTP/2 (`h2c`) on a free loopback port.
 *
 * @module
 */
import { goTargetCacheDir } from "./go/build.ts";
import { tied } from "./tied.ts";

const DIR = new URL("./go/grpc/", import.meta.url);
const SOURCES = ["main.go", "go.mod", "go.sum"];

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

/** A running fixture. */
export interface GrpcFixture extends AsyncDisposable {
  pid: number;
  port: number;
}

/** Starts the fixture in `mode` on a free port and waits for its "ready" line. */
export async function startGrpcFixture(
  binary: string,
  mode: "serve" | "h2c",
): Promise<GrpcFixture> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const [cmd, args] = tied([binary, mode, `127.0.0.1:${port}`]);
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
