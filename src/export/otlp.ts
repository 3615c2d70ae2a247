/**
 * `--otlp-endpoint URL`: spans to an OpenTelemetry backend over OTLP/HTTP (protobuf),
 * encoded by the OpenTelemetry JS serializer and sent by {@linkcode OtlpHttpClient}, whose
 * every request is bounded in time (the JS exporter's Node `http` transport, under Deno,
 * left a backend that never answers holding the agent at exit). upspan's own {@link Span}s
 * become `ReadableSpan`s only when a batch is sent. Between the engine and the network sits a bounded queue: when
 * the backend is slow or gone, spans beyond the queue are dropped and counted, so the
 * agent never stalls and never grows without bound; when the backend returns, export
 * resumes by itself.
 *
 * @module
 */
import {
  type HrTime,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
} from "@opentelemetry/api";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { Attributes, Span } from "../model/span.ts";
import type { SpanExporter } from "./exporter.ts";
import { DISTRO_VERSION } from "../resource.ts";
import { OtlpHttpClient } from "./otlp_http.ts";

/** The instrumentation scope of every span upspan exports. */
export const INSTRUMENTATION_SCOPE = { name: "upspan", version: DISTRO_VERSION } as const;

/** The part of the OpenTelemetry JS `SpanExporter` that {@linkcode OtlpSpanExporter} drives. */
export interface ReadableSpanSink {
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

/** Options for {@linkcode OtlpSpanExporter}. */
export interface OtlpSpanExporterOptions {
  /**
   * Base URL of the OTLP/HTTP endpoint (like `OTEL_EXPORTER_OTLP_ENDPOINT`); spans go to
   * `<endpoint>/v1/traces`. `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, when set, wins (it names
   * the traces URL exactly). Default: what the OTEL_EXPORTER_OTLP_* variables say, else
   * `http://localhost:4318` (see {@linkcode OtlpHttpClient} for the other variables).
   */
  endpoint?: string;
  /** Extra request headers; default from `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`. */
  headers?: Record<string, string>;
  /**
   * Most time one batch may take, retries included, in ms; default from
   * `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT`, else 10 000.
   */
  timeoutMillis?: number;
  /**
   * Most spans waiting to be sent; more are dropped and counted. Default
   * `OTEL_BSP_MAX_QUEUE_SIZE`, else 8192.
   */
  maxQueueSize?: number;
  /** Most spans per request. Default `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, else 512. */
  maxBatchSize?: number;
  /**
   * How long a span may wait for a batch to fill, in ms. Default
   * `OTEL_BSP_SCHEDULE_DELAY`, else 1000.
   */
  scheduledDelayMillis?: number;
  /** Most requests in flight at once. Default 2. */
  maxConcurrentExports?: number;
  /**
   * Most time {@linkcode OtlpSpanExporter.shutdown} waits for the last sends, in ms; then
   * what is in flight is aborted. Default 3000 (the agent exits within 5 s of a signal).
   */
  shutdownTimeoutMillis?: number;
  /** Status lines (export failing, resumed); default: none. Said at most every 5 s. */
  log?: (line: string) => void;
  /** What sends the batches; default the OTLP protobuf encoding over HTTP (for tests). */
  sink?: ReadableSpanSink;
}

/** What an {@linkcode OtlpSpanExporter} has done so far. */
export interface OtlpExportStats {
  /** Spans the backend accepted. */
  exported: number;
  /** Spans dropped because the queue was full. */
  droppedQueueFull: number;
  /** Spans dropped because their batch failed (after the exporter's own retries). */
  droppedExportFailed: number;
  /** Spans waiting in the queue now. */
  queued: number;
  /** Requests in flight now. */
  inFlight: number;
  /** Spans in those requests. */
  inFlightSpans: number;
}

/**
 * A positive whole number from an environment variable, else undefined (an invalid value
 * is ignored, as the specification says). At most 2³¹-1: a timer given more fires at once.
 */
export function envInt(name: string): number | undefined {
  const n = Number(Deno.env.get(name)?.trim() || NaN);
  return Number.isSafeInteger(n) && n > 0 && n <= 2 ** 31 - 1 ? n : undefined;
}

function hrTime(unixNano: bigint): HrTime {
  return [Number(unixNano / 1_000_000_000n), Number(unixNano % 1_000_000_000n)];
}

const KINDS = { SERVER: SpanKind.SERVER, CLIENT: SpanKind.CLIENT, INTERNAL: SpanKind.INTERNAL };
const CODES = { UNSET: SpanStatusCode.UNSET, OK: SpanStatusCode.OK, ERROR: SpanStatusCode.ERROR };

const resources = new WeakMap<Attributes, Resource>();

/**
 * The OpenTelemetry `Resource` of a span's resource attributes: one object per process
 * (keyed by the attribute object, which a process's spans share), so the OTLP encoder
 * groups each process's spans under one resource.
 */
export function otelResource(attributes: Attributes): Resource {
  let r = resources.get(attributes);
  if (r === undefined) {
    r = resourceFromAttributes(attributes);
    resources.set(attributes, r);
  }
  return r;
}

/**
 * An upspan {@link Span} as the OpenTelemetry SDK's `ReadableSpan`, which the OTLP
 * encoders take. A parent from another process is marked remote.
 *
 * @example
 * ```ts ignore
 * const readable = toReadableSpan(span);
 * readable.spanContext().traceId === span.traceId; // true
 * ```
 */
export function toReadableSpan(span: Span): ReadableSpan {
  const ctx: SpanContext = {
    traceId: span.traceId,
    spanId: span.spanId,
    traceFlags: TraceFlags.SAMPLED,
  };
  const start = hrTime(span.startTimeUnixNano);
  const end = hrTime(span.endTimeUnixNano);
  const status = span.status.message === undefined || span.status.message === ""
    ? { code: CODES[span.status.code] }
    : { code: CODES[span.status.code], message: span.status.message };
  return {
    name: span.name,
    kind: KINDS[span.kind],
    spanContext: () => ctx,
    parentSpanContext: span.parentSpanId === "" ? undefined : {
      traceId: span.traceId,
      spanId: span.parentSpanId,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    },
    startTime: start,
    endTime: end,
    status,
    attributes: span.attributes,
    links: [],
    events: [],
    duration: hrTime(span.endTimeUnixNano - span.startTimeUnixNano),
    ended: true,
    resource: otelResource(span.resource),
    instrumentationScope: INSTRUMENTATION_SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/**
 * Exports spans over OTLP/HTTP in batches, from a bounded queue, with the exporter's
 * retries and back-off for each batch; counts what it could not deliver.
 *
 * @example
 * ```ts ignore
 * const otlp = new OtlpSpanExporter({ endpoint: "http://127.0.0.1:4318", log: console.error });
 * // engine.onSpan((span) => otlp.export(span));
 * await otlp.shutdown(); // sends what is queued (bounded by the timeout)
 * otlp.stats; // { exported: 1200, droppedQueueFull: 0, droppedExportFailed: 0, ... }
 * ```
 */
export class OtlpSpanExporter implements SpanExporter {
  #sink: ReadableSpanSink;
  #queue: Span[] = [];
  #maxQueue: number;
  #maxBatch: number;
  #delay: number;
  #maxInFlight: number;
  #timeout: number;
  #shutdownTimeout: number;
  #inFlight = 0;
  #inFlightSpans = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #abandoned = false;
  #idle: (() => void)[] = [];
  #log: (line: string) => void;
  #lastLog = -Infinity;
  #failing = false;
  #unreported = { queueFull: 0, failed: 0, error: "" };
  /** Where spans go, for messages (no credentials). */
  readonly url: string;

  readonly #stats = { exported: 0, droppedQueueFull: 0, droppedExportFailed: 0 };

  constructor(options: OtlpSpanExporterOptions = {}) {
    this.#maxQueue = options.maxQueueSize ?? envInt("OTEL_BSP_MAX_QUEUE_SIZE") ?? 8192;
    this.#maxBatch = Math.min(
      options.maxBatchSize ?? envInt("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") ?? 512,
      this.#maxQueue,
    );
    this.#delay = options.scheduledDelayMillis ?? envInt("OTEL_BSP_SCHEDULE_DELAY") ?? 1000;
    this.#maxInFlight = options.maxConcurrentExports ?? 2;
    this.#log = options.log ?? (() => {});
    this.#shutdownTimeout = options.shutdownTimeoutMillis ?? 3000;
    let client: OtlpHttpClient | undefined;
    if (options.sink === undefined) {
      client = new OtlpHttpClient("traces", {
        endpoint: options.endpoint,
        headers: options.headers,
        timeoutMillis: options.timeoutMillis,
      });
    }
    this.url = client?.safeUrl ?? "(a test sink)";
    this.#timeout = options.timeoutMillis ?? client?.timeoutMillis ?? 10_000;
    this.#sink = options.sink ?? new HttpSpanSink(client!);
  }

  /** Counters so far (a fresh object each call). */
  get stats(): OtlpExportStats {
    return {
      ...this.#stats,
      queued: this.#queue.length,
      inFlight: this.#inFlight,
      inFlightSpans: this.#inFlightSpans,
    };
  }

  /** Queues a span; drops it (counted) when the queue is full. Never blocks. */
  export(span: Span): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#maxQueue) {
      this.#stats.droppedQueueFull++;
      this.#unreported.queueFull++;
      this.#report();
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#maxBatch) this.#pump(false);
    else this.#schedule();
  }

  /** Sends what is queued after the batch delay, unless a send is already scheduled. */
  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump(true);
    }, this.#delay);
  }

  /** Starts sends while there is room in flight: full batches, or any batch when `due`. */
  #pump(due: boolean): void {
    while (
      this.#inFlight < this.#maxInFlight && this.#queue.length > 0 &&
      (due || this.#closed || this.#queue.length >= this.#maxBatch)
    ) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight++;
      this.#inFlightSpans += batch.length;
      this.#send(batch).finally(() => {
        this.#inFlight--;
        this.#inFlightSpans -= batch.length;
        this.#pump(false);
        if (this.#queue.length > 0) this.#schedule();
        if (this.#inFlight === 0 && this.#queue.length === 0) {
          for (const f of this.#idle.splice(0)) f();
        }
      });
    }
  }

  async #send(batch: Span[]): Promise<void> {
    let result: ExportResult;
    try {
      const readable = batch.map(toReadableSpan);
      result = await new Promise<ExportResult>((resolve) => {
        // The exporter bounds its own retries by its timeout; this bounds the exporter.
        const guard = setTimeout(
          () => resolve({ code: ExportResultCode.FAILED, error: new Error("export timed out") }),
          this.#timeout + 5000,
        );
        this.#sink.export(readable, (r) => {
          clearTimeout(guard);
          resolve(r);
        });
      });
    } catch (e) {
      result = { code: ExportResultCode.FAILED, error: e as Error };
    }
    if (this.#abandoned) return;
    if (result.code === ExportResultCode.SUCCESS) {
      this.#stats.exported += batch.length;
      if (this.#failing) {
        this.#failing = false;
        this.#report(true);
        this.#log(`OTLP export to ${this.url} resumed`);
      }
    } else {
      this.#stats.droppedExportFailed += batch.length;
      this.#unreported.failed += batch.length;
      this.#unreported.error = result.error?.message ?? "unknown error";
      this.#failing = true;
      this.#report();
    }
  }

  /** Says what was dropped since the last line, at most every 5 s (or now, when `force`). */
  #report(force = false): void {
    const u = this.#unreported;
    if (u.queueFull === 0 && u.failed === 0) return;
    const now = performance.now();
    if (!force && now - this.#lastLog < 5000) return;
    this.#lastLog = now;
    const parts: string[] = [];
    if (u.failed > 0) {
      parts.push(`${u.failed} spans dropped after failed export (${u.error.split("\n")[0]})`);
    }
    if (u.queueFull > 0) parts.push(`${u.queueFull} spans dropped because the queue was full`);
    this.#log(`OTLP export to ${this.url}: ${parts.join("; ")}`);
    this.#unreported = { queueFull: 0, failed: 0, error: "" };
  }

  /** Resolves once nothing is queued or in flight (or after `timeoutMs`). */
  async flush(timeoutMs = this.#timeout + 5000): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#pump(true);
    if (this.#inFlight === 0 && this.#queue.length === 0) return;
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((r) => this.#idle.push(r)),
      new Promise<void>((r) => (t = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(t);
  }

  /**
   * Sends what is queued (waiting at most `shutdownTimeoutMillis`), aborts what is still in
   * flight, counts what is left as dropped, reports.
   */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.flush(this.#shutdownTimeout);
    // What is still queued or in flight now is given up on: counted as dropped, and a late
    // answer for it changes no counter.
    const left = this.#queue.length + this.#inFlightSpans;
    this.#abandoned = true;
    if (left > 0) {
      this.#queue.length = 0;
      this.#stats.droppedExportFailed += left;
      this.#unreported.failed += left;
      this.#unreported.error ||= "stopped before they could be sent";
    }
    this.#report(true);
    await this.#sink.shutdown().catch(() => {});
  }
}

/** Batches as OTLP protobuf, POSTed by an {@linkcode OtlpHttpClient}. */
class HttpSpanSink implements ReadableSpanSink {
  #client: OtlpHttpClient;
  constructor(client: OtlpHttpClient) {
    this.#client = client;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#client.export(ProtobufTraceSerializer.serializeRequest(spans), "spans", done);
  }

  /** Aborts what is in flight: its batches are already counted as dropped. */
  shutdown(): Promise<void> {
    this.#client.close();
    return Promise.resolve();
  }
}
