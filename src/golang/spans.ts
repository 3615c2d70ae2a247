/**
 * Turns the Go instrumentation's events into {@linkcode Span}s named and attributed by
 * the OpenTelemetry HTTP server/client and database client conventions. Parent/child
 * links were made in BPF (per goroutine): this only formats.
 *
 * @module
 */
import type { Attributes, Span, StatusCode } from "../model/span.ts";
import { HTTP_METHODS } from "../protocols/http1/framer.ts";
import { joinHostPort, redactQuery, splitHostPort } from "../protocols/http/semconv.ts";
import { sanitizeSql, summarizeSql } from "../protocols/sql/sql_text.ts";
import type { GoEvent, GoHttpEvent, GoSqlEvent } from "./events.ts";

/** What besides the event a span needs. */
export interface GoSpanContext {
  /** Resource attributes of the process. */
  resource: Attributes;
  /** Kernel monotonic ns to Unix ns. */
  toUnixNano(monoNs: bigint): bigint;
}

/**
 * `http.route` from a Go ServeMux pattern `[METHOD ][HOST]/PATH`: the path template,
 * as otelhttp reports it ("GET /users/{id}" → "/users/{id}"); "" when there is none.
 */
export function routeOfPattern(pattern: string): string {
  const slash = pattern.indexOf("/");
  return slash < 0 ? "" : pattern.slice(slash);
}

function times(e: GoEvent, ctx: GoSpanContext) {
  const start = ctx.toUnixNano(e.startMonoNs);
  const end = ctx.toUnixNano(e.endMonoNs);
  return { startTimeUnixNano: start, endTimeUnixNano: end < start ? start : end };
}

function httpSpan(e: GoHttpEvent, ctx: GoSpanContext): Span {
  const server = e.type === "server";
  const a: Attributes = {};
  const method = e.method.text;
  const known = HTTP_METHODS.has(method);
  a["http.request.method"] = known ? method : "_OTHER";
  if (!known) a["http.request.method_original"] = method;
  const scheme = server ? (e.tls ? "https" : "http") : (e.scheme.text || "http");
  if (e.path.text !== "") a["url.path"] = e.path.text;
  if (e.query.text !== "") a["url.query"] = redactQuery(e.query.text);
  a["url.scheme"] = scheme;
  let route = "";
  if (server) {
    route = routeOfPattern(e.route.text);
    if (route !== "") a["http.route"] = route;
  }
  if (e.status > 0) a["http.response.status_code"] = e.status;
  if (e.host.text !== "") {
    const hp = splitHostPort(e.host.text);
    a["server.address"] = hp.host;
    const port = hp.port ?? (server ? undefined : scheme === "https" ? 443 : 80);
    if (port !== undefined) a["server.port"] = port;
    if (!server) {
      const q = e.query.text === "" ? "" : `?${redactQuery(e.query.text)}`;
      const authority = hp.port === undefined
        ? joinHostPort(hp.host)
        : joinHostPort(hp.host, hp.port);
      a["url.full"] = `${scheme}://${authority}${e.path.text || "/"}${q}`;
    }
  }
  if (server && e.remote.text !== "") {
    const peer = splitHostPort(e.remote.text);
    a["client.address"] = peer.host;
    a["network.peer.address"] = peer.host;
    if (peer.port !== undefined) {
      a["client.port"] = peer.port;
      a["network.peer.port"] = peer.port;
    }
  }
  if (e.contentLength > 0) a["http.request.body.size"] = e.contentLength;
  let code: StatusCode = "UNSET";
  if (!server && e.error) {
    code = "ERROR";
    a["error.type"] = "_OTHER";
  } else if (e.status >= (server ? 500 : 400)) {
    code = "ERROR";
    a["error.type"] = String(e.status);
  }
  const name = known ? (route !== "" ? `${method} ${route}` : method) : "HTTP";
  return {
    ...e.ids,
    name,
    kind: server ? "SERVER" : "CLIENT",
    ...times(e, ctx),
    attributes: a,
    status: { code },
    resource: ctx.resource,
  };
}

function sqlSpan(e: GoSqlEvent, ctx: GoSpanContext): Span {
  const a: Attributes = { "db.system.name": "other_sql" };
  // The text as the application passed it, literals sanitized (as the wire-protocol
  // SQL spans do); the table only when the whole statement was copied.
  const text = e.query.text;
  if (text !== "") a["db.query.text"] = sanitizeSql(text);
  const { operation, collection: named } = summarizeSql(text);
  const collection = e.query.truncated ? undefined : named;
  if (operation !== undefined) a["db.operation.name"] = operation;
  if (collection !== undefined) a["db.collection.name"] = collection;
  let code: StatusCode = "UNSET";
  if (e.error) {
    code = "ERROR";
    a["error.type"] = "_OTHER";
  }
  const name = operation === undefined
    ? "other_sql"
    : collection === undefined
    ? operation
    : `${operation} ${collection}`;
  return {
    ...e.ids,
    name,
    kind: "CLIENT",
    ...times(e, ctx),
    attributes: a,
    status: { code },
    resource: ctx.resource,
  };
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
export function goSpan(event: GoEvent, ctx: GoSpanContext): Span {
  return event.type === "sql" ? sqlSpan(event, ctx) : httpSpan(event, ctx);
}
