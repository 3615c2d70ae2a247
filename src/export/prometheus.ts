/**
 * `--metrics-port N`: Prometheus `/metrics` in the text exposition format (0.0.4) -- the
 * span duration histograms of {@linkcode SpanMetrics} under their semantic-convention
 * names in Prometheus form (`http.server.request.duration` ->
 * `http_server_request_duration_seconds`, attribute `http.route` -> label `http_route`,
 * the resource's `service.name` -> `service_name`), plus the agent's own health counters.
 *
 * @module
 */
import type { Attributes } from "../model/span.ts";
import { DURATION_METRICS, type HistogramSeries, type SpanMetrics } from "./metrics.ts";

/** The agent's own counters, as far as they are known; absent ones are not shown. */
export interface AgentHealth {
  /** Processes being traced. */
  processesTraced?: number;
  /** Uprobes and tracepoints attached. */
  probesAttached?: number;
  /** Ring-buffer records read. */
  eventsRead?: number;
  /** Records the kernel dropped because the ring buffer was full. */
  eventsDropped?: number;
  /** Spans the engine finished. */
  spans?: number;
  /** Spans not exported because sampling left them out. */
  spansSampledOut?: number;
  /** Spans the OTLP backend accepted. */
  spansExported?: number;
  /** Spans the OTLP exporter gave up on, by reason. */
  spansExportDropped?: { queueFull: number; exportFailed: number };
  /** Spans waiting in the OTLP exporter's queue or in flight now. */
  otlpPending?: number;
  /** Connections whose streams are followed now. */
  connectionsTracked?: number;
  /** Connections closed because they were idle too long or to make room. */
  connectionsEvicted?: number;
  /** Requests given up on: no response in time, or too many waiting on one connection. */
  requestsDropped?: number;
}

/** `http.server.request.duration` (unit seconds) -> `http_server_request_duration_seconds`. */
export function prometheusName(otelName: string, unit = "seconds"): string {
  return `${sanitizeName(otelName)}_${unit}`;
}

/** A label or metric name: every character outside `[a-zA-Z0-9_]` becomes `_`. */
export function sanitizeName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/** A label value, escaped for the text format (backslash, double quote, newline). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatNumber(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  if (Number.isNaN(n)) return "NaN";
  return String(n);
}

/** Prometheus labels of a series: `service_name` first, then the metric attributes. */
function seriesLabels(resource: Attributes, attributes: Attributes): [string, string][] {
  const labels: [string, string][] = [];
  const service = resource["service.name"];
  if (service !== undefined) labels.push(["service_name", String(service)]);
  for (const [k, v] of Object.entries(attributes)) labels.push([sanitizeName(k), String(v)]);
  return labels;
}

function labelText(labels: readonly [string, string][]): string {
  return labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",");
}

/**
 * The `/metrics` text: histograms first, then the agent health metrics. Series whose
 * labels come out the same (two processes of one service) are added together: Prometheus
 * rejects a page that repeats a series.
 *
 * @example
 * ```ts ignore
 * const text = renderPrometheus(metrics, { probesAttached: 6, eventsRead: 1200 });
 * // # TYPE http_server_request_duration_seconds histogram
 * // http_server_request_duration_seconds_bucket{service_name="api",...,le="0.005"} 3 ...
 * ```
 */
export function renderPrometheus(metrics: SpanMetrics, health: AgentHealth = {}): string {
  const out: string[] = [];
  for (const [metric, series] of metrics.histograms()) {
    const name = prometheusName(metric);
    const bounds = DURATION_METRICS[metric].buckets;
    const merged = new Map<string, { labels: [string, string][]; s: HistogramSeries }>();
    for (const s of series) {
      const labels = seriesLabels(s.resource, s.attributes);
      const key = labelText(labels);
      const prev = merged.get(key);
      if (prev === undefined) {
        merged.set(key, { labels, s: { ...s, counts: [...s.counts] } });
      } else {
        s.counts.forEach((c, i) => prev.s.counts[i]! += c);
        prev.s.sum += s.sum;
        prev.s.count += s.count;
      }
    }
    out.push(`# HELP ${name} ${DURATION_METRICS[metric].description}`);
    out.push(`# TYPE ${name} histogram`);
    for (const [key, { s }] of merged) {
      const pre = key === "" ? "" : key + ",";
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += s.counts[i]!;
        const le = i < bounds.length ? formatNumber(bounds[i]!) : "+Inf";
        out.push(`${name}_bucket{${pre}le="${le}"} ${cumulative}`);
      }
      const braces = key === "" ? "" : `{${key}}`;
      out.push(`${name}_sum${braces} ${formatNumber(s.sum)}`);
      out.push(`${name}_count${braces} ${s.count}`);
    }
  }
  const one = (name: string, type: "gauge" | "counter", help: string, value?: number) => {
    if (value === undefined) return;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${formatNumber(value)}`);
  };
  one("upspan_processes_traced", "gauge", "Processes being traced.", health.processesTraced);
  one(
    "upspan_probes_attached",
    "gauge",
    "Probes (uprobes and tracepoints) attached.",
    health.probesAttached,
  );
  one("upspan_events_read_total", "counter", "Ring-buffer records read.", health.eventsRead);
  one(
    "upspan_events_dropped_total",
    "counter",
    "Records the kernel dropped because the ring buffer was full.",
    health.eventsDropped,
  );
  one("upspan_spans_total", "counter", "Spans finished.", health.spans);
  one(
    "upspan_spans_sampled_out_total",
    "counter",
    "Spans not exported because sampling left them out.",
    health.spansSampledOut,
  );
  one(
    "upspan_spans_exported_total",
    "counter",
    "Spans the OTLP backend accepted.",
    health.spansExported,
  );
  const d = health.spansExportDropped;
  if (d !== undefined) {
    const name = "upspan_spans_export_dropped_total";
    out.push(`# HELP ${name} Spans the OTLP exporter gave up on, by reason.`);
    out.push(`# TYPE ${name} counter`);
    out.push(`${name}{reason="queue_full"} ${d.queueFull}`);
    out.push(`${name}{reason="export_failed"} ${d.exportFailed}`);
  }
  one(
    "upspan_otlp_pending_spans",
    "gauge",
    "Spans waiting in the OTLP exporter's queue or in flight.",
    health.otlpPending,
  );
  one(
    "upspan_connections_tracked",
    "gauge",
    "Connections whose byte streams are being followed.",
    health.connectionsTracked,
  );
  one(
    "upspan_connections_evicted_total",
    "counter",
    "Connections forgotten because they were idle too long or to make room.",
    health.connectionsEvicted,
  );
  one(
    "upspan_requests_dropped_total",
    "counter",
    "Requests given up on: no response in time, or too many waiting on a connection.",
    health.requestsDropped,
  );
  one(
    "upspan_metric_series_overflow_total",
    "counter",
    "Measurements folded into an overflow series (too many label sets).",
    metrics.overflowed,
  );
  return out.join("\n") + "\n";
}

/** Options for {@linkcode PrometheusServer}. */
export interface PrometheusServerOptions {
  /** TCP port; 0 picks a free one (see {@linkcode PrometheusServer.port}). */
  port: number;
  /**
   * Address to listen on. Default `127.0.0.1`: the agent's health and the traced services'
   * routes are for this host only unless the operator opens them (`--metrics-host`).
   */
  hostname?: string;
  /** The histograms to serve. */
  metrics: SpanMetrics;
  /** The agent's health counters at scrape time. */
  health?: () => AgentHealth;
}

/** The content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Serves `/metrics` over HTTP until {@linkcode PrometheusServer.close}.
 *
 * @example
 * ```ts ignore
 * const server = new PrometheusServer({ port: 9464, metrics, health: () => ({ probesAttached: 6 }) });
 * // curl http://127.0.0.1:9464/metrics
 * await server.close();
 * ```
 */
export class PrometheusServer {
  #server: Deno.HttpServer<Deno.NetAddr>;
  /** The port it listens on. */
  readonly port: number;

  constructor(options: PrometheusServerOptions) {
    const health = options.health ?? (() => ({}));
    this.#server = Deno.serve({
      port: options.port,
      hostname: options.hostname ?? "127.0.0.1",
      onListen: () => {},
    }, (req) => {
      const path = new URL(req.url).pathname;
      if (path !== "/metrics") {
        return new Response("upspan: metrics are at /metrics\n", { status: 404 });
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response(null, { status: 405, headers: { allow: "GET, HEAD" } });
      }
      return new Response(renderPrometheus(options.metrics, health()), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
      });
    });
    this.port = this.#server.addr.port;
  }

  /** Stops listening. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}
