/**
 * The span stage: turns what the probes report into OpenTelemetry spans.
 *
 * For HTTP/1.x over captured plaintext, {@linkcode SpanBuilder} is the entry point:
 * stream chunks and socket facts in, one span per exchange out. The pieces it is built from
 * (stream reassembly, the HTTP/1 parser, trace-context parsing, semantic-convention
 * mapping) are exported for other instrumentations and for tests.
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
export {
  type BodyFraming,
  decodeLatin1,
  equalsLower,
  getHeader,
  type HeaderField,
  type Http1Message,
  type Http1MessageBase,
  Http1Parser,
  type Http1ParserOptions,
  type Http1Problem,
  type Http1Request,
  type Http1Response,
  parseContentLength,
  sniffHttp1,
} from "./http1.ts";
export {
  type HttpExchangeContext,
  httpExchangeSpan,
  joinHostPort,
  redactQuery,
  splitHostPort,
  splitTarget,
  type TargetParts,
} from "./http_semconv.ts";
export {
  type ConnectionRole,
  HttpConnection,
  type HttpConnectionConfig,
  type HttpCounters,
  newHttpCounters,
} from "./http_exchange.ts";
export { SpanBuilder, type SpanBuilderOptions, type SpanBuilderStats } from "./span_builder.ts";
