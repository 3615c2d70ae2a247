/**
 * Turns the Go instrumentation's events into {@linkcode Span}s named and attributed by
 * the OpenTelemetry HTTP server/client and database client conventions. Parent/child
 * links were made in BPF (per goroutine): this only formats.
 *
 * @module
 */
import type { Attributes, Span } from "../model/span.ts";
import {
  type HttpExchange,
  httpSpan as httpExchangeSpan,
  splitHostPort,
} from "../protocols/http/semconv.ts";
import { sqlExchangeSpan, type SqlSystem } from "../protocols/sql/semconv.ts";
import type { GoHttpEvent, GoSqlEvent } from "./events.ts";

/** A client span whose ids upspan wrote into its request as the `traceparent` header. */
export const INJECTED = "upspan.traceparent.injected";

/** What besides the event a span needs. */
export interface GoSpanContext {
  /** Resource attributes of the process. */
  resource: Attributes;
  /** Kernel monotonic ns to Unix ns. */
  toUnixNano(monoNs: bigint): bigint;
  /** The database its driver talks to (see `goSqlSystem`). Default `other_sql`. */
  sqlSystem?: SqlSystem;
}

/**
 * `http.route` from a Go ServeMux pattern `[METHOD ][HOST]/PATH`: the path template,
 * as otelhttp reports it ("GET /users/{id}" -> "/users/{id}"); "" when there is none.
 */
export function routeOfPattern(pattern: string): string {
  const slash = pattern.indexOf("/");
  return slash < 0 ? "" : pattern.slice(slash);
}

function httpSpan(e: GoHttpEvent, ctx: GoSpanContext): Span {
  const server = e.type === "server";
  const scheme = server ? (e.tls ? "https" : "http") : (e.scheme.text || "http");
  const exchange: HttpExchange = {
    kind: server ? "SERVER" : "CLIENT",
    method: e.method.text,
    scheme,
    path: e.path.text,
    authority: e.host.text,
    // Go's server sees the Host it was sent: a port absent there is not known to be default.
    defaultPort: !server,
    status: e.status,
    failed: e.error,
    startMonoNs: e.startMonoNs,
    endMonoNs: e.endMonoNs,
  };
  if (e.query.text !== "") exchange.query = e.query.text;
  if (server) exchange.route = routeOfPattern(e.route.text);
  if (server && e.remote.text !== "") {
    const peer = splitHostPort(e.remote.text);
    exchange.peer = { address: peer.host, port: peer.port };
  }
  if (e.contentLength > 0) exchange.requestBodySize = e.contentLength;
  if (e.protocolVersion !== "") exchange.protocolVersion = e.protocolVersion;
  const span = httpExchangeSpan(exchange, e.ids, ctx);
  if (e.ids.injected) span.attributes[INJECTED] = true;
  return span;
}

function sqlSpan(e: GoSqlEvent, ctx: GoSpanContext): Span {
  // database/sql does not say which driver: the system from the binary's driver module
  // (its dialect sanitizes the text), no namespace.
  return sqlExchangeSpan(
    {
      text: e.query.text,
      truncated: e.query.truncated,
      startMonoNs: e.startMonoNs,
      endMonoNs: e.endMonoNs,
      ...(e.error ? { error: { sqlstate: "", message: "" } } : {}),
    },
    {
      system: ctx.sqlSystem ?? "other_sql",
      resource: ctx.resource,
      toUnixNano: ctx.toUnixNano,
    },
    e.ids,
  );
}

/**
 * The span of one event.
 *
 * @example
 * ```ts ignore
 * const span = goSpan(event, { resource: { "service.name": "api" }, toUnixNano });
 * span.name; // "GET /users/{id}"
 * ```
 */
export function goSpan(event: GoHttpEvent | GoSqlEvent, ctx: GoSpanContext): Span {
  return event.type === "sql" ? sqlSpan(event, ctx) : httpSpan(event, ctx);
}
