/**
 * Base64 for the SQL capture fixtures (`src/sql/testdata/*.json`), without a dependency.
 *
 * @module
 */

/** Bytes to base64. */
export function encodeBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
