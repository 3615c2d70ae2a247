/**
 * A real OpenTelemetry Collector for the end-to-end tests, and a listener that reads what
 * it forwards. The collector is `main.go` beside this file — the collector's own OTLP
 * receiver and OTLP/HTTP exporter, pinned in `go.mod` — built once into
 * `${XDG_CACHE_HOME:-$HOME/.cache}/upspan/` (about 3 minutes on a 2-core machine the first
 * time, with the module downloads) and reused while its sources are unchanged. Tests run it
 * on loopback: upspan exports to it over OTLP/HTTP protobuf, and it forwards everything as
 * OTLP/JSON to {@linkcode startOtlpSink}.
 *
 * @example
 * ```ts ignore
 * await using sink = startOtlpSink();
 * await using collector = await startCollector({ forwardTo: sink.url });
 * // run the agent with --otlp-endpoint collector.endpoint, then:
 * const spans = await sink.waitForSpans((s) => s.span.kind === 2, 3);
 * ```
 *
 * @module
 */

const HERE = new URL(".", import.meta.url).pathname;
const SOURCES = ["go.mod", "go.sum", "main.go"];

/** The cache directory for the built collector. */
export function collectorCacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/upspan`;
}

async function sourceHash(): Promise<string> {
  const parts = await Promise.all(SOURCES.map((f) => Deno.readFile(`${HERE}${f}`)));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest.slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The path of the built collector, building it first when its sources changed or it was
 * never built. Throws with the Go tool's output when the build fails.
 */
export async function buildCollector(): Promise<string> {
  const dir = collectorCacheDir();
  const out = `${dir}/otelcol-upspan-${await sourceHash()}`;
  try {
    await Deno.stat(out);
    return out;
  } catch { /* build it */ }
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${out}.${Deno.pid}.tmp`;
  const result = await new Deno.Command("go", {
    args: ["build", "-o", tmp, "."],
    cwd: HERE,
    env: { GOFLAGS: "-mod=mod" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(
      `go build of the test collector failed:\n${new TextDecoder().decode(result.stderr)}`,
    );
  }
  await Deno.rename(tmp, out);
  return out;
}

/** A span as OTLP/JSON carries it (the fields the tests read). */
export interface OtlpJsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpJsonKeyValue[];
  status?: { code?: number; message?: string };
  flags?: number;
}

/** One OTLP/JSON attribute. */
export interface OtlpJsonKeyValue {
  key: string;
  value: {
    stringValue?: string;
    intValue?: string | number;
    boolValue?: boolean;
    doubleValue?: number;
  };
}

/** A received span with its resource and scope. */
export interface ReceivedSpan {
  span: OtlpJsonSpan;
  resource: Record<string, string | number | boolean>;
  scope: { name?: string; version?: string };
}

/** OTLP/JSON attributes as a flat object (ints as numbers). */
export function flatten(
  kvs: readonly OtlpJsonKeyValue[] = [],
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of kvs) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
  }
  return out;
}

/** A listener that stores what the collector forwards (OTLP/JSON over HTTP). */
export interface OtlpSink extends AsyncDisposable {
  /** Base URL for the collector's `otlphttp` exporter. */
  url: string;
  spans: ReceivedSpan[];
  /** Every `/v1/metrics` request body, parsed. */
  metrics: unknown[];
  /** Resolves when `count` received spans match `pred` (rejects after `timeoutMs`). */
  waitForSpans(
    pred: (s: ReceivedSpan) => boolean,
    count: number,
    timeoutMs?: number,
  ): Promise<ReceivedSpan[]>;
  /** Resolves when `pred` holds for the metrics received so far. */
  waitForMetrics(pred: (bodies: unknown[]) => boolean, timeoutMs?: number): Promise<void>;
}

/** Polls `check` every 50 ms until it returns true, or throws `message()` after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  message: () => string,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(message());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts an OTLP/JSON listener on 127.0.0.1 (a free port). */
export function startOtlpSink(): OtlpSink {
  const spans: ReceivedSpan[] = [];
  const metrics: unknown[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const body = await req.json().catch(() => undefined);
    if (path === "/v1/traces" && body) {
      for (const rs of body.resourceSpans ?? []) {
        const resource = flatten(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const span of ss.spans ?? []) {
            spans.push({ span, resource, scope: ss.scope ?? {} });
          }
        }
      }
    } else if (path === "/v1/metrics" && body) {
      metrics.push(body);
    }
    return Response.json({});
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    spans,
    metrics,
    async waitForSpans(pred, count, timeoutMs = 20_000) {
      await until(
        () => spans.filter(pred).length >= count,
        timeoutMs,
        () =>
          `timed out waiting for ${count} spans at the sink; have ${spans.length}:\n${
            JSON.stringify(spans.map((s) => [s.span.name, flatten(s.span.attributes)["url.path"]]))
          }`,
      );
      return spans.filter(pred);
    },
    async waitForMetrics(pred, timeoutMs = 20_000) {
      await until(
        () => pred(metrics),
        timeoutMs,
        () =>
          `timed out waiting for metrics at the sink; have ${
            JSON.stringify(metrics).slice(0, 2000)
          }`,
      );
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A running collector. */
export interface Collector extends AsyncDisposable {
  /** OTLP/HTTP base URL (give it to `--otlp-endpoint`). */
  endpoint: string;
  port: number;
  /** Pid of the current process (changes on `start`). */
  pid(): number;
  /** Its log so far, across restarts. */
  log(): string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s). Safe to call twice. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/** Options for {@linkcode startCollector}. */
export interface CollectorOptions {
  /** Where the collector forwards traces and metrics (a {@linkcode OtlpSink} URL). */
  forwardTo: string;
  /** Port of its OTLP/HTTP receiver. Default: a free port. */
  port?: number;
  /** Serve the receiver over https with this certificate and key. Default: plain http. */
  tls?: { cert: string; key: string };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

async function accepting(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/** Builds (if needed) and starts the collector; resolves once its receiver accepts. */
export async function startCollector(options: CollectorOptions): Promise<Collector> {
  const binary = await buildCollector();
  const port = options.port ?? freePort();
  const dir = await Deno.makeTempDir({ prefix: "upspan-collector-" });
  const config = `${dir}/config.yaml`;
  // Forward synchronously (no queue, no retry): a batch upspan sends succeeds only once
  // the sink has it, so counts on both sides must agree.
  await Deno.writeTextFile(
    config,
    `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${port}${
      options.tls
        ? `
        tls:
          cert_file: ${options.tls.cert}
          key_file: ${options.tls.key}`
        : ""
    }
exporters:
  otlphttp:
    endpoint: ${options.forwardTo}
    encoding: json
    compression: none
    retry_on_failure:
      enabled: false
    sending_queue:
      enabled: false
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
    metrics:
      receivers: [otlp]
      exporters: [otlphttp]
`,
  );
  let log = "";
  let child: Deno.ChildProcess | undefined;
  let status: Promise<Deno.CommandStatus> | undefined;

  const start = async () => {
    const c = new Deno.Command(binary, {
      args: [`--config=file:${config}`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    child = c;
    status = c.status;
    for (const stream of [c.stdout, c.stderr]) {
      (async () => {
        for await (const text of stream.pipeThrough(new TextDecoderStream())) log += text;
      })();
    }
    let exited = false;
    status.then(() => (exited = true));
    await until(
      async () => exited || await accepting(port),
      30_000,
      () => `the collector did not start listening on ${port}:\n${log}`,
    );
    if (exited) throw new Error(`the collector exited at start:\n${log}`);
  };

  const stop = async () => {
    const c = child;
    if (c === undefined) return;
    child = undefined;
    try {
      c.kill("SIGTERM");
    } catch { /* already gone */ }
    const t = setTimeout(() => {
      try {
        c.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await status;
    clearTimeout(t);
  };

  await start();
  return {
    endpoint: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    pid: () => child?.pid ?? -1,
    log: () => log,
    stop,
    start,
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

// `deno run -A tests/collector/collector.ts` builds the collector ahead of the tests (an
// install or CI step) and prints its path.
if (import.meta.main) console.log(await buildCollector());
