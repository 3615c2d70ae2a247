/**
 * The ids a span takes, fixed before the span ends: its trace, itself and its parent. A
 * request's context is chosen when its head is seen (from a `traceparent`, a traced peer or
 * the thread's current request) so that the calls it makes can become its children.
 *
 * @module
 */

/** The ids a span takes: its trace, itself and its parent ("" for none). */
export interface TraceContext {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  /** The incoming `traceparent`'s sampled flag, when the trace came with one. */
  sampled?: boolean;
}
