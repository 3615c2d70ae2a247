/**
 * RED metrics from finished spans -- the one place where a span becomes a measurement.
 * {@linkcode spanMeasurement} picks the OpenTelemetry semantic-convention duration metric
 * a span feeds (`http.server.request.duration`, `http.client.request.duration`,
 * `rpc.server.call.duration`, `rpc.client.call.duration` for gRPC calls,
 * `db.client.operation.duration`) and its low-cardinality attributes;
 * {@linkcode SpanMetrics} keeps the histograms (Prometheus renders them) and hands every
 * measurement to its listeners (the OTLP metrics exporter).
 *
 * @module
 */
import type { Attributes, Span } from "../model/span.ts";

/** The duration metrics upspan derives, by their OpenTelemetry names. */
export type DurationMetric =
  | "http.server.request.duration"
  | "http.client.request.duration"
  | "rpc.server.call.duration"
  | "rpc.client.call.duration"
  | "db.client.operation.duration";

/** The bucket boundaries the HTTP semantic conventions advise, in seconds. */
export const HTTP_DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10,
];

/** The bucket boundaries the database semantic conventions advise, in seconds. */
export const DB_DURATION_BUCKETS: readonly number[] = [
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
];

/** Name, description and buckets of each duration metric. */
export const DURATION_METRICS: Readonly<
  Record<DurationMetric, { description: string; buckets: readonly number[] }>
> = {
  "http.server.request.duration": {
    description: "Duration of HTTP server requests.",
    buckets: HTTP_DURATION_BUCKETS,
  },
  "http.client.request.duration": {
    description: "Duration of HTTP client requests.",
    buckets: HTTP_DURATION_BUCKETS,
  },
  // The RPC conventions' stable call-duration metrics, in seconds; they advise no buckets,
  // so the HTTP ones (a call over HTTP/2 has the same latency range).
  "rpc.server.call.duration": {
    description: "Duration of incoming remote procedure calls.",
    buckets: HTTP_DURATION_BUCKETS,
  },
  "rpc.client.call.duration": {
    description: "Duration of outgoing remote procedure calls.",
    buckets: HTTP_DURATION_BUCKETS,
  },
  "db.client.operation.duration": {
    description: "Duration of database client operations.",
    buckets: DB_DURATION_BUCKETS,
  },
};

/** The metric attributes each duration metric keeps from its span (all low-cardinality). */
const KEEP: Record<DurationMetric, readonly string[]> = {
  "http.server.request.duration": [
    "http.request.method",
    "http.response.status_code",
    "http.route",
    "url.scheme",
    "error.type",
    "network.protocol.version",
  ],
  "http.client.request.duration": [
    "http.request.method",
    "http.response.status_code",
    "server.address",
    "server.port",
    "url.scheme",
    "error.type",
    "network.protocol.version",
  ],
  "rpc.server.call.duration": [
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "rpc.grpc.status_code",
    "error.type",
  ],
  "rpc.client.call.duration": [
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "rpc.grpc.status_code",
    "server.address",
    "server.port",
    "error.type",
  ],
  "db.client.operation.duration": [
    "db.system.name",
    "db.operation.name",
    "db.collection.name",
    "db.namespace",
    "db.response.status_code",
    "server.address",
    "server.port",
    "error.type",
  ],
};

/** One measurement: a duration for one metric, with its attributes and resource. */
export interface SpanMeasurement {
  metric: DurationMetric;
  /** Metric attributes (OpenTelemetry names). */
  attributes: Attributes;
  /** The span's resource (the same object for every span of a process). */
  resource: Attributes;
  seconds: number;
}

/**
 * The measurement a span feeds, or undefined when it feeds none (an INTERNAL span, or
 * one that is neither HTTP, an RPC nor a database call).
 *
 * @example
 * ```ts ignore
 * spanMeasurement(serverSpan);
 * // { metric: "http.server.request.duration", seconds: 0.0123,
 * //   attributes: { "http.request.method": "GET", "http.route": "/users/{id}", ... }, resource }
 * ```
 */
export function spanMeasurement(span: Span): SpanMeasurement | undefined {
  const a = span.attributes;
  let metric: DurationMetric;
  if (a["db.system.name"] !== undefined && span.kind === "CLIENT") {
    metric = "db.client.operation.duration";
  } else if (a["rpc.system"] !== undefined && span.kind === "SERVER") {
    metric = "rpc.server.call.duration"; // a gRPC call: an RPC rather than an HTTP request
  } else if (a["rpc.system"] !== undefined && span.kind === "CLIENT") {
    metric = "rpc.client.call.duration";
  } else if (a["http.request.method"] !== undefined && span.kind === "SERVER") {
    metric = "http.server.request.duration";
  } else if (a["http.request.method"] !== undefined && span.kind === "CLIENT") {
    metric = "http.client.request.duration";
  } else {
    return undefined;
  }
  const attributes: Attributes = {};
  for (const key of KEEP[metric]) {
    const v = a[key];
    if (v !== undefined) attributes[key] = v;
  }
  const ns = span.endTimeUnixNano - span.startTimeUnixNano;
  return { metric, attributes, resource: span.resource, seconds: ns > 0n ? Number(ns) / 1e9 : 0 };
}

/** One histogram series: a resource and attribute set, its bucket counts, sum and count. */
export interface HistogramSeries {
  resource: Attributes;
  attributes: Attributes;
  /** Count per bucket (not cumulative); one more than the boundaries (the +Inf bucket). */
  counts: number[];
  sum: number;
  count: number;
}

/** Options for {@linkcode SpanMetrics}. */
export interface SpanMetricsOptions {
  /**
   * Most series per metric; further attribute sets are folded into one series marked
   * `otel.metric.overflow="true"` (the OpenTelemetry cardinality limit). Default 2000.
   */
  maxSeriesPerMetric?: number;
}

/**
 * Histograms of span durations, fed by {@linkcode SpanMetrics.record}.
 *
 * @example
 * ```ts ignore
 * const metrics = new SpanMetrics();
 * metrics.onMeasurement((m) => otlpHistogram(m));
 * engine.onSpan((span) => metrics.record(span));
 * for (const [name, series] of metrics.histograms()) render(name, series);
 * ```
 */
export class SpanMetrics {
  #max: number;
  #series = new Map<DurationMetric, Map<string, HistogramSeries>>();
  #listeners: ((m: SpanMeasurement) => void)[] = [];
  #resourceKeys = new WeakMap<object, string>();
  /** Measurements folded into an overflow series because a metric had too many series. */
  overflowed = 0;

  constructor(options: SpanMetricsOptions = {}) {
    this.#max = options.maxSeriesPerMetric ?? 2000;
  }

  /** Calls `listener` with every measurement recorded from now on. */
  onMeasurement(listener: (m: SpanMeasurement) => void): void {
    this.#listeners.push(listener);
  }

  /** Records a finished span; returns its measurement, if it fed one. */
  record(span: Span): SpanMeasurement | undefined {
    const m = spanMeasurement(span);
    if (m === undefined) return undefined;
    this.#observe(m);
    for (const l of this.#listeners) l(m);
    return m;
  }

  #observe(m: SpanMeasurement): void {
    let byKey = this.#series.get(m.metric);
    if (byKey === undefined) this.#series.set(m.metric, byKey = new Map());
    let key = this.#resourceKey(m.resource) + "\0" + JSON.stringify(m.attributes);
    let series = byKey.get(key);
    if (series === undefined) {
      let attributes = m.attributes;
      if (byKey.size >= this.#max) {
        this.overflowed++;
        attributes = { "otel.metric.overflow": "true" };
        key = this.#resourceKey(m.resource) + "\0overflow";
        series = byKey.get(key);
      }
      if (series === undefined) {
        const buckets = DURATION_METRICS[m.metric].buckets;
        series = {
          resource: m.resource,
          attributes,
          counts: new Array(buckets.length + 1).fill(0),
          sum: 0,
          count: 0,
        };
        byKey.set(key, series);
      }
    }
    series.counts[bucketIndex(DURATION_METRICS[m.metric].buckets, m.seconds)]!++;
    series.sum += m.seconds;
    series.count++;
  }

  #resourceKey(resource: Attributes): string {
    let key = this.#resourceKeys.get(resource);
    if (key === undefined) {
      key = JSON.stringify(resource);
      this.#resourceKeys.set(resource, key);
    }
    return key;
  }

  /** Every metric that has series, with its series (live objects: read, do not change). */
  *histograms(): IterableIterator<[DurationMetric, HistogramSeries[]]> {
    for (const [name, byKey] of this.#series) yield [name, [...byKey.values()]];
  }
}

/** The bucket a value falls in: the first whose upper bound (inclusive) it does not exceed. */
export function bucketIndex(bounds: readonly number[], value: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
