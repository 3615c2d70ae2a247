/**
 * Trace context: how a span finds its trace and parent — the W3C `traceparent` a request
 * carries (and passes on, when a proxy forwards it), the traced client at the other end of a
 * local connection, and the request a thread is serving when it makes a call.
 *
 * @example
 * ```ts ignore
 * import { parseTraceparent, PeerLinks, ThreadRequests } from "./src/context/mod.ts";
 * ```
 *
 * @module
 */
export { formatTraceparent, parseTraceparent, type TraceParent } from "./traceparent.ts";
export { clientToServer, PeerLinks } from "./peer_links.ts";
export { ReceivedHeaders } from "./received_headers.ts";
export { ThreadRequests } from "./thread_requests.ts";
