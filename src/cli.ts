/**
 * The command line: parse flags, run {@link trace}, print spans to stdout and status to
 * stderr, exit 0 on SIGINT/SIGTERM, 2 on a usage mistake, 1 on a run-time failure — each
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
import { monotonicNs, realtimeNs } from "../ffi/mod.ts";
import { trace, type TraceSummary } from "./trace.ts";

export const USAGE = `Usage: deno run -A mod.ts --pid N [options]

Traces the HTTPS traffic of running processes (OpenSSL's SSL_read/SSL_write) and prints
one span per HTTP exchange, with no change to the processes.

Selectors:
  --pid N                a process to trace (repeatable)

Options:
  --format pretty|json   pretty (default): a live span tree; json: one span per line
  --dump                 print the captured plaintext of every TLS read and write instead
  --hex                  with --dump: show data as a hexdump
  --capture-bytes N      most plaintext bytes captured per SSL call (default 16384)
  --duration SECONDS     stop by itself after this long
  --debug                show libbpf's log and stack traces
  -h, --help             show this help
`;

/** Parsed command-line options. */
export interface CliOptions {
  pids: number[];
  format: "pretty" | "json";
  dump: boolean;
  hex: boolean;
  captureBytes: number;
  durationSeconds?: number;
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
        format: { type: "string", default: "pretty" },
        dump: { type: "boolean", default: false },
        hex: { type: "boolean", default: false },
        "capture-bytes": { type: "string", default: "16384" },
        duration: { type: "string" },
        debug: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    throw new UpspanError(`${(e as Error).message.split("\n")[0]}; see --help.`, 2);
  }
  if (values.help) {
    return {
      pids: [],
      format: "pretty",
      dump: false,
      hex: false,
      captureBytes: 16384,
      debug: false,
      help: true,
    };
  }
  const format = values.format;
  if (format !== "pretty" && format !== "json") {
    throw new UpspanError(`--format must be "pretty" or "json", not "${format}".`, 2);
  }
  const pids = (values.pid ?? []).map((p) => positiveInt("--pid", p, 2 ** 22));
  if (pids.length === 0) {
    throw new UpspanError("Name a process to trace with --pid N; see --help.", 2);
  }
  let durationSeconds: number | undefined;
  if (values.duration !== undefined) {
    durationSeconds = Number(values.duration);
    if (!Number.isFinite(durationSeconds) || durationSeconds <= 0) {
      throw new UpspanError(
        `--duration needs a positive number of seconds, not "${values.duration}".`,
        2,
      );
    }
  }
  return {
    pids,
    format,
    dump: values.dump,
    hex: values.hex,
    captureBytes: positiveInt("--capture-bytes", values["capture-bytes"], 65536),
    durationSeconds,
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

  const ac = new AbortController();
  const stop = () => ac.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  onStdoutClosed(stop);

  const offset = realtimeNs() - monotonicNs();
  const exporter: SpanExporter = opts.format === "json"
    ? new JsonLinesExporter()
    : new PrettyExporter();
  const dump = opts.dump
    ? new DumpPrinter({ toUnixNano: (m) => m + offset, hex: opts.hex })
    : undefined;
  let summary: TraceSummary;
  try {
    summary = await trace({
      pids: opts.pids,
      durationSeconds: opts.durationSeconds,
      captureBytes: opts.captureBytes,
      signal: ac.signal,
      log: (line) => stderr(line),
      debugLog: opts.debug ? stderr : undefined,
      onSpan: dump ? undefined : (span) => exporter.export(span),
      onChunk: dump
        ? (chunk, process, socket) => dump.print(chunk, process?.comm, socket)
        : undefined,
      onReady: (r) => {
        stderr(
          `ready: ${plural(r.probes, "probe")} on ${
            plural(r.processes.length, "process")
          } (${r.tracepoints} syscall tracepoints)`,
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
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    await exporter.shutdown();
  }
  stderr(
    `stopped: ${summary.spans} spans from ${summary.events} events; probe hits: ${summary.probeHits.write} write, ${summary.probeHits.readEntry} read, ${summary.probeHits.readReturn} read-return; ${summary.dropped} dropped`,
  );
  return 0;
}
