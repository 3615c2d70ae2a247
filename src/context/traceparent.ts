/**
 * The W3C Trace Context `traceparent` header (https://www.w3.org/TR/trace-context/#traceparent-header),
 * version 00: `00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`, lower-case hex, ids
 * not all zero.
 *
 * @module
 */

/** The ids a valid `traceparent` carries. */
export interface TraceParent {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** 16 lower-case hex digits: the caller's span. */
  parentId: string;
  /** Trace flags (bit 0: sampled). */
  flags: number;
}

/**
 * Parses a `traceparent` value; returns undefined unless it is a valid version-00 header.
 *
 * @example
 * ```ts
 * import { parseTraceparent } from "./traceparent.ts";
 * parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
 * // { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", parentId: "00f067aa0ba902b7", flags: 1 }
 * parseTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"); // undefined
 * ```
 */
export function parseTraceparent(value: string): TraceParent | undefined {
  const v = value.trim();
  if (v.length !== 55 || v.charCodeAt(0) !== 48 || v.charCodeAt(1) !== 48) return undefined;
  if (v.charCodeAt(2) !== 45 || v.charCodeAt(35) !== 45 || v.charCodeAt(52) !== 45) {
    return undefined;
  }
  if (!lowerHex(v, 3, 35) || !lowerHex(v, 36, 52) || !lowerHex(v, 53, 55)) return undefined;
  if (allZero(v, 3, 35) || allZero(v, 36, 52)) return undefined;
  return {
    traceId: v.slice(3, 35),
    parentId: v.slice(36, 52),
    flags: parseInt(v.slice(53, 55), 16),
  };
}

/** Formats a version-00 `traceparent` value. */
export function formatTraceparent(traceId: string, spanId: string, flags = 1): string {
  return `00-${traceId}-${spanId}-${flags.toString(16).padStart(2, "0")}`;
}

function lowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function allZero(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
}
