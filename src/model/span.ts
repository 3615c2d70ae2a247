/**
 * The span model every stage after the probes shares: one finished operation, with ids,
 * times in Unix nanoseconds and OpenTelemetry semantic-convention attribute names.
 *
 * @module
 */

/** OpenTelemetry span kinds that upspan produces. */
export type SpanKind = "SERVER" | "CLIENT" | "INTERNAL";

/** OpenTelemetry status codes. */
export type StatusCode = "UNSET" | "OK" | "ERROR";

/** A flat attribute value. */
export type AttributeValue = string | number | boolean;

/** Flat attributes keyed by semantic-convention names (`http.request.method`, ...). */
export type Attributes = Record<string, AttributeValue>;

/** One finished span. Ids are lowercase hex; `parentSpanId` is "" for a root. */
export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: SpanKind;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  status: { code: StatusCode; message?: string };
  resource: Attributes;
  /**
   * The sampled flag of the `traceparent` the trace came in with, for parent-based
   * sampling; absent when upspan started the trace. Not part of the printed span.
   */
  parentSampled?: boolean;
}
