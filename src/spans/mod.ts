/**
 * The span stage: turns what the probes report into OpenTelemetry spans.
 *
 * {@linkcode SpanBuilder} is the entry point: stream chunks and socket facts in, one span
 * per exchange of every protocol in the registry (`registry.ts`, the protocols under `src/protocols/`) out. `withRoute` adds
 * a low-cardinality `http.route` to HTTP server spans that lack one.
 *
 * @example
 * ```ts ignore
 * import { SpanBuilder } from "./src/spans/mod.ts";
 * const spans = new SpanBuilder({ toUnixNano, resource, onSpan: print });
 * for (const event of events) {
 *   if (event.type === "chunk") spans.chunk(event.chunk);
 *   else spans.socket(event.socket);
 * }
 * spans.flush();
 * ```
 *
 * @module
 */
export { SpanBuilder, type SpanBuilderOptions, type SpanBuilderStats } from "./span_builder.ts";
export { deriveRoute, withRoute } from "./route.ts";
