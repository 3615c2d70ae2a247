/**
 * Where finished spans go: the {@linkcode SpanExporter} interface and its console
 * implementations -- {@linkcode PrettyExporter} (`--format pretty`, a live span tree) and
 * {@linkcode JsonLinesExporter} (`--format json`, one span per line) -- plus
 * {@linkcode DumpPrinter}, which prints captured TLS plaintext for debugging -- and the
 * exports to backends: OTLP/HTTP in `otlp.ts` and `otlp_metrics.ts` (imported on demand:
 * they load the OpenTelemetry packages from npm) and {@linkcode PrometheusServer}
 * (`/metrics`), both fed by the span-derived histograms of {@linkcode SpanMetrics}.
 *
 * @example
 * ```ts
 * import { JsonLinesExporter, PrettyExporter, type SpanExporter } from "./mod.ts";
 *
 * const format: string = "json";
 * const exporter: SpanExporter = format === "json"
 *   ? new JsonLinesExporter()
 *   : new PrettyExporter();
 * // engine.onSpan((span) => exporter.export(span));
 * await exporter.shutdown();
 * ```
 *
 * @module
 */

export type { SpanExporter } from "./exporter.ts";
export { JsonLinesExporter, type JsonLinesExporterOptions, spanToJson } from "./json.ts";
export { formatDuration, PrettyExporter, type PrettyExporterOptions } from "./pretty.ts";
export { DumpPrinter, type DumpPrinterOptions, escapeText, hexdump } from "./dump.ts";
export { onStdoutClosed } from "./_terminal.ts";
export {
  type DurationMetric,
  type HistogramSeries,
  type SpanMeasurement,
  spanMeasurement,
  SpanMetrics,
} from "./metrics.ts";
export { type AgentHealth, PrometheusServer, renderPrometheus } from "./prometheus.ts";
