/**
 * What every HTTP version shares about fields and methods: a field is a name and a value,
 * names compare ignoring ASCII case, and the request fields spans read (Host, User-Agent,
 * traceparent) are found in one pass.
 *
 * @module
 */

/** One header or trailer field, name as received. */
export type HeaderField = [name: string, value: string];

/** The methods of RFC 9110 and RFC 5789 (PATCH): what `http.request.method` may carry. */
export const HTTP_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

/**
 * True when `name` equals `lower` (a lower-case ASCII token) ignoring ASCII case, as
 * field names compare (RFC 9110 §5.1).
 */
export function equalsLower(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c !== lower.charCodeAt(i) && (c < 65 || c > 90 || c + 32 !== lower.charCodeAt(i))) {
      return false;
    }
  }
  return true;
}

/** The first value of a header field, matched case-insensitively (`name` in lower case). */
export function getHeader(fields: readonly HeaderField[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (equalsLower(f[0], name)) return f[1];
  }
  return undefined;
}

/** The request fields a span reads, found in one pass over the fields. */
export interface RequestFields {
  /** `Host` (HTTP/2's `:authority` is passed as the exchange's authority instead). */
  host?: string;
  userAgent?: string;
  /** The one `traceparent`; absent when there is none or more than one. */
  traceparent?: string;
}

/**
 * Finds the request fields spans read.
 *
 * @example
 * ```ts
 * import { requestFields } from "./headers.ts";
 * requestFields([["Host", "api"], ["traceparent", "00-..."]]).host; // "api"
 * ```
 */
export function requestFields(fields: readonly HeaderField[]): RequestFields {
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
