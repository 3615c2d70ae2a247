/**
 * The RED metrics of {@linkcode SpanMetrics} over OTLP/HTTP (protobuf): each traced
 * process gets its own OpenTelemetry `MeterProvider` with its resource, and every
 * measurement lands in the semantic-convention histogram of that process, exported
 * periodically through one {@linkcode OtlpHttpClient} shared by every process. Cumulative histograms hold one
 * point per attribute set, so a backend that is down costs no growing memory.
 *
 * @module
 */
import type { Histogram } from "@opentelemetry/api";
import type { ExportResult } from "@opentelemetry/core";
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import { ProtobufMetricsSerializer } from "@opentelemetry/otlp-transformer";
import type { Attributes } from "../model/span.ts";
import {
  DURATION_METRICS,
  type DurationMetric,
  type SpanMeasurement,
  type SpanMetrics,
} from "./metrics.ts";
import { envInt, INSTRUMENTATION_SCOPE, otelResource } from "./otlp.ts";
import { OtlpHttpClient } from "./otlp_http.ts";

/** Options for {@linkcode OtlpMetricsExporter}. */
export interface OtlpMetricsExporterOptions {
  /**
   * Base URL (like `OTEL_EXPORTER_OTLP_ENDPOINT`); metrics go to `<endpoint>/v1/metrics`,
   * unless `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is set. Default: the variables, else
   * `http://localhost:4318`.
   */
  endpoint?: string;
  /** Extra request headers; default from `OTEL_EXPORTER_OTLP_(METRICS_)HEADERS`. */
  headers?: Record<string, string>;
  /** How often metrics are sent, in ms. Default `OTEL_METRIC_EXPORT_INTERVAL`, else 10 000. */
  intervalMillis?: number;
  /** Most time one export may take, in ms. Default 5 000. */
  timeoutMillis?: number;
  /** Most time {@linkcode OtlpMetricsExporter.shutdown} waits for the last export. Default 3 000. */
  shutdownTimeoutMillis?: number;
}

interface PerResource {
  provider: MeterProvider;
  histograms: Map<DurationMetric, Histogram>;
}

/**
 * Sends span-derived duration histograms over OTLP.
 *
 * @example
 * ```ts ignore
 * const metrics = new SpanMetrics();
 * const otlpMetrics = new OtlpMetricsExporter(metrics, { endpoint: "http://127.0.0.1:4318" });
 * // engine.onSpan((span) => metrics.record(span));
 * await otlpMetrics.shutdown(); // a last export
 * ```
 */
export class OtlpMetricsExporter {
  #options: OtlpMetricsExporterOptions;
  #byResource = new Map<Attributes, PerResource>();
  #closed = false;
  #client: OtlpHttpClient;
  #exporter: PushMetricExporter;

  constructor(metrics: SpanMetrics, options: OtlpMetricsExporterOptions = {}) {
    this.#options = options;
    this.#client = new OtlpHttpClient("metrics", {
      endpoint: options.endpoint,
      headers: options.headers,
      timeoutMillis: options.timeoutMillis ?? 5000,
    });
    this.#exporter = new HttpMetricExporter(this.#client);
    metrics.onMeasurement((m) => this.#record(m));
  }

  /** Where metrics go, for messages (no credentials). */
  get url(): string {
    return this.#client.safeUrl;
  }

  #record(m: SpanMeasurement): void {
    if (this.#closed) return;
    let r = this.#byResource.get(m.resource);
    if (r === undefined) {
      r = this.#providerFor(m.resource);
      this.#byResource.set(m.resource, r);
    }
    let h = r.histograms.get(m.metric);
    if (h === undefined) {
      const meter = r.provider.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
      h = meter.createHistogram(m.metric, {
        unit: "s",
        description: DURATION_METRICS[m.metric].description,
        advice: { explicitBucketBoundaries: [...DURATION_METRICS[m.metric].buckets] },
      });
      r.histograms.set(m.metric, h);
    }
    h.record(m.seconds, m.attributes);
  }

  #providerFor(resource: Attributes): PerResource {
    const o = this.#options;
    const interval = o.intervalMillis ?? envInt("OTEL_METRIC_EXPORT_INTERVAL") ?? 10_000;
    const reader = new PeriodicExportingMetricReader({
      exporter: this.#exporter,
      exportIntervalMillis: interval,
      exportTimeoutMillis: Math.min(o.timeoutMillis ?? 5000, interval),
    });
    const provider = new MeterProvider({ resource: otelResource(resource), readers: [reader] });
    return { provider, histograms: new Map() };
  }

  /** Processes with a meter provider so far. */
  get processes(): number {
    return this.#byResource.size;
  }

  /** Sends what is recorded now, for every process. */
  async flush(): Promise<void> {
    await Promise.all([...this.#byResource.values()].map((r) => r.provider.forceFlush()));
  }

  /**
   * A last export, then every provider is closed; what has not been sent after
   * `shutdownTimeoutMillis` is aborted.
   */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(
        [...this.#byResource.values()].map((r) => r.provider.shutdown().catch(() => {})),
      ),
      new Promise((r) => (timer = setTimeout(r, this.#options.shutdownTimeoutMillis ?? 3000))),
    ]);
    clearTimeout(timer);
    this.#client.close();
  }
}

/** Each collection as OTLP protobuf, POSTed by the shared {@linkcode OtlpHttpClient}. */
class HttpMetricExporter implements PushMetricExporter {
  #client: OtlpHttpClient;
  constructor(client: OtlpHttpClient) {
    this.#client = client;
  }

  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.#client.export(ProtobufMetricsSerializer.serializeRequest(metrics), "metrics", done);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  /** The client is shared: its owner closes it. */
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
