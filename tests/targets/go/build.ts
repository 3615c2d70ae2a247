/**
 * Builds the Go fixture server (`tests/targets/go/server/`) with a given toolchain
 * (`GOTOOLCHAIN=go1.N.M`, downloaded through the Go module proxy on first use), with
 * DWARF or stripped (`-ldflags=-s -w`). Binaries are cached outside the repository, in
 * `${XDG_CACHE_HOME:-$HOME/.cache}/upspan/go-targets/`, named by a hash of the sources,
 * so an edited fixture is rebuilt.
 *
 * @module
 */
import { tied } from "../tied.ts";

/** Toolchains the end-to-end test builds with: the oldest supported, the first with
 * ServeMux patterns, and the local one. */
export const GO_TEST_TOOLCHAINS = ["go1.21.13", "go1.22.12", "go1.26.8"] as const;

/** The latest patch release of each supported minor version the module proxy serves. */
export const GO_MATRIX_TOOLCHAINS = [
  "go1.21.13",
  "go1.22.12",
  "go1.23.12",
  "go1.24.13",
  "go1.25.14",
  "go1.26.8",
  "go1.26.11",
] as const;

const SOURCES = ["main.go", "routes_go121.go", "routes_go122.go"];
const DIR = new URL("./server/", import.meta.url);

/** A built fixture, or why it could not be built. */
export type GoTarget = { ok: true; path: string } | { ok: false; error: string };

/** The cache directory for built fixture servers. */
export function goTargetCacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/upspan/go-targets`;
}

async function sourceHash(): Promise<string> {
  const text = SOURCES.map((f) => Deno.readTextFileSync(new URL(f, DIR))).join("\0");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest).slice(0, 4), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * The fixture server built by `toolchain` (e.g. "go1.22.12"), building it on first use.
 *
 * @example
 * ```ts ignore
 * const built = await buildGoServer("go1.22.12", { stripped: true });
 * if (!built.ok) throw new Error(built.error);
 * ```
 */
export async function buildGoServer(
  toolchain: string,
  options: { stripped?: boolean } = {},
): Promise<GoTarget> {
  const dir = goTargetCacheDir();
  const hash = await sourceHash();
  const out = `${dir}/server-${hash}-${toolchain}${options.stripped ? "-stripped" : ""}`;
  try {
    await Deno.stat(out);
    return { ok: true, path: out };
  } catch { /* not built yet */ }
  const minor = /^go(\d+\.\d+)/.exec(toolchain)?.[1];
  if (minor === undefined) return { ok: false, error: `not a Go toolchain name: ${toolchain}` };
  const work = `${dir}/src-server-${hash}-${toolchain}${options.stripped ? "-stripped" : ""}`;
  await Deno.mkdir(work, { recursive: true });
  // The go directive selects ServeMux semantics: 1.22+ patterns need "go 1.22" or later.
  await Deno.writeTextFile(`${work}/go.mod`, `module example.com/upspanserver\n\ngo ${minor}\n`);
  for (const f of SOURCES) await Deno.copyFile(new URL(f, DIR), `${work}/${f}`);
  const args = ["build", "-o", `${out}.tmp`];
  if (options.stripped) args.push("-ldflags=-s -w");
  args.push(".");
  const result = await new Deno.Command("go", {
    args,
    cwd: work,
    env: { GOTOOLCHAIN: toolchain, GOFLAGS: "-mod=mod" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    return {
      ok: false,
      error: `go build with ${toolchain} failed: ${new TextDecoder().decode(result.stderr)}`,
    };
  }
  await Deno.rename(`${out}.tmp`, out);
  return { ok: true, path: out };
}

/** A running fixture server: its ports, and how to stop it. */
export interface GoServer {
  pid: number;
  port: number;
  backendPort: number;
  /** Kills the server and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts a built fixture server and waits for its "listening" line; with `tls`, both its
 * listeners serve HTTPS (and HTTP/2) with that certificate.
 */
export async function startGoServer(
  path: string,
  options: { tls?: { cert: string; key: string } } = {},
): Promise<GoServer> {
  const [cmd, args] = tied([path]);
  const env: Record<string, string> = options.tls
    ? { UPSPAN_TLS_CERT: options.tls.cert, UPSPAN_TLS_KEY: options.tls.key }
    : {};
  const child = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "inherit" }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${path} exited before listening`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const m = /^listening (\d+) (\d+)/.exec(text);
  if (m === null) throw new Error(`${path} printed ${JSON.stringify(text)}`);
  return {
    pid: child.pid,
    port: Number(m[1]),
    backendPort: Number(m[2]),
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}
