/**
 * The command line: parse flags, run {@link trace}, print spans to stdout and status to
 * stderr, exit 0 on SIGINT/SIGTERM, 2 on a usage mistake, 1 on a run-time failure -- each
 * failure one plain sentence, with the stack trace only under `--debug`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UpspanError } from "./errors.ts";
import {
  DumpPrinter,
  JsonLinesExporter,
  onStdoutClosed,
  PrettyExporter,
  type SpanExporter,
} from "./export/mod.ts";
import { monotonicNs, realtimeNs, releaseFilePages, releaseFreedMemory } from "../ffi/mod.ts";
import { trace, type TraceSummary } from "./trace.ts";
import { CAPTURE_OBJECT } from "./capture/mod.ts";
// The OTLP exporters bring in the OpenTelemetry packages from npm: loaded only when used.
import type { OtlpSpanExporter } from "./export/otlp.ts";
import type { OtlpMetricsExporter } from "./export/otlp_metrics.ts";
import { SpanMetrics } from "./export/metrics.ts";
import { type AgentHealth, PrometheusServer } from "./export/prometheus.ts";
import type { Span } from "./model/span.ts";
import { globToRegExp, type Selectors } from "./discovery/selectors.ts";
import { selectorWatch, watchesProcesses } from "./selector_watch.ts";
import { runDoctor } from "./doctor.ts";

/** How long after `ready` V8 has compiled the hot path, at 1,000 spans/s (BENCHMARKS.md). */
const WARM_UP_MS = 10_000;

export const USAGE = `Usage: deno run -A mod.ts [selectors...] [options...]
       deno run -A mod.ts doctor      check this machine for what upspan needs

Traces the HTTP traffic of running processes (TLS through OpenSSL's SSL_read/SSL_write,
plain sockets through their read and write syscalls) and prints one span per HTTP
exchange, with no change to the processes.

Selectors (combinable; each may be repeated):
  --pid N                a process to trace (its forked children too)
  --exe GLOB             processes whose executable matches (a glob without "/" matches the
                         base name), now and as they start
  --port N               processes listening on TCP port N
  --all                  every process on the host (except kernel threads and upspan)
  --container ID         processes in the container with this id (or a unique prefix)

Options:
  --format pretty|json   pretty (default): a live span tree; json: one span per line
  --dump                 print the captured plaintext of every TLS read and write instead
  --hex                  with --dump: show data as a hexdump
  --capture-bytes N      most plaintext bytes captured per SSL call (default 16384)
  --duration SECONDS     stop by itself after this long
  --otlp-endpoint URL    also export spans and RED metrics over OTLP/HTTP (protobuf) to
                         URL/v1/traces and URL/v1/metrics; without it, OTLP is on when
                         OTEL_EXPORTER_OTLP_ENDPOINT or _TRACES_ENDPOINT is set (the other
                         OTEL_EXPORTER_OTLP_* variables are honoured too)
  --metrics-port N       serve Prometheus metrics on port N at /metrics
  --metrics-host ADDR    the address /metrics listens on (default 127.0.0.1: this host
                         only; 0.0.0.0 or :: for every interface)
  --sample-ratio R       export this share of traces, 0 to 1 (default 1); a span whose
                         parent sent a traceparent follows its sampled flag
  --inject-traceparent   write a W3C traceparent (the client span's ids) into the requests
                         Go's net/http clients send, so servers on other hosts continue the
                         trace; writes into the traced process's memory, and only where the
                         kernel allows bpf_probe_write_user (also: UPSPAN_INJECT_TRACEPARENT=1)
  --debug                show libbpf's log and stack traces
  -h, --help             show this help
`;

/** Parsed command-line options. */
export interface CliOptions {
  pids: number[];
  /** `--exe`, `--port`, `--all`, `--container`: processes found now and as they start. */
  selectors: Selectors;
  format: "pretty" | "json";
  dump: boolean;
  hex: boolean;
  captureBytes: number;
  durationSeconds?: number;
  /** `--otlp-endpoint`: the OTLP/HTTP base URL. */
  otlpEndpoint?: string;
  /** `--metrics-port`: where `/metrics` is served. */
  metricsPort?: number;
  /** `--metrics-host`: the address `/metrics` listens on. */
  metricsHost: string;
  /** `--sample-ratio`: the share of traces exported, 0 to 1. */
  sampleRatio: number;
  /** `--inject-traceparent`; absent: as `UPSPAN_INJECT_TRACEPARENT` says. */
  injectTraceparent?: boolean;
  debug: boolean;
  help: boolean;
}

function positiveInt(flag: string, text: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0 || n > max) {
    throw new UpspanError(`${flag} needs a whole number from 1 to ${max}, not "${text}".`, 2);
  }
  return n;
}

/** A plain decimal number, as a person writes one (no hex, no "Infinity"). */
const DECIMAL = /^\s*(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

/** An http(s) URL with a host that parses as a whole. */
/** An endpoint as a message may quote it: any user information left out. */
function quotedEndpoint(text: string): string {
  return text.replace(/^([^/]*\/\/)[^/]*@/, "$1\u2026@" /* an ellipsis */);
}

function isHttpUrl(text: string): boolean {
  if (/\s/.test(text)) return false;
  try {
    const u = new URL(text);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/** An IPv4 or IPv6 address, or a DNS name. */
function isHost(text: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) return text.split(".").every((o) => Number(o) <= 255);
  if (text.includes(":")) {
    try {
      return new URL(`http://[${text}]/`).hostname !== "";
    } catch {
      return false;
    }
  }
  return text.length <= 253 &&
    /^(?![\d.]+$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
      .test(text);
}

/** Parses argv; throws an {@link UpspanError} with exit code 2 on a usage mistake. */
export function parseCli(argv: string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        pid: { type: "string", multiple: true },
        exe: { type: "string", multiple: true },
        port: { type: "string", multiple: true },
        all: { type: "boolean", default: false },
        container: { type: "string", multiple: true },
        format: { type: "string", default: "pretty" },
        dump: { type: "boolean", default: false },
        hex: { type: "boolean", default: false },
        "capture-bytes": { type: "string", default: "16384" },
        duration: { type: "string" },
        "otlp-endpoint": { type: "string" },
        "metrics-port": { type: "string" },
        "metrics-host": { type: "string" },
        "sample-ratio": { type: "string", default: "1" },
        "inject-traceparent": { type: "boolean" },
        debug: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    const first = (e as Error).message.split("\n")[0]!.replace(/\.$/, "");
    // "-5" after a space reads as an option to parseArgs: say how to write it instead.
    const flag = /^Option '(--[\w-]+)' argument is ambiguous/.exec(first)?.[1];
    throw new UpspanError(
      flag
        ? `${flag} got a value that starts with "-"; write it as ${flag}=VALUE.`
        : `${first}; see --help.`,
      2,
    );
  }
  if (values.help) {
    return {
      pids: [],
      selectors: {},
      format: "pretty",
      dump: false,
      hex: false,
      captureBytes: 16384,
      metricsHost: "127.0.0.1",
      sampleRatio: 1,
      debug: false,
      help: true,
    };
  }
  const format = values.format;
  if (format !== "pretty" && format !== "json") {
    throw new UpspanError(`--format must be "pretty" or "json", not "${format}".`, 2);
  }
  const pids = (values.pid ?? []).map((p) => positiveInt("--pid", p, 2 ** 22));
  for (const glob of values.exe ?? []) {
    if (glob.trim() === "") {
      throw new UpspanError(
        `--exe needs a glob such as "python3*" or "/usr/sbin/nginx", not an empty one.`,
        2,
      );
    }
    try {
      globToRegExp(glob);
    } catch {
      throw new UpspanError(
        `--exe "${glob}" is not a glob upspan can read (a character class out of order?); see --help.`,
        2,
      );
    }
  }
  const selectors: Selectors = {
    exes: values.exe ?? [],
    ports: (values.port ?? []).map((p) => positiveInt("--port", p, 65535)),
    all: values.all,
    containers: values.container ?? [],
  };
  for (const id of selectors.containers!) {
    if (!/^[0-9a-fA-F]{1,64}$/.test(id)) {
      throw new UpspanError(
        `--container needs a container id (hex digits, as \`docker ps --no-trunc\` shows), not "${id}".`,
        2,
      );
    }
  }
  if (pids.length === 0 && !watchesProcesses(selectors)) {
    throw new UpspanError(
      "Name what to trace with --pid N, --exe GLOB, --port N, --container ID or --all; see --help.",
      2,
    );
  }
  let durationSeconds: number | undefined;
  if (values.duration !== undefined) {
    durationSeconds = Number(values.duration);
    if (
      !DECIMAL.test(values.duration) || !Number.isFinite(durationSeconds) || durationSeconds <= 0
    ) {
      throw new UpspanError(
        `--duration needs a positive number of seconds, not "${values.duration}".`,
        2,
      );
    }
  }
  const otlpEndpoint = values["otlp-endpoint"];
  if (otlpEndpoint !== undefined && !isHttpUrl(otlpEndpoint)) {
    throw new UpspanError(
      `--otlp-endpoint needs an http:// or https:// URL such as http://127.0.0.1:4318, not "${
        quotedEndpoint(otlpEndpoint)
      }".`,
      2,
    );
  }
  const metricsPort = values["metrics-port"] === undefined
    ? undefined
    : positiveInt("--metrics-port", values["metrics-port"], 65535);
  const metricsHost = values["metrics-host"] ?? "127.0.0.1";
  if (values["metrics-host"] !== undefined) {
    if (!isHost(metricsHost)) {
      throw new UpspanError(
        `--metrics-host needs an address or host name such as 127.0.0.1, 0.0.0.0 or ::, not "${metricsHost}".`,
        2,
      );
    }
    if (metricsPort === undefined) {
      throw new UpspanError(
        "--metrics-host goes with --metrics-port N; add it or drop --metrics-host.",
        2,
      );
    }
  }
  if (values.hex && !values.dump) {
    throw new UpspanError("--hex shows --dump output as a hexdump; add --dump or drop --hex.", 2);
  }
  const ratioText = values["sample-ratio"];
  const sampleRatio = Number(ratioText);
  if (!DECIMAL.test(ratioText) || !(sampleRatio >= 0 && sampleRatio <= 1)) {
    throw new UpspanError(`--sample-ratio needs a number from 0 to 1, not "${ratioText}".`, 2);
  }
  return {
    pids,
    selectors,
    format,
    dump: values.dump,
    hex: values.hex,
    captureBytes: positiveInt("--capture-bytes", values["capture-bytes"], 65536),
    durationSeconds,
    otlpEndpoint,
    metricsPort,
    metricsHost,
    sampleRatio,
    ...(values["inject-traceparent"] ? { injectTraceparent: true } : {}),
    debug: values.debug,
    help: false,
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "es".slice(word.endsWith("s") ? 0 : 1)}`;
}

/** Runs the command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const stderr = (line: string) => console.error(line);
  if (argv[0] === "doctor") {
    if (argv.length > 1) {
      stderr(`upspan: doctor takes no options, not "${argv[1]}"; see --help.`);
      return 2;
    }
    return await runDoctor({ objectPath: CAPTURE_OBJECT });
  }
  let opts: CliOptions;
  try {
    opts = parseCli(argv);
  } catch (e) {
    stderr(`upspan: ${(e as Error).message}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }

  // The engine routes every span and measures it (the RED metrics) before sampling; what
  // it hands on is exported.
  const otlpOn = opts.otlpEndpoint !== undefined ||
    !!Deno.env.get("OTEL_EXPORTER_OTLP_ENDPOINT")?.trim() ||
    !!Deno.env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")?.trim();
  // An endpoint from the environment is a setting like --otlp-endpoint: checked the same.
  for (const signal of ["", "_TRACES", "_METRICS"]) {
    const name = `OTEL_EXPORTER_OTLP${signal}_ENDPOINT`;
    const value = Deno.env.get(name)?.trim();
    if (otlpOn && value && !isHttpUrl(value)) {
      stderr(
        `upspan: ${name} needs an http:// or https:// URL such as http://127.0.0.1:4318, not "${
          quotedEndpoint(value)
        }".`,
      );
      return 2;
    }
  }
  const metrics = otlpOn || opts.metricsPort !== undefined ? new SpanMetrics() : undefined;
  let otlp: OtlpSpanExporter | undefined;
  let otlpMetrics: OtlpMetricsExporter | undefined;
  if (otlpOn) {
    // A specifier Deno cannot see ahead of time: the npm packages load only now.
    const otlpModule = "./export/otlp.ts";
    const { OtlpSpanExporter } = await import(otlpModule) as typeof import("./export/otlp.ts");
    const metricsModule = "./export/otlp_metrics.ts";
    const { OtlpMetricsExporter } = await import(
      metricsModule
    ) as typeof import("./export/otlp_metrics.ts");
    try {
      otlp = new OtlpSpanExporter({
        endpoint: opts.otlpEndpoint,
        log: (l) => stderr(`upspan: ${l}`),
      });
      if (metrics) {
        otlpMetrics = new OtlpMetricsExporter(metrics, { endpoint: opts.otlpEndpoint });
      }
    } catch (e) {
      // An OTEL_EXPORTER_OTLP_* file that cannot be read: a setting to fix, like a flag.
      stderr(
        `upspan: ${(e as Error).message.replace(/\.$/, "")}; fix the OTEL_EXPORTER_OTLP_* setting.`,
      );
      await otlp?.shutdown();
      return 2;
    }
  }
  const health: AgentHealth = { spans: 0 };
  let spansKept = 0;
  let prom: PrometheusServer | undefined;
  if (opts.metricsPort !== undefined && metrics) {
    try {
      prom = new PrometheusServer({
        port: opts.metricsPort,
        hostname: opts.metricsHost,
        metrics,
        health: () => {
          const h: AgentHealth = { ...health, spansSampledOut: health.spans! - spansKept };
          if (otlp) {
            const st = otlp.stats;
            h.spansExported = st.exported;
            h.otlpPending = st.queued + st.inFlightSpans;
            h.spansExportDropped = {
              queueFull: st.droppedQueueFull,
              exportFailed: st.droppedExportFailed,
            };
          }
          return h;
        },
      });
    } catch (e) {
      stderr(
        `upspan: Cannot serve metrics on port ${opts.metricsPort} of ${opts.metricsHost} (${
          (e as Error).message.split("\n")[0]!.replace(/[.:]\s*$/, "")
        }); choose another ${
          e instanceof Deno.errors.AddrNotAvailable ? "--metrics-host" : "--metrics-port"
        }.`,
      );
      await otlp?.shutdown();
      return 1;
    }
  }
  const exportSpan = (span: Span) => {
    spansKept++;
    exporter.export(span);
    otlp?.export(span);
  };
  // Counted as the engine measures them, so /metrics is current between its stats calls.
  const recorder = {
    record(span: Span) {
      health.spans!++;
      metrics?.record(span);
    },
  };

  const ac = new AbortController();
  const stop = () => ac.abort();
  let warmedUp: ReturnType<typeof setTimeout> | undefined;
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  onStdoutClosed(stop);

  const offset = realtimeNs() - monotonicNs();
  const exporter: SpanExporter = opts.format === "json"
    ? new JsonLinesExporter()
    : new PrettyExporter();
  // The warm-up's spans are serialized as real ones are, then dropped. UPSPAN_WARM_UP=0
  // skips it: 0.4 s less CPU at start, the first seconds' spans at twice the CPU.
  const warmUp = Deno.env.get("UPSPAN_WARM_UP") === "0" ? undefined : () => {
    const discard = () => {};
    const warm: SpanExporter = opts.format === "json"
      ? new JsonLinesExporter({ write: discard })
      : new PrettyExporter({ write: discard });
    return (span: Span) => warm.export(span);
  };
  const dump = opts.dump
    ? new DumpPrinter({ toUnixNano: (m) => m + offset, hex: opts.hex })
    : undefined;
  if (dump) {
    stderr(
      "upspan: --dump prints the plaintext it captures as it is (passwords, tokens, cookies and headers included); keep its output private.",
    );
  }
  let summary: TraceSummary;
  try {
    summary = await trace({
      pids: opts.pids,
      watch: watchesProcesses(opts.selectors)
        ? selectorWatch(opts.selectors, (line) => stderr(`upspan: ${line}`))
        : undefined,
      durationSeconds: opts.durationSeconds,
      captureBytes: opts.captureBytes,
      signal: ac.signal,
      log: (line) => stderr(line),
      debugLog: opts.debug ? stderr : undefined,
      onSpan: dump ? undefined : exportSpan,
      warmUp,
      sampleRatio: opts.sampleRatio,
      injectTraceparent: opts.injectTraceparent,
      metrics: recorder,
      onStats: (s) => {
        health.eventsRead = s.events;
        health.eventsDropped = s.dropped;
        health.connectionsTracked = s.connections;
        health.connectionsEvicted = s.connectionsEvicted;
        health.requestsDropped = s.requestsDropped;
      },
      onChunk: dump
        ? (chunk, process, socket) => dump.print(chunk, process?.comm, socket)
        : undefined,
      onReady: (r) => {
        // Start-up is over: the executable's pages it alone needed need not stay resident,
        // nor the C heap's freed pages (before `ready` is said, so that whoever waits for it
        // sees the agent's memory as it runs; a few ms); once more when V8 has compiled the
        // hot path, for the compilers' pages and what they allocated.
        const release = () => {
          releaseFilePages();
          releaseFreedMemory();
        };
        release();
        warmedUp = setTimeout(release, WARM_UP_MS);
        health.processesTraced = r.processes.length;
        health.probesAttached = r.probes + r.tracepoints;
        stderr(
          `ready: ${plural(r.probes, "probe")} on ${
            plural(r.processes.length, "process")
          } (${r.tracepoints} tracepoints, syscalls via ${r.syscallAttach})`,
        );
      },
    });
  } catch (e) {
    if (e instanceof UpspanError) {
      stderr(`upspan: ${e.message}`);
      return e.exitCode;
    }
    stderr(`upspan: ${(e as Error).message}`);
    if (opts.debug) stderr((e as Error).stack ?? "");
    return 1;
  } finally {
    clearTimeout(warmedUp);
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    await exporter.shutdown();
    // Each bounded (3 s) and side by side: the agent is gone within 5 s of a signal.
    await Promise.all([otlp?.shutdown(), otlpMetrics?.shutdown()]);
    await prom?.close();
  }
  stderr(
    `stopped: ${summary.spans} spans from ${summary.events} events; probe hits: ${summary.probeHits.write} write, ${summary.probeHits.readEntry} read, ${summary.probeHits.readReturn} read-return, ${summary.probeHits.libraries} Go and SQL library, ${summary.socketSyscalls} socket syscalls; ${summary.dropped} dropped`,
  );
  if (otlp) {
    const st = otlp.stats;
    stderr(
      `otlp: ${st.exported} spans exported to ${otlp.url}, ${
        st.droppedQueueFull + st.droppedExportFailed
      } dropped`,
    );
  }
  return 0;
}
