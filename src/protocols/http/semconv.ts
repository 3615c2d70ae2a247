/**
 * Turns one HTTP exchange (a request and its final response) into a {@linkcode Span} named
 * and attributed by the stable OpenTelemetry HTTP semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/http/http-spans/).
 *
 * @module
 */
import type { Attributes, Span, SpanKind, StatusCode } from "../../model/span.ts";
import type { SocketInfo } from "../../model/stream_chunk.ts";
import {
  equalsLower,
  type HeaderField,
  type Http1Request,
  type Http1Response,
  HTTP_METHODS,
} from "../http1/framer.ts";
import type { IdGenerator } from "../../model/ids.ts";
import { parseTraceparent } from "../../context/traceparent.ts";
import type { TraceContext } from "../../model/trace_context.ts";

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

/** Query parameters whose values semconv asks to redact from `url.query` and `url.full`. */
const SENSITIVE_QUERY = /(?:^|&)(?:AWSAccessKeyId|Signature|sig|X-Goog-Signature)=/;

/**
 * The ids of a request's span. A server continues the trace its caller put in a
 * `traceparent` header, else the trace of `caller` (a traced client on this host, see
 * `peer_links.ts`); a client whose request an instrumented app already stamped takes the
 * ids the next hop will see as its parent. Otherwise new ids.
 */
export function requestContext(
  req: Http1Request,
  kind: SpanKind,
  ids: IdGenerator,
  caller?: TraceContext,
): TraceContext {
  const header = requestHeaders(req.headers).traceparent;
  const tp = header === undefined ? undefined : parseTraceparent(header);
  const sampled = tp === undefined ? undefined : (tp.flags & 1) === 1;
  if (tp !== undefined && kind === "SERVER") {
    return { traceId: tp.traceId, spanId: ids.spanId(), parentSpanId: tp.parentId, sampled };
  }
  if (tp !== undefined) {
    return { traceId: tp.traceId, spanId: tp.parentId, parentSpanId: "", sampled };
  }
  if (caller !== undefined) {
    const { traceId, spanId: parentSpanId, sampled } = caller;
    return { traceId, spanId: ids.spanId(), parentSpanId, sampled };
  }
  return { traceId: ids.traceId(), spanId: ids.spanId(), parentSpanId: "" };
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
 * span.name; // "GET /users"
 * ```
 */
export function httpExchangeSpan(
  req: Http1Request,
  resp: Http1Response,
  ctx: HttpExchangeContext,
  context?: TraceContext,
): Span {
  const server = ctx.kind === "SERVER";
  const socket = ctx.socket;
  const target = splitTarget(req.target);
  const method = req.method;
  const known = HTTP_METHODS.has(method);
  const attributes: Attributes = {};
  const h = requestHeaders(req.headers);

  attributes["http.request.method"] = known ? method : "_OTHER";
  if (!known) attributes["http.request.method_original"] = method;
  if (target.path !== undefined) attributes["url.path"] = target.path;
  if (target.query !== undefined) attributes["url.query"] = redactQuery(target.query);
  attributes["url.scheme"] = ctx.scheme;

  // server.address/port: the request's authority (absolute-form target, else Host), else
  // the socket end that is the server.
  const defaultPort = ctx.scheme === "https" ? 443 : 80;
  const authority = target.authority ?? h.host;
  let serverAddress: string | undefined;
  let serverPort: number | undefined;
  if (authority !== undefined && authority !== "") {
    const hp = splitHostPort(authority);
    serverAddress = hp.host;
    serverPort = hp.port ?? defaultPort;
  } else if (socket !== undefined && isInet(socket)) {
    serverAddress = server ? socket.localAddress : socket.peerAddress;
    serverPort = server ? socket.localPort : socket.peerPort;
  }
  if (!server) {
    const full = fullUrl(ctx.scheme, req.target, target, authority, serverAddress, serverPort);
    if (full !== undefined) attributes["url.full"] = full;
  }
  attributes["http.response.status_code"] = resp.status;
  attributes["network.protocol.version"] = req.version;
  if (serverAddress !== undefined) attributes["server.address"] = serverAddress;
  if (serverPort !== undefined) attributes["server.port"] = serverPort;
  if (socket !== undefined && isInet(socket)) {
    if (server) {
      attributes["client.address"] = socket.peerAddress;
      attributes["client.port"] = socket.peerPort;
    }
    attributes["network.peer.address"] = socket.peerAddress;
    attributes["network.peer.port"] = socket.peerPort;
  }
  if (h.userAgent !== undefined) attributes["user_agent.original"] = h.userAgent;
  if (req.framing !== "none" && req.complete) attributes["http.request.body.size"] = req.bodySize;
  if (resp.framing !== "none" && resp.complete) {
    attributes["http.response.body.size"] = resp.bodySize;
  }
  attributes["thread.id"] = req.tid;

  const status = resp.status;
  const error = server ? status >= 500 : status >= 400;
  const code: StatusCode = error ? "ERROR" : "UNSET";
  if (error) attributes["error.type"] = String(status);

  const { traceId, spanId, parentSpanId, sampled } = context ??
    requestContext(req, ctx.kind, ctx.ids);

  const start = ctx.toUnixNano(req.firstByteMonoNs);
  let end = ctx.toUnixNano(resp.lastByteMonoNs);
  if (end < start) end = start;
  const kind: SpanKind = ctx.kind;
  return {
    traceId,
    spanId,
    parentSpanId,
    // `{method}`: the semantic conventions forbid the raw path as a span name (unbounded
    // cardinality); `{method} {http.route}` comes once a low-cardinality route is known.
    name: known ? method : "HTTP",
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes,
    status: { code },
    resource: ctx.resource,
    ...(sampled === undefined ? {} : { parentSampled: sampled }),
  };
}

/** Parts of a request target (RFC 9112 §3.2). */
export interface TargetParts {
  /** Path without query (absent for authority-form and `*`). */
  path?: string;
  /** Query without `?` (absent when there is none). */
  query?: string;
  /** Authority of an absolute-form or authority-form target, userinfo removed. */
  authority?: string;
  /** The absolute-form target carried userinfo (`user:pass@`). */
  userinfo?: boolean;
}

/**
 * Splits a request target: origin-form `/p?q`, absolute-form `http://host/p?q`,
 * authority-form `host:port` (CONNECT) or asterisk-form `*`. A fragment is dropped.
 */
export function splitTarget(target: string): TargetParts {
  let t = target;
  const hash = t.indexOf("#");
  if (hash >= 0) t = t.slice(0, hash);
  if (t.charCodeAt(0) === 47) return splitPathQuery(t); // "/"
  if (t === "*") return {};
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(t);
  if (scheme !== null) {
    const rest = t.slice(scheme[0].length);
    let endAuth = rest.search(/[/?]/);
    if (endAuth < 0) endAuth = rest.length;
    let authority = rest.slice(0, endAuth);
    const at = authority.lastIndexOf("@");
    if (at >= 0) authority = authority.slice(at + 1);
    const pq = splitPathQuery(rest.slice(endAuth));
    const parts: TargetParts = { path: pq.path === "" ? "/" : pq.path, authority };
    if (pq.query !== undefined) parts.query = pq.query;
    if (at >= 0) parts.userinfo = true;
    return parts;
  }
  return { authority: t };
}

function splitPathQuery(t: string): { path: string; query?: string } {
  const q = t.indexOf("?");
  if (q < 0) return { path: t };
  return { path: t.slice(0, q), query: t.slice(q + 1) };
}

/** `host`, or `[v6]` for an IPv6 address; with `:port` when a port is given. */
export function joinHostPort(address: string, port?: number): string {
  const host = address.includes(":") ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}

/** Splits `host`, `host:port` or `[v6]:port`; a port that is not a number is dropped. */
export function splitHostPort(authority: string): { host: string; port?: number } {
  let host = authority;
  let portText: string | undefined;
  if (authority.charCodeAt(0) === 91) { // "["
    const close = authority.indexOf("]");
    if (close > 0) {
      host = authority.slice(1, close);
      if (authority.charCodeAt(close + 1) === 58) portText = authority.slice(close + 2);
    }
  } else {
    const colon = authority.lastIndexOf(":");
    if (colon >= 0 && authority.indexOf(":") === colon) {
      host = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    }
  }
  if (portText !== undefined && portText.length > 0 && portText.length <= 5) {
    let port = 0;
    for (let i = 0; i < portText.length; i++) {
      const d = portText.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return { host };
      port = port * 10 + d;
    }
    if (port <= 65535) return { host, port };
  }
  return { host };
}

/** Replaces the values of known sensitive query parameters with `REDACTED`. */
export function redactQuery(query: string): string {
  // Every sensitive key contains "ig" or is AWSAccessKeyId: a cheap test first.
  if (query.indexOf("ig") < 0 && query.indexOf("AWSAccessKeyId") < 0) return query;
  if (!SENSITIVE_QUERY.test(query)) return query;
  return query.split("&").map((kv) => {
    const eq = kv.indexOf("=");
    if (eq < 0) return kv;
    const key = kv.slice(0, eq);
    return key === "AWSAccessKeyId" || key === "Signature" || key === "sig" ||
        key === "X-Goog-Signature"
      ? `${key}=REDACTED`
      : kv;
  }).join("&");
}

function fullUrl(
  scheme: string,
  rawTarget: string,
  target: TargetParts,
  authority: string | undefined,
  address: string | undefined,
  port: number | undefined,
): string | undefined {
  if (target.path === undefined) return undefined;
  const pathQuery = target.query === undefined
    ? target.path
    : `${target.path}?${redactQuery(target.query)}`;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(rawTarget)) {
    const s = rawTarget.slice(0, rawTarget.indexOf(":")).toLowerCase();
    const userinfo = target.userinfo ? "REDACTED:REDACTED@" : "";
    return `${s}://${userinfo}${target.authority}${pathQuery}`;
  }
  let host = authority;
  if (host === undefined || host === "") {
    if (address === undefined) return undefined;
    const defaultPort = scheme === "https" ? 443 : 80;
    host = joinHostPort(address, port === defaultPort ? undefined : port);
  }
  return `${scheme}://${host}${pathQuery}`;
}

/** The request fields a span reads, found in one pass. */
function requestHeaders(fields: readonly HeaderField[]) {
  let host: string | undefined;
  let userAgent: string | undefined;
  let traceparent: string | undefined;
  let traceparents = 0;
  for (let i = 0; i < fields.length; i++) {
    const [name, value] = fields[i]!;
    switch (name.length) {
      case 4:
        if (host === undefined && equalsLower(name, "host")) host = value;
        break;
      case 10:
        if (userAgent === undefined && equalsLower(name, "user-agent")) userAgent = value;
        break;
      case 11:
        if (equalsLower(name, "traceparent")) {
          traceparent = value;
          traceparents++;
        }
        break;
    }
  }
  // Several traceparent fields are ambiguous: trust none (W3C Trace Context §3.2).
  return { host, userAgent, traceparent: traceparents === 1 ? traceparent : undefined };
}

function isInet(s: SocketInfo): boolean {
  return s.family === "ipv4" || s.family === "ipv6";
}
