/**
 * HTTP/1.0 and HTTP/1.1 as a {@linkcode Protocol}: a request line or a status line
 * opens a direction (`framer.ts`), requests and responses pair per connection
 * (`parser.ts`), and each exchange becomes a span through the HTTP family's mapping
 * (`../http/semconv.ts`).
 *
 * @module
 */
import type { Protocol } from "../protocol.ts";
import { sniffHttp1 } from "./framer.ts";
import { Http1ConnectionParser } from "./parser.ts";

/**
 * HTTP/1.x. No well-known ports: a request or status line tells on any port, and HTTP
 * runs on too many to narrow by.
 *
 * @example
 * ```ts
 * import { http1 } from "./protocol.ts";
 * http1.sniff(new TextEncoder().encode("GET / HTTP/1.1\r\n"), "ingress"); // "client"
 * ```
 */
export const http1: Protocol = {
  name: "http1",
  family: "http",
  ports: [],
  sniff(bytes) {
    const verdict = sniffHttp1(bytes);
    return verdict === "request" ? "client" : verdict === "response" ? "server" : verdict;
  },
  open: (connection) => new Http1ConnectionParser(connection),
};
