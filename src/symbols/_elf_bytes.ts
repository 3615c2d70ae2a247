/**
 * Private helpers for the ELF reader: little-endian field access and NUL-terminated
 * strings, all bounds-checked so that corrupt input yields a default instead of an
 * exception.
 *
 * @module
 */

/** Longest symbol or section name decoded; longer names are cut (none real come close). */
export const MAX_NAME_BYTES = 8192;

const UTF8 = new TextDecoder("utf-8", { fatal: false });

/** A DataView over exactly the bytes of `bytes`. */
export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * An unsigned 64-bit little-endian field as a number. Values above 2^53 lose precision;
 * callers that need exact values check `Number.isSafeInteger` on the result.
 */
export function u64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 0x1_0000_0000;
}

/**
 * The NUL-terminated string at `offset` in `bytes`, decoded as UTF-8 (invalid sequences
 * become U+FFFD). Returns "" when `offset` is outside `bytes`; an unterminated string ends
 * at the end of `bytes`, and at most {@linkcode MAX_NAME_BYTES} bytes are decoded.
 */
export function cString(bytes: Uint8Array, offset: number): string {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= bytes.length) return "";
  const limit = Math.min(bytes.length, offset + MAX_NAME_BYTES);
  let end = bytes.indexOf(0, offset);
  if (end < 0 || end > limit) end = limit;
  return UTF8.decode(bytes.subarray(offset, end));
}

/**
 * Whether the NUL-terminated string at `offset` in `bytes` starts with `query` and the
 * byte after it is a NUL, the end of `bytes`, or one of `alsoEnd` (for example `@`).
 */
export function cStringMatches(
  bytes: Uint8Array,
  offset: number,
  query: Uint8Array,
  alsoEnd = -1,
): boolean {
  const n = query.length;
  if (offset < 0 || offset + n > bytes.length) return false;
  for (let i = 0; i < n; i++) {
    if (bytes[offset + i] !== query[i]) return false;
  }
  const after = offset + n < bytes.length ? bytes[offset + n] : 0;
  return after === 0 || after === alsoEnd;
}
