/**
 * HTTP/2 (and gRPC over it) as a {@linkcode Protocol}: the client's connection preface,
 * the server's SETTINGS frame that opens its side, or -- on a connection joined mid-way -- a
 * HEADERS frame whose first field is a request's or a response's pseudo-field from HPACK's
 * static table, open a direction; `parser.ts` follows the streams.
 *
 * Prior-knowledge h2c on plain sockets and h2 over TLS (ALPN) both open with the preface.
 * The `Upgrade: h2c` path opens as HTTP/1.1 and is claimed by HTTP/1, which hands the
 * connection over at the 101 (`resume`, with the request that becomes stream 1).
 *
 * @module
 */
import type { Protocol, SniffVerdict } from "../protocol.ts";
import { FrameType, plausible, PREFACE, readHeader } from "./frames.ts";
import { Http2ConnectionParser } from "./parser.ts";
import { isUpgradedRequest } from "../http1/upgrade.ts";

/**
 * Judges a direction's opening bytes.
 *
 * @example
 * ```ts
 * import { sniffHttp2 } from "./protocol.ts";
 * sniffHttp2(new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")); // "client"
 * ```
 */
export function sniffHttp2(b: Uint8Array): SniffVerdict {
  if (b.length === 0) return "more";
  let prefix = true;
  for (let i = 0; i < Math.min(b.length, PREFACE.length); i++) {
    if (b[i] !== PREFACE[i]) {
      prefix = false;
      break;
    }
  }
  if (prefix) return b.length >= PREFACE.length ? "client" : "more";
  if (b.length < 9) return couldBeFrame(b) ? "more" : "no";
  const h = readHeader(b, 0);
  if (!plausible(h)) return "no";
  if (h.type === FrameType.SETTINGS && h.flags === 0 && h.length > 0) return "server";
  if (h.type === FrameType.HEADERS && h.streamId % 2 === 1) return headersSender(b, h.flags);
  return "no";
}

/** Whether fewer than 9 bytes could begin a SETTINGS or HEADERS frame. */
function couldBeFrame(b: Uint8Array): boolean {
  if (b[0] !== 0) return false; // a length within 16,384
  const type = b[3];
  return type === undefined || type === FrameType.SETTINGS || type === FrameType.HEADERS;
}

/** Which side a HEADERS frame's first field says sent it: static :method... or :status. */
function headersSender(b: Uint8Array, flags: number): SniffVerdict {
  let at = 9;
  if (flags & 0x08) at++; // pad length
  if (flags & 0x20) at += 5; // priority
  let first = b[at];
  if (first !== undefined && (first & 0xe0) === 0x20 && (first & 0x1f) !== 0x1f) first = b[++at];
  if (first === undefined) return b.length < 64 ? "more" : "no";
  const index = first & 0x80
    ? first & 0x7f
    : (first & 0xc0) === 0x40
    ? first & 0x3f
    : (first & 0xe0) === 0
    ? first & 0x0f
    : 0;
  if (index >= 1 && index <= 7) return "client"; // :authority, :method, :path, :scheme
  if (index >= 8 && index <= 14) return "server"; // :status
  return "no";
}

/** HTTP/2. No well-known ports: h2 shares 443 and 80 with HTTP/1, h2c runs anywhere. */
export const http2: Protocol = {
  name: "http2",
  family: "http",
  ports: [],
  carriesRpc: true,
  sniff: (bytes) => sniffHttp2(bytes),
  open: (connection) => new Http2ConnectionParser(connection),
  resume: (connection, carry) =>
    new Http2ConnectionParser(connection, isUpgradedRequest(carry) ? carry : undefined),
};
