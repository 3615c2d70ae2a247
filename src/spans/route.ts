/**
 * Low-cardinality routes for server spans whose framework route is unknown (upspan sees
 * bytes, not the app's router): path segments that look like identifiers -- numbers,
 * UUIDs, long hex, random tokens, dates -- become `{id}`, so `/users/42/orders/9f8e...`
 * becomes `/users/{id}/orders/{id}`. The raw path stays in `url.path`.
 *
 * @module
 */
import type { Span } from "../model/span.ts";

/** The placeholder for a segment that looks like an identifier. */
export const ID_PLACEHOLDER = "{id}";

/** Most segments kept; deeper paths end in `/{rest}`: depth alone can make cardinality. */
const MAX_SEGMENTS = 8;
/** Longer segments are almost never route words. */
const MAX_WORD = 40;

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const HEX = /^(?:0x)?[0-9a-f]+$/i;
const VERSION = /^v\d{1,3}(?:\.\d{1,3}){0,2}$/i;

/**
 * True when a path segment looks like an identifier rather than a route word. Route words
 * such as `v2`, `api`, `oauth2`, `index.html` or `status` stay.
 */
export function isIdSegment(segment: string): boolean {
  const n = segment.length;
  if (n === 0) return false;
  if (n > MAX_WORD) return true;
  let digits = 0;
  let letters = 0;
  for (let i = 0; i < n; i++) {
    const c = segment.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if ((c | 32) >= 97 && (c | 32) <= 122) letters++;
  }
  if (digits === 0) return false; // words, also slugs like "new-york"
  if (digits === n) return true; // 42, 2024
  if (VERSION.test(segment)) return false; // v1, v2.1
  if (UUID.test(segment)) return true;
  // Hex with a digit: commit ids, object ids, hashes (8+ characters: "deadbeef" would
  // have no digit; "cafe1234" does).
  if (n >= 8 && HEX.test(segment)) return true;
  // More digits than letters, from 4 characters on: 2024-01-31, 12.5, 1234abc.
  if (n >= 4 && digits > letters) return true;
  // Long mixed tokens (base64url, session ids, slugs ending in a number): 16+
  // characters with digits are rarely words.
  if (n >= 16) return true;
  return false;
}

/**
 * A low-cardinality route from a request path: identifier-like segments become `{id}`,
 * more than eight segments end in `/{rest}`. Matrix parameters (`;a=b`) are dropped.
 *
 * @example
 * ```ts
 * deriveRoute("/users/42/orders/7f9c2ba4-e88f-4a6b-9c1d-2b3a4c5d6e7f");
 * // "/users/{id}/orders/{id}"
 * deriveRoute("/api/v2/items"); // "/api/v2/items"
 * ```
 */
export function deriveRoute(path: string): string {
  if (path === "" || path === "/") return "/";
  const parts = path.split("/");
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    let seg = parts[i]!;
    const semi = seg.indexOf(";");
    if (semi >= 0) seg = seg.slice(0, semi);
    if (i > MAX_SEGMENTS) {
      out.push("{rest}");
      break;
    }
    out.push(isIdSegment(seg) ? ID_PLACEHOLDER : seg);
  }
  return out.join("/");
}

/**
 * Sets `http.route` on a SERVER span that has a `url.path` and no route yet (changes the
 * span in place, returns it). Client spans get none: a route is the server's notion.
 * The span name stays `{method}`: a derived route is a guess, not the app's route
 * template, and the semantic conventions name spans `{method} {http.route}` only for
 * real routes.
 */
export function withRoute(span: Span): Span {
  if (span.kind !== "SERVER" || span.attributes["http.route"] !== undefined) return span;
  const path = span.attributes["url.path"];
  if (typeof path === "string") span.attributes["http.route"] = cachedRoute(path);
  return span;
}

/**
 * Routes of recent paths: a server answers the same few paths over and over, and deriving
 * one costs about a tenth of what the rest of its span does. Bounded (emptied when full, so
 * paths made of ids cost one more map entry each); long paths are not kept.
 */
const routes = new Map<string, string>();
const MAX_ROUTES = 1024;
const MAX_CACHED_PATH = 256;

function cachedRoute(path: string): string {
  let route = routes.get(path);
  if (route !== undefined) return route;
  route = deriveRoute(path);
  if (path.length <= MAX_CACHED_PATH) {
    if (routes.size >= MAX_ROUTES) routes.clear();
    routes.set(path, route);
  }
  return route;
}
