/**
 * The HTTP family's one mapping to OpenTelemetry: an {@linkcode HttpExchange} -- whatever
 * version or probe it came from (HTTP/1 parsing, Go's net/http probes, HTTP/2) -- becomes a
 * span named and attributed by the stable HTTP semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/http/http-spans/): `_OTHER` for unknown
 * methods, `error.type`, `url.full`, server and peer addresses, redacted query values.
 *
 * @module
 */
import type { Attributes, Span, SpanKind, StatusCode } from "../../model/span.ts";
import type { IdGenerator } from "../../model/ids.ts";
import { PARENT_METHOD, type ParentVia, type TraceContext } from "../../model/trace_context.ts";
import { parseTraceparent } from "../../context/traceparent.ts";
import { HTTP_METHODS } from "./headers.ts";

/** An address and, when known, a port. */
export interface HostPort {
  address: string;
  port?: number;
}

/** One request and what answered it, as every HTTP source reports it. */
export interface HttpExchange {
  /** SERVER when the traced process received the request, CLIENT when it sent it. */
  kind: "SERVER" | "CLIENT";
  /** The method as sent. */
  method: string;
  /** `url.scheme`. */
  scheme: string;
  /** Path without query; "" for an empty one; absent when the target has none (CONNECT, `*`). */
  path?: string;
  /** Query without `?`, when there is one. */
  query?: string;
  /** The request's authority (absolute-form target, else Host or `:authority`), if any. */
  authority?: string;
  /**
   * Fill `server.port` with the scheme's default when the authority names none. Default
   * true; false where the source cannot tell an absent port from a default one.
   */
  defaultPort?: boolean;
  /** Set for an absolute-form target: its own scheme, and whether it carried userinfo. */
  absolute?: { scheme: string; userinfo: boolean };
  /** `http.route`, when the source knows the matched route. */
  route?: string;
  /** The final response's status; absent when no response came. */
  status?: number;
  /** A client that got no response because the call failed (`error.type` `_OTHER`). */
  failed?: boolean;
  /** `network.protocol.version` (`1.1`, `2`), when known. */
  protocolVersion?: string;
  /** This end of the connection, when known (the server address of last resort). */
  local?: HostPort;
  /** The other end of the connection, when known. */
  peer?: HostPort;
  /** `user_agent.original`. */
  userAgent?: string;
  /** Body sizes, when the bodies were delimited and seen whole. */
  requestBodySize?: number;
  responseBodySize?: number;
  /** `thread.id` of the thread that handled the request, when known. */
  tid?: number;
  /** Kernel monotonic times of the first request byte and the last response byte. */
  startMonoNs: bigint;
  endMonoNs: bigint;
}

/** What besides the exchange a span needs. */
export interface HttpSpanContext {
  /** Resource attributes of the process. */
  resource: Attributes;
  /** Kernel monotonic ns to Unix ns. */
  toUnixNano(monoNs: bigint): bigint;
}

/** Query parameters whose values semconv asks to redact from `url.query` and `url.full`. */
const SEMCONV_SENSITIVE = new Set(["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"]);
/**
 * Keys people put secrets under in practice (OAuth codes and tokens, API keys, passwords,
 * pre-signed cloud URLs), matched in any case, percent-decoded: redacted too.
 */
const COMMON_SENSITIVE = new Set([
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "auth",
  "authorization",
  "password",
  "passwd",
  "pwd",
  "pass",
  "api_key",
  "apikey",
  "api-key",
  "key",
  "secret",
  "client_secret",
  "code",
  "session",
  "sessionid",
  "session_id",
  "sid",
  "jwt",
  "credential",
  "credentials",
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token",
  "private_token",
]);

function sensitiveKey(key: string): boolean {
  if (SEMCONV_SENSITIVE.has(key)) return true;
  let k = key;
  // Most keys have nothing to decode; decoding each cost a tenth of an exchange's span.
  if (key.includes("%") || key.includes("+")) {
    try {
      k = decodeURIComponent(key.replace(/\+/g, " "));
    } catch { /* as written */ }
  }
  return COMMON_SENSITIVE.has(k.toLowerCase());
}

/**
 * The ids of a request's span. A server continues the trace its caller put in a
 * `traceparent` header, else the trace of `caller` (a traced client on this host, see
 * `src/context/peer_links.ts`); a client whose request an instrumented app already
 * stamped takes the ids the next hop will see as its parent. Otherwise new ids.
 */
export function requestContext(
  traceparent: string | undefined,
  kind: SpanKind,
  ids: IdGenerator,
  caller?: TraceContext,
  callerVia?: ParentVia,
): TraceContext {
  const tp = traceparent === undefined ? undefined : parseTraceparent(traceparent);
  const sampled = tp === undefined ? undefined : (tp.flags & 1) === 1;
  if (tp !== undefined && kind === "SERVER") {
    return {
      traceId: tp.traceId,
      spanId: ids.spanId(),
      parentSpanId: tp.parentId,
      sampled,
      via: "traceparent",
    };
  }
  if (tp !== undefined) {
    return { traceId: tp.traceId, spanId: tp.parentId, parentSpanId: "", sampled };
  }
  if (caller !== undefined) {
    const { traceId, spanId: parentSpanId, sampled } = caller;
    return { traceId, spanId: ids.spanId(), parentSpanId, sampled, via: callerVia };
  }
  return { traceId: ids.traceId(), spanId: ids.spanId(), parentSpanId: "" };
}

/**
 * Builds the span of one exchange.
 *
 * @example
 * ```ts
 * import { httpSpan } from "./semconv.ts";
 * const span = httpSpan(
 *   { kind: "SERVER", method: "GET", scheme: "http", path: "/users", authority: "api:8080",
 *     status: 200, startMonoNs: 1n, endMonoNs: 2n },
 *   { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", parentSpanId: "" },
 *   { resource: { "service.name": "api" }, toUnixNano: (ns) => ns },
 * );
 * span.name; // "GET"
 * span.attributes["server.port"]; // 8080
 * ```
 */
export function httpSpan(e: HttpExchange, context: TraceContext, ctx: HttpSpanContext): Span {
  const server = e.kind === "SERVER";
  const method = e.method;
  const known = HTTP_METHODS.has(method);
  const a: Attributes = {};

  a["http.request.method"] = known ? method : "_OTHER";
  if (!known) a["http.request.method_original"] = method;
  if (e.path !== undefined && e.path !== "") a["url.path"] = e.path;
  if (e.query !== undefined) a["url.query"] = redactQuery(e.query);
  a["url.scheme"] = e.scheme;
  const route = e.route ?? "";
  if (route !== "") a["http.route"] = route;

  // server.address/port: the request's authority, else the socket end that is the server.
  const defaultPort = e.scheme === "https" ? 443 : 80;
  let serverAddress: string | undefined;
  let serverPort: number | undefined;
  if (e.authority !== undefined && e.authority !== "") {
    const hp = splitHostPort(e.authority);
    serverAddress = hp.host;
    serverPort = hp.port ?? (e.defaultPort === false ? undefined : defaultPort);
  } else {
    const end = server ? e.local : e.peer;
    if (end !== undefined) {
      serverAddress = end.address;
      serverPort = end.port;
    }
  }
  if (!server) {
    const full = fullUrl(e, serverAddress, serverPort, defaultPort);
    if (full !== undefined) a["url.full"] = full;
  }
  if (e.status !== undefined && e.status > 0) a["http.response.status_code"] = e.status;
  if (e.protocolVersion !== undefined) a["network.protocol.version"] = e.protocolVersion;
  if (serverAddress !== undefined) a["server.address"] = serverAddress;
  if (serverPort !== undefined) a["server.port"] = serverPort;
  const peer = e.peer;
  if (peer !== undefined) {
    if (server) {
      a["client.address"] = peer.address;
      if (peer.port !== undefined) a["client.port"] = peer.port;
    }
    a["network.peer.address"] = peer.address;
    if (peer.port !== undefined) a["network.peer.port"] = peer.port;
  }
  if (e.userAgent !== undefined) a["user_agent.original"] = e.userAgent;
  if (e.requestBodySize !== undefined) a["http.request.body.size"] = e.requestBodySize;
  if (e.responseBodySize !== undefined) a["http.response.body.size"] = e.responseBodySize;
  if (e.tid !== undefined) a["thread.id"] = e.tid;

  let code: StatusCode = "UNSET";
  const status = e.status ?? 0;
  if (!server && e.failed) {
    code = "ERROR";
    a["error.type"] = "_OTHER";
  } else if (status >= (server ? 500 : 400)) {
    code = "ERROR";
    a["error.type"] = String(status);
  }

  const start = ctx.toUnixNano(e.startMonoNs);
  let end = ctx.toUnixNano(e.endMonoNs);
  if (end < start) end = start;
  const { traceId, spanId, parentSpanId, sampled, via } = context;
  if (parentSpanId !== "" && via !== undefined) a[PARENT_METHOD] = via;
  return {
    traceId,
    spanId,
    parentSpanId,
    // `{method}`: the semantic conventions forbid the raw path as a span name (unbounded
    // cardinality); `{method} {http.route}` once a low-cardinality route is known.
    name: known ? (route !== "" ? `${method} ${route}` : method) : "HTTP",
    kind: e.kind,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes: a,
    status: { code },
    resource: ctx.resource,
    ...(sampled === undefined ? {} : { parentSampled: sampled }),
  };
}

/** A client's `url.full`: the absolute-form target as sent, else built from its parts. */
function fullUrl(
  e: HttpExchange,
  address: string | undefined,
  port: number | undefined,
  defaultPort: number,
): string | undefined {
  if (e.path === undefined) return undefined;
  const path = e.path === "" ? "/" : e.path;
  const pathQuery = e.query === undefined ? path : `${path}?${redactQuery(e.query)}`;
  if (e.absolute !== undefined) {
    const userinfo = e.absolute.userinfo ? "REDACTED:REDACTED@" : "";
    return `${e.absolute.scheme.toLowerCase()}://${userinfo}${e.authority}${pathQuery}`;
  }
  let host = e.authority;
  if (host === undefined || host === "") {
    if (address === undefined) return undefined;
    host = joinHostPort(address, port === defaultPort ? undefined : port);
  }
  return `${e.scheme}://${host}${pathQuery}`;
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

/**
 * Replaces the values of sensitive query parameters with `REDACTED`: the semantic
 * conventions' four (exact case) and the keys secrets travel under in practice.
 */
export function redactQuery(query: string): string {
  if (query === "") return query;
  let changed = false;
  const parts = query.split("&").map((kv) => {
    const eq = kv.indexOf("=");
    if (eq < 0 || !sensitiveKey(kv.slice(0, eq))) return kv;
    changed = true;
    return `${kv.slice(0, eq)}=REDACTED`;
  });
  return changed ? parts.join("&") : query;
}
