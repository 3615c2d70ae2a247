/**
 * The OpenTelemetry resource of a traced process: who emitted its spans.
 *
 * @module
 */
import type { ProcessInfo } from "./discovery/mod.ts";
import type { Attributes } from "./spans/span.ts";

/** Resource attributes for a process, by the OpenTelemetry resource conventions. */
export function processResource(proc: ProcessInfo): Attributes {
  const exeName = proc.exe.split("/").pop() || proc.comm;
  return {
    "service.name": exeName,
    "process.pid": proc.pid,
    "process.executable.name": exeName,
    "process.executable.path": proc.exe,
    "process.command_line": proc.commandLine.join(" "),
    "host.name": Deno.hostname(),
    "telemetry.distro.name": "upspan",
  };
}
