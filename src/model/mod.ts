/**
 * The data model every stage after the probes shares, owned by none of them: what an
 * instrumentation hands on (stream chunks and socket facts), what comes out (spans and
 * their attributes), and the ids and trace context spans carry.
 *
 * @example
 * ```ts ignore
 * import type { Span, StreamChunk } from "./src/model/mod.ts";
 * ```
 *
 * @module
 */
export type { Attributes, AttributeValue, Span, SpanKind, StatusCode } from "./span.ts";
export type { Direction, SocketInfo, StreamChunk } from "./stream_chunk.ts";
export { type IdGenerator, RandomIdGenerator } from "./ids.ts";
export type { TraceContext } from "./trace_context.ts";
