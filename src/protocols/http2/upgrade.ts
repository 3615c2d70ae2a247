/**
 * The `Upgrade: h2c` path (RFC 7540 §3.2): a connection that opens as HTTP/1.1, with a
 * request asking to switch to cleartext HTTP/2, which HTTP/1 hands over at the server's
 * 101 (`../http1/upgrade.ts`). The request becomes stream 1 -- its response comes as
 * HTTP/2 -- and the client's next bytes are the connection preface.
 *
 * @module
 */
import type { Http1Request } from "../http1/framer.ts";
import { getHeader } from "../http/headers.ts";
import { parseContentLength } from "../http1/framer.ts";
import type { Http2Message } from "./connection.ts";
import type { HeaderField } from "./hpack.ts";

/** HTTP/1.1 fields that belong to the connection, not to the request (RFC 9113 §8.2.2). */
const CONNECTION_FIELDS = new Set([
  "connection",
  "upgrade",
  "http2-settings",
  "host",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
]);

/**
 * The request that carried the upgrade as stream 1's request: pseudo-fields from its
 * request line and Host, connection-specific fields left out, names lower-cased.
 *
 * @example
 * ```ts ignore
 * const m = upgradedMessage(request); // request: GET /hello, Host: h:80, Upgrade: h2c
 * m.headers.fields; // [[":method","GET"],[":path","/hello"],[":scheme","http"],[":authority","h:80"]]
 * ```
 */
export function upgradedMessage(req: Http1Request): Http2Message {
  const fields: HeaderField[] = [
    [":method", req.method],
    [":path", req.target],
    [":scheme", "http"],
  ];
  const host = getHeader(req.headers, "host");
  if (host !== undefined) fields.push([":authority", host]);
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    if (!CONNECTION_FIELDS.has(lower)) fields.push([lower, value]);
  }
  const contentLength = getHeader(req.headers, "content-length");
  return {
    headers: { fields, unknown: 0, truncated: false },
    trailers: undefined,
    hasTrailers: false,
    bodySize: contentLength === undefined
      ? req.bodySize
      : Math.max(0, parseContentLength(contentLength)),
    complete: req.complete,
    ended: true,
    grpcMessages: undefined,
    firstByteMonoNs: req.firstByteMonoNs,
    lastByteMonoNs: req.lastByteMonoNs,
    tid: req.tid,
  };
}
