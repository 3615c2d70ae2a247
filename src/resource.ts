/**
 * The OpenTelemetry resource of a traced process: who emitted its spans. The service name
 * comes from the process's own `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` (read from
 * /proc/PID/environ) when it has them, as an SDK inside it would report, else from its
 * executable's name.
 *
 * @module
 */
import type { ProcessInfo } from "./discovery/mod.ts";
import { parseCgroup } from "./discovery/container.ts";
import type { Attributes } from "./model/span.ts";
import denoJson from "../deno.json" with { type: "json" };
import { redactCommandLine } from "./command_line.ts";

/** `telemetry.distro.version`: upspan's own version. */
export const DISTRO_VERSION: string = denoJson.version;

/** Where {@linkcode processResource} reads what is not in {@link ProcessInfo}. */
export interface ResourceSources {
  /** The process's environment (`NAME=value` entries); default: /proc/PID/environ. */
  environ?: string[];
  /** The text of /proc/PID/cgroup; default: read from /proc. */
  cgroup?: string;
  /** `host.name`; default: `UPSPAN_HOST_NAME` (a DaemonSet sets the node's), else `Deno.hostname()`. */
  hostName?: string;
}

function readProc(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined; // gone, or not ours to read: the resource is only poorer
  }
}

/**
 * Resource attributes for a process, by the OpenTelemetry resource conventions:
 * `service.name`, `service.instance.id`, `process.*`, `host.name`, `container.id` and
 * `telemetry.distro.*`, plus what the process's `OTEL_RESOURCE_ATTRIBUTES` says.
 *
 * @example
 * ```ts ignore
 * const r = await inspectProcess(pid);
 * if (r.ok) processResource(r.process)["service.name"]; // "checkout" or "python3.11"
 * ```
 */
/** Resource keys only the process's cgroup may set. */
const CGROUP_OWNED = new Set(["container.id", "container.runtime.name", "k8s.pod.uid"]);

export function processResource(proc: ProcessInfo, sources: ResourceSources = {}): Attributes {
  const exeName = proc.exe.split("/").pop() || proc.comm;
  const environ = sources.environ ??
    (readProc(`/proc/${proc.pid}/environ`) ?? "").split("\0").filter((e) => e !== "");
  const env = otelEnv(environ);
  const hostName = sources.hostName ?? (Deno.env.get("UPSPAN_HOST_NAME") || Deno.hostname());
  const fromEnv = parseResourceAttributes(env.resourceAttributes ?? "").attributes;
  const serviceName = nonEmpty(env.serviceName) ?? nonEmpty(fromEnv["service.name"]) ?? exeName;

  const attributes: Attributes = {};
  // The process's own OTEL_RESOURCE_ATTRIBUTES first: what upspan knows as fact (pid,
  // executable, host) is set after and wins.
  // Identities the cgroup decides are never the process's to claim: a container could
  // otherwise pass its spans off as another's.
  for (const [k, v] of Object.entries(fromEnv)) if (!CGROUP_OWNED.has(k)) attributes[k] = v;
  attributes["service.name"] = serviceName;
  if (attributes["service.instance.id"] === undefined) {
    attributes["service.instance.id"] = `${hostName}:${proc.pid}`;
  }
  attributes["process.pid"] = proc.pid;
  attributes["process.executable.name"] = exeName;
  attributes["process.executable.path"] = proc.exe;
  attributes["process.command_line"] = redactCommandLine(proc.commandLine);
  const runtime = runtimeOf(exeName);
  if (runtime !== undefined) {
    attributes["process.runtime.name"] = runtime.name;
    if (runtime.version !== undefined) attributes["process.runtime.version"] = runtime.version;
  }
  attributes["host.name"] = hostName;
  // One cgroup parser for discovery and resource: the process's own, unless given text.
  const container = sources.cgroup !== undefined ? parseCgroup(sources.cgroup) : proc.container;
  if (container !== undefined) {
    attributes["container.id"] = container.id;
    if (container.runtime !== undefined) attributes["container.runtime.name"] = container.runtime;
    if (container.podUid !== undefined) attributes["k8s.pod.uid"] = container.podUid;
  }
  attributes["telemetry.distro.name"] = "upspan";
  attributes["telemetry.distro.version"] = DISTRO_VERSION;
  return attributes;
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/** The OpenTelemetry resource variables of an environment (last value wins, as in a shell). */
export function otelEnv(
  environ: readonly string[],
): { serviceName?: string; resourceAttributes?: string } {
  const out: { serviceName?: string; resourceAttributes?: string } = {};
  for (const entry of environ) {
    if (entry.startsWith("OTEL_SERVICE_NAME=")) {
      out.serviceName = entry.slice("OTEL_SERVICE_NAME=".length);
    } else if (entry.startsWith("OTEL_RESOURCE_ATTRIBUTES=")) {
      out.resourceAttributes = entry.slice("OTEL_RESOURCE_ATTRIBUTES=".length);
    }
  }
  return out;
}

/** The outcome of {@linkcode parseResourceAttributes}: what was read, and what was not. */
export interface ResourceAttributesResult {
  attributes: Record<string, string>;
  /** Entries skipped (no `=`, an empty key, a bad percent escape), as found. */
  skipped: string[];
}

/**
 * Parses `OTEL_RESOURCE_ATTRIBUTES` (`key1=value1,key2=value2`, values percent-encoded, as
 * the OpenTelemetry SDK environment specification defines it). Never throws: a malformed
 * entry is skipped and listed.
 *
 * @example
 * ```ts
 * parseResourceAttributes("service.name=shop,deployment.environment.name=prod%20eu");
 * // { attributes: { "service.name": "shop", "deployment.environment.name": "prod eu" }, skipped: [] }
 * ```
 */
export function parseResourceAttributes(text: string): ResourceAttributesResult {
  const attributes: Record<string, string> = {};
  const skipped: string[] = [];
  if (text.trim() === "") return { attributes, skipped };
  for (const entry of text.split(",")) {
    const eq = entry.indexOf("=");
    const key = eq < 0 ? "" : entry.slice(0, eq).trim();
    if (key === "") {
      if (entry.trim() !== "") skipped.push(entry);
      continue;
    }
    let value: string;
    try {
      value = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      skipped.push(entry);
      continue;
    }
    attributes[key] = value;
  }
  return { attributes, skipped };
}

/** `process.runtime.*` where the executable's name says it (python3.11 -> cpython 3.11). */
export function runtimeOf(exeName: string): { name: string; version?: string } | undefined {
  const py = /^python(\d+(?:\.\d+)*)?$/.exec(exeName);
  if (py) return py[1] !== undefined ? { name: "cpython", version: py[1] } : { name: "cpython" };
  if (exeName === "node" || exeName === "nodejs") return { name: "nodejs" };
  if (exeName === "deno") return { name: "deno" };
  if (exeName === "bun") return { name: "bun" };
  return undefined;
}
