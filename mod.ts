/**
 * upspan: zero-code APM from eBPF probes. As a command, `deno run -A mod.ts --pid N` (or
 * `--exe`, `--port`, `--container`, `--all`) prints one span per HTTP exchange a process
 * serves or sends -- over OpenSSL, plain sockets or Go's net/http -- and per SQL statement it
 * runs. As a library, {@link trace} runs the same engine, and {@link selectorWatch} turns
 * selectors into the processes it should trace.
 *
 * @example
 * ```ts
 * import { trace } from "./mod.ts";
 * const ac = new AbortController();
 * setTimeout(() => ac.abort(), 10_000);
 * await trace({ pids: [1234], signal: ac.signal, onSpan: (s) => console.log(s.name) });
 * ```
 *
 * @module
 */
export {
  type ProcessWatch,
  type ReadyInfo,
  trace,
  type TraceOptions,
  type TraceStats,
  type TraceSummary,
} from "./src/trace.ts";
export type { SpanRecorder } from "./src/span_pipeline.ts";
export { selectorWatch } from "./src/selector_watch.ts";
export type { Selectors } from "./src/discovery/selectors.ts";
export { runDoctor } from "./src/doctor.ts";
export type { Span } from "./src/model/span.ts";
export type { MappedFile, ProcessInfo } from "./src/discovery/mod.ts";
export type { SocketInfo, StreamChunk } from "./src/model/stream_chunk.ts";
export { UpspanError } from "./src/errors.ts";

if (import.meta.main) {
  // Probes need FFI, /proc, tracefs and child processes: every permission, said plainly.
  const names = ["read", "write", "ffi", "env", "run", "sys"] as const;
  if (names.some((name) => Deno.permissions.querySync({ name }).state !== "granted")) {
    console.error("upspan: Probes need every permission; run it as `deno run -A mod.ts ...`.");
    Deno.exit(2);
  }
  const { main } = await import("./src/cli.ts");
  Deno.exit(await main(Deno.args));
}
