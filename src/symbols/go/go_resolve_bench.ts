/**
 * How long resolving every Go probe site takes in a large stripped Go binary: open it,
 * read the build info, find the probed functions in the function table and decode their
 * `RET` offsets. The target is gopls (about 30 MB, built with `-ldflags='-s -w'` from
 * the Go module proxy into the fixture cache on first use), or `$UPSPAN_GO_BENCH_BINARY`.
 *
 * `deno bench -A src/symbols/go/go_resolve_bench.ts` for timings;
 * `deno run -A src/symbols/go/go_resolve_bench.ts` for one cold resolve in a fresh process
 * with its time and memory.
 *
 * @module
 */

import { openGoBinary } from "./go_binary.ts";
import { fixtureCacheDir } from "../../../tests/go_fixtures.ts";

/** The functions the Go probes attach to (entry and every RET). */
export const PROBE_FUNCTIONS = [
  "net/http.serverHandler.ServeHTTP",
  "net/http.(*response).WriteHeader",
  "net/http.(*Transport).roundTrip",
  "net/http.(*persistConn).roundTrip",
  "net/http.(*http2ClientConn).roundTrip",
  "net/http.(*http2serverConn).runHandler",
  "database/sql.(*DB).queryDC",
  "database/sql.(*DB).execDC",
  "database/sql.(*Conn).QueryContext",
  "database/sql.(*Stmt).QueryContext",
  "database/sql.(*Tx).QueryContext",
  "crypto/tls.(*Conn).Read",
  "crypto/tls.(*Conn).Write",
  "crypto/tls.(*Conn).Close",
  "runtime.casgstatus",
  "runtime.newproc1",
  "runtime.goexit1",
  "net.(*netFD).Read",
  "net.(*netFD).Write",
];

/** The benchmark binary, building gopls on first use. */
export function benchBinary(): string {
  const fromEnv = Deno.env.get("UPSPAN_GO_BENCH_BINARY");
  if (fromEnv) return fromEnv;
  const dir = `${fixtureCacheDir()}/bin`;
  const path = `${dir}/gopls`;
  try {
    Deno.statSync(path);
    return path;
  } catch {
    // Not built yet.
  }
  const out = new Deno.Command("go", {
    args: ["install", "-ldflags=-s -w", "golang.org/x/tools/gopls@v0.21.0"],
    env: { GOBIN: dir, GOTOOLCHAIN: "go1.26.8" },
    stdout: "null",
    stderr: "inherit",
  }).outputSync();
  if (!out.success) throw new Error("could not build gopls for the benchmark");
  return path;
}

/** Resolves every probe site; returns how many functions and RETs were found. */
export async function resolveProbeSites(
  path: string,
): Promise<{ functions: number; rets: number }> {
  const opened = await openGoBinary(path);
  if (!opened.ok) throw new Error(opened.error);
  using bin = opened.binary;
  if (!bin.buildInfo().ok) throw new Error("no build info");
  const found = bin.findFunctions(PROBE_FUNCTIONS);
  let rets = 0;
  for (const fn of found.values()) {
    const r = bin.retOffsets(fn);
    if (!r.ok) throw new Error(r.error);
    rets += r.offsets.length;
  }
  return { functions: found.size, rets };
}

const binary = benchBinary();

Deno.bench("resolve all Go probe sites in a ~30 MB stripped binary (gopls)", async () => {
  await resolveProbeSites(binary);
});

if (import.meta.main) {
  const before = Deno.memoryUsage();
  const started = performance.now();
  const result = await resolveProbeSites(binary);
  const ms = performance.now() - started;
  const after = Deno.memoryUsage();
  const status = Deno.readTextFileSync("/proc/self/status");
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  console.log(JSON.stringify({
    binary,
    sizeMB: +(Deno.statSync(binary).size / 1e6).toFixed(1),
    ...result,
    ms: +ms.toFixed(1),
    rssBeforeMB: +(before.rss / 1e6).toFixed(1),
    rssAfterMB: +(after.rss / 1e6).toFixed(1),
    peakRssMB: hwm ? +(Number(hwm) / 1e3).toFixed(1) : undefined,
    heapUsedDeltaMB: +((after.heapUsed - before.heapUsed) / 1e6).toFixed(1),
    externalDeltaMB: +((after.external - before.external) / 1e6).toFixed(1),
  }));
}
