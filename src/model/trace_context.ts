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
  /** How the parent was found, when there is one. */
  via?: ParentVia;
}

/**
 * How a span's parent was found: `traceparent` -- propagated, the request carried it;
 * `peer` -- the traced client at the other end of a connection on this host; `thread` -- the
 * request the calling thread was serving; `goroutine` -- the span current on the calling
 * goroutine or the one that started it. All but `traceparent` are inferred.
 */
export type ParentVia = "traceparent" | "peer" | "thread" | "goroutine";

/** The span attribute that names how its parent was found ({@linkcode ParentVia}). */
export const PARENT_METHOD = "upspan.parent.method";
