/**
 * One OTLP/HTTP signal's transport: POSTs an encoded protobuf body to the backend with a
 * `Content-Length`, retries what the OTLP specification calls retryable (429, 502, 503,
 * 504, a broken connection) with exponential back-off, and bounds every attempt and the
 * whole send by the export timeout -- a backend that accepts and never answers, or
 * trickles its answer, costs at most that long. {@linkcode OtlpHttpClient.close} aborts
 * whatever is still in flight at once, so shutdown never waits on the network.
 *
 * Configured like every OpenTelemetry SDK, from `OTEL_EXPORTER_OTLP_*` and the
 * signal-specific `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_*` variables (the specific one
 * wins): `ENDPOINT`, `HEADERS`, `TIMEOUT`, `COMPRESSION` (`gzip`), `CERTIFICATE` (a PEM
 * file of CAs to trust besides the system's), `CLIENT_CERTIFICATE` and `CLIENT_KEY` (PEM
 * files for mutual TLS).
 *
 * @module
 */

import { type ExportResult, ExportResultCode } from "@opentelemetry/core";

/** The OTLP signals upspan sends. */
export type OtlpSignal = "traces" | "metrics";

/** Options for {@linkcode OtlpHttpClient}; each defaults from the variables. */
export interface OtlpHttpOptions {
  /** Base URL (`<endpoint>/v1/<signal>`); the signal-specific variable, when set, wins. */
  endpoint?: string;
  /** Extra request headers, on top of the `HEADERS` variables. */
  headers?: Record<string, string>;
  /** Most time one send may take, retries included, in ms. Default `TIMEOUT`, else 10 000. */
  timeoutMillis?: number;
  /** How the variables are read (for tests). Default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
}

/** How a send ended. */
export type SendResult = { ok: true } | { ok: false; error: string };

const DEFAULT_ENDPOINT = "http://localhost:4318";
/** The OTLP specification's retryable HTTP statuses. */
const RETRYABLE = new Set([429, 502, 503, 504]);
/** A response body bigger than this is not read (the answer is tiny by the protocol). */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** The value of a signal's setting: `OTEL_EXPORTER_OTLP_<SIGNAL>_<name>`, else the general one. */
function setting(
  env: (name: string) => string | undefined,
  signal: OtlpSignal,
  name: string,
): string | undefined {
  const specific = env(`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_${name}`)?.trim();
  return specific || env(`OTEL_EXPORTER_OTLP_${name}`)?.trim() || undefined;
}

/**
 * Where a signal goes: the signal-specific variable exactly as written, else the flag's or
 * the general variable's base URL with `/v1/<signal>`, else localhost.
 */
export function signalUrl(
  signal: OtlpSignal,
  endpoint: string | undefined,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): string {
  const specific = env(`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`)?.trim();
  if (specific) return specific;
  const base = endpoint?.trim() || env("OTEL_EXPORTER_OTLP_ENDPOINT")?.trim() ||
    DEFAULT_ENDPOINT;
  return base.replace(/\/+$/, "") + `/v1/${signal}`;
}

/**
 * `OTEL_EXPORTER_OTLP_HEADERS` syntax: `key1=value1,key2=value2`, values percent-decoded.
 * A malformed entry is skipped (the specification says to log and ignore it).
 */
export function parseHeaders(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? "").split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch { /* kept as written */ }
    if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) out[key] = value;
  }
  return out;
}

/** A URL fit for a log line: no user, password, query or fragment. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(an unparsable URL)";
  }
}

function readPem(path: string, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(`Cannot read the ${what} "${path}" (${(e as Error).message}).`);
  }
}

/**
 * POSTs OTLP protobuf bodies for one signal.
 *
 * @example
 * ```ts ignore
 * const client = new OtlpHttpClient("traces", { endpoint: "http://127.0.0.1:4318" });
 * const result = await client.send(ProtobufTraceSerializer.serializeRequest(spans)!);
 * client.close(); // aborts what is in flight
 * ```
 */
export class OtlpHttpClient {
  /** Where bodies go. */
  readonly url: string;
  /** The same, fit for logs (no credentials). */
  readonly safeUrl: string;
  readonly #headers: Record<string, string>;
  readonly #timeout: number;
  readonly #gzip: boolean;
  readonly #client: Deno.HttpClient | undefined;
  readonly #closing = new AbortController();

  /** Throws (one sentence) when a certificate or key file named by the variables is unreadable. */
  constructor(signal: OtlpSignal, options: OtlpHttpOptions = {}) {
    const env = options.env ?? ((n: string) => Deno.env.get(n));
    this.url = signalUrl(signal, options.endpoint, env);
    this.safeUrl = safeUrl(this.url);
    this.#headers = {
      ...parseHeaders(env("OTEL_EXPORTER_OTLP_HEADERS")),
      ...parseHeaders(env(`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_HEADERS`)),
      ...options.headers,
      "content-type": "application/x-protobuf",
    };
    const timeout = Number(setting(env, signal, "TIMEOUT"));
    this.#timeout = options.timeoutMillis ??
      (Number.isFinite(timeout) && timeout > 0 ? timeout : 10_000);
    this.#gzip = setting(env, signal, "COMPRESSION")?.toLowerCase() === "gzip";
    if (this.#gzip) this.#headers["content-encoding"] = "gzip";
    const ca = setting(env, signal, "CERTIFICATE");
    const cert = setting(env, signal, "CLIENT_CERTIFICATE");
    const key = setting(env, signal, "CLIENT_KEY");
    if (ca || cert || key) {
      this.#client = Deno.createHttpClient({
        ...(ca ? { caCerts: [readPem(ca, "OTLP CA certificate")] } : {}),
        ...(cert && key
          ? { cert: readPem(cert, "OTLP client certificate"), key: readPem(key, "OTLP client key") }
          : {}),
      });
    }
  }

  /** The timeout that bounds one send. */
  get timeoutMillis(): number {
    return this.#timeout;
  }

  /**
   * Sends one encoded batch for an OpenTelemetry SDK exporter and tells `done` how it went;
   * `body` undefined (the serializer failed) fails at once, naming `what` was not encoded.
   */
  export(
    body: Uint8Array | undefined,
    what: string,
    done: (result: ExportResult) => void,
  ): void {
    if (body === undefined) {
      done({ code: ExportResultCode.FAILED, error: new Error(`the ${what} could not be encoded`) });
      return;
    }
    this.send(body).then((r) =>
      done(
        r.ok
          ? { code: ExportResultCode.SUCCESS }
          : { code: ExportResultCode.FAILED, error: new Error(r.error) },
      )
    );
  }

  /**
   * Sends one body, retrying while the backend says "later" and time is left. Never
   * throws; after {@linkcode close} it fails at once.
   */
  async send(body: Uint8Array): Promise<SendResult> {
    const deadline = performance.now() + this.#timeout;
    const payload = this.#gzip ? await gzip(body) : body;
    let backoff = 1000;
    for (let attempt = 1;; attempt++) {
      if (this.#closing.signal.aborted) return { ok: false, error: "the exporter was shut down" };
      const left = deadline - performance.now();
      const outcome = await this.#attempt(payload, Math.max(1, left));
      if (outcome.ok) return { ok: true };
      // Out of time, or not worth another try: give up with what the backend said.
      const wait = Math.min(outcome.retryAfter ?? backoff * (0.8 + 0.4 * Math.random()), 5000);
      if (!outcome.retryable || performance.now() + wait >= deadline || attempt >= 6) {
        return { ok: false, error: outcome.error };
      }
      backoff *= 1.5;
      if (!await this.#sleep(wait)) return { ok: false, error: "the exporter was shut down" };
    }
  }

  async #attempt(
    payload: Uint8Array,
    timeoutMs: number,
  ): Promise<
    { ok: true } | { ok: false; retryable: boolean; retryAfter?: number; error: string }
  > {
    const ac = new AbortController();
    const timer = setTimeout(
      () => ac.abort(new DOMException("no answer within the export timeout", "TimeoutError")),
      timeoutMs,
    );
    const onClose = () => ac.abort(new DOMException("shut down", "AbortError"));
    this.#closing.signal.addEventListener("abort", onClose);
    try {
      return await this.#post(payload, ac.signal);
    } finally {
      clearTimeout(timer);
      this.#closing.signal.removeEventListener("abort", onClose);
    }
  }

  async #post(
    payload: Uint8Array,
    signal: AbortSignal,
  ): Promise<
    { ok: true } | { ok: false; retryable: boolean; retryAfter?: number; error: string }
  > {
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: "POST",
        headers: this.#headers,
        body: payload as Uint8Array<ArrayBuffer>,
        signal,
        ...(this.#client ? { client: this.#client } : {}),
      });
    } catch (e) {
      return {
        ok: false,
        retryable: !signal.aborted || isTimeout(signal),
        error: describe(e, signal),
      };
    }
    // Read the (small) answer whole, under the same bound: a trickling backend is cut off.
    try {
      await readBounded(res, signal);
    } catch (e) {
      return {
        ok: false,
        retryable: !signal.aborted || isTimeout(signal),
        error: describe(e, signal),
      };
    }
    if (res.ok) return { ok: true };
    const error = `HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}`;
    if (!RETRYABLE.has(res.status)) return { ok: false, retryable: false, error };
    return { ok: false, retryable: true, retryAfter: retryAfterMs(res.headers), error };
  }

  /** Waits `ms`; false when {@linkcode close} came first. */
  #sleep(ms: number): Promise<boolean> {
    const signal = this.#closing.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve(!signal.aborted);
      };
      const t = setTimeout(done, ms);
      signal.addEventListener("abort", done);
    });
  }

  /** Aborts every send in flight and refuses new ones; closes the TLS client. */
  close(): void {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    this.#client?.close();
  }
}

function isTimeout(signal: AbortSignal): boolean {
  return (signal.reason as Error | undefined)?.name === "TimeoutError";
}

function describe(e: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    return isTimeout(signal) ? "no answer within the export timeout" : "the exporter was shut down";
  }
  return (e as Error).message?.split("\n")[0] ?? String(e);
}

async function readBounded(res: Response, signal: AbortSignal): Promise<void> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const cancel = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", cancel);
  try {
    let n = 0;
    while (true) {
      if (signal.aborted) throw signal.reason;
      const { done, value } = await reader.read();
      if (signal.aborted) throw signal.reason;
      if (done) return;
      n += value.length;
      if (n > MAX_RESPONSE_BYTES) throw new Error("the answer is over 4 MiB");
    }
  } finally {
    signal.removeEventListener("abort", cancel);
    cancel();
  }
}

/** `Retry-After` in seconds or as a date, in ms; undefined when absent or unreadable. */
function retryAfterMs(headers: Headers): number | undefined {
  const v = headers.get("retry-after")?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

async function gzip(body: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([body as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
