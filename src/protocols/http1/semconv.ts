/**
 * HTTP/1's side of the HTTP family's mapping: a request and its final response, as the
 * framer read them, become one {@linkcode HttpExchange} -- target split into path, query
 * and authority, Host and User-Agent found, body sizes where the bodies were delimited
 * and seen whole -- and then a span (`../http/semconv.ts`).
 *
 * @module
 */
import type { Attributes, Span } from "../../model/span.ts";
import type { SocketInfo } from "../../model/stream_chunk.ts";
import type { IdGenerator } from "../../model/ids.ts";
import type { TraceContext } from "../../model/trace_context.ts";
import { requestFields } from "../http/headers.ts";
import { type HttpExchange, httpSpan, requestContext, splitTarget } from "../http/semconv.ts";
import type { Http1Request, Http1Response } from "./framer.ts";

/** What besides the two messages a span needs. */
export interface HttpExchangeContext {
  /** SERVER when the traced process read the request, CLIENT when it wrote it. */
  kind: "SERVER" | "CLIENT";
  /** `url.scheme`: "https" for plaintext captured from TLS. */
  scheme: "https" | "http";
  /** The socket under the connection, when known. */
  socket: SocketInfo | undefined;
  /** Resource attributes of the process. */
  resource: Attributes;
  /** Kernel monotonic ns to Unix ns. */
  toUnixNano(monoNs: bigint): bigint;
  /** Ids for spans that do not continue a trace. */
  ids: IdGenerator;
}

/** The ids of an HTTP/1 request's span (see {@linkcode requestContext}). */
export function http1RequestContext(
  req: Http1Request,
  kind: "SERVER" | "CLIENT",
  ids: IdGenerator,
  caller?: TraceContext,
): TraceContext {
  return requestContext(requestFields(req.headers).traceparent, kind, ids, caller);
}

/** The exchange record of a request and its final response. */
export function http1Exchange(
  req: Http1Request,
  resp: Http1Response,
  kind: "SERVER" | "CLIENT",
  scheme: "https" | "http",
  socket: SocketInfo | undefined,
): HttpExchange {
  const target = splitTarget(req.target);
  const fields = requestFields(req.headers);
  const inet = socket !== undefined && (socket.family === "ipv4" || socket.family === "ipv6");
  const e: HttpExchange = {
    kind,
    method: req.method,
    scheme,
    authority: target.authority ?? fields.host,
    status: resp.status,
    protocolVersion: req.version,
    tid: req.tid,
    startMonoNs: req.firstByteMonoNs,
    endMonoNs: resp.lastByteMonoNs,
  };
  if (target.path !== undefined) e.path = target.path;
  if (target.query !== undefined) e.query = target.query;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(req.target)) {
    e.absolute = {
      scheme: req.target.slice(0, req.target.indexOf(":")),
      userinfo: target.userinfo === true,
    };
  }
  if (inet) {
    e.local = { address: socket.localAddress, port: socket.localPort };
    e.peer = { address: socket.peerAddress, port: socket.peerPort };
  }
  if (fields.userAgent !== undefined) e.userAgent = fields.userAgent;
  if (req.framing !== "none" && req.complete) e.requestBodySize = req.bodySize;
  if (resp.framing !== "none" && resp.complete) e.responseBodySize = resp.bodySize;
  return e;
}

/**
 * Builds the span of one exchange.
 *
 * @example
 * ```ts ignore
 * const span = httpExchangeSpan(request, response, {
 *   kind: "SERVER", scheme: "https", socket, resource: { "service.name": "api" },
 *   toUnixNano: (ns) => ns + bootTimeNs, ids: new RandomIdGenerator(),
 * });
 * span.name; // "GET"
 * ```
 */
export function httpExchangeSpan(
  req: Http1Request,
  resp: Http1Response,
  ctx: HttpExchangeContext,
  context?: TraceContext,
): Span {
  const exchange = http1Exchange(req, resp, ctx.kind, ctx.scheme, ctx.socket);
  return httpSpan(exchange, context ?? http1RequestContext(req, ctx.kind, ctx.ids), ctx);
}
