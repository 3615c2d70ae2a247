/**
 * The RED metrics of {@linkcode SpanMetrics} over OTLP/HTTP (protobuf): each traced
 * process gets its own OpenTelemetry `MeterProvider` with its resource, and every
 * measurement lands in the semantic-convention histogram of that process, exported
 * periodically by the OpenTelemetry JS metrics exporter. Cumulative histograms hold one
 * point per attribute set, so a backend that is down costs no growing memory.
 *
 * @module
 */
import type { Histogram } from "@opentelemetry/api";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import type { Attributes } from "../model/span.ts";
import {
  DURATION_METRICS,
  type DurationMetric,
  type SpanMeasurement,
  type SpanMetrics,
} from "./metrics.ts";
import { envInt, INSTRUMENTATION_SCOPE, otelResource } from "./otlp.ts";

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
}

/** The URL metrics are sent to (undefined: leave it to the exporter and its variables). */
export function metricsUrl(
  endpoint: string | undefined,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): string | undefined {
  if (env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")?.trim()) return undefined;
  const base = endpoint?.trim() || env("OTEL_EXPORTER_OTLP_ENDPOINT")?.trim();
  return base ? base.replace(/\/+$/, "") + "/v1/metrics" : undefined;
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

  constructor(metrics: SpanMetrics, options: OtlpMetricsExporterOptions = {}) {
    this.#options = options;
    metrics.onMeasurement((m) => this.#record(m));
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
    const url = metricsUrl(o.endpoint);
    const exporter = new OTLPMetricExporter({
      ...(url !== undefined ? { url } : {}),
      ...(o.headers !== undefined ? { headers: o.headers } : {}),
      timeoutMillis: o.timeoutMillis ?? 5000,
    });
    const interval = o.intervalMillis ?? envInt("OTEL_METRIC_EXPORT_INTERVAL") ?? 10_000;
    const reader = new PeriodicExportingMetricReader({
      exporter,
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

  /** A last export, then every provider is closed. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      [...this.#byResource.values()].map((r) => r.provider.shutdown().catch(() => {})),
    );
  }
}
