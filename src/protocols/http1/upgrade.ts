/**
 * HTTP/1.1's protocol upgrade (RFC 9110 §7.8) as a hand-over: a request whose `Upgrade`
 * names a protocol the registry parses, answered `101 Switching Protocols`, hands its
 * connection to that protocol (`../protocol.ts`), passing on the request itself -- its
 * answer comes in the new protocol (HTTP/2's stream 1, RFC 7540 §3.2).
 *
 * @module
 */
import type { TraceContext } from "../../model/trace_context.ts";
import { getHeader, type HeaderField } from "../http/headers.ts";
import type { Http1Request } from "./framer.ts";

/** Upgrade tokens a connection can be followed into, and the registry's protocol for each. */
const HANDED_OVER: ReadonlyMap<string, string> = new Map([["h2c", "http2"]]);

/** What HTTP/1 passes on at an upgrade: the request that asked for it, and its span ids. */
export interface UpgradedRequest {
  request: Http1Request;
  /** The span ids fixed when its head arrived, if they were (the socket was known). */
  context: TraceContext | undefined;
}

/**
 * The registry protocol an `Upgrade` field names, if it names one that is followed: in a
 * request, the first such offer; in a 101, the server's pick. Websocket is not followed
 * (its connection just stops being parsed).
 *
 * @example
 * ```ts
 * import { upgradeProtocol } from "./upgrade.ts";
 * upgradeProtocol([["Upgrade", "h2c"]]); // "http2"
 * ```
 */
export function upgradeProtocol(fields: readonly HeaderField[]): string | undefined {
  const upgrade = getHeader(fields, "upgrade");
  if (upgrade === undefined) return undefined;
  for (const offer of upgrade.split(",")) {
    const protocol = HANDED_OVER.get(offer.trim().toLowerCase());
    if (protocol !== undefined) return protocol;
  }
  return undefined;
}

/** Whether a hand-over's `carry` is HTTP/1's upgraded request. */
export function isUpgradedRequest(carry: unknown): carry is UpgradedRequest {
  return typeof carry === "object" && carry !== null &&
    (carry as UpgradedRequest).request?.kind === "request";
}
