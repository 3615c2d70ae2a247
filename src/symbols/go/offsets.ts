/**
 * Struct member offsets for stripped Go binaries, which carry no DWARF: a table measured
 * from each supported toolchain (`offsets.json`, written by `scripts/go_offsets.ts` with
 * this folder's DWARF reader) and looked up by the binary's Go version. Third-party
 * modules (`golang.org/x/net`, `github.com/lib/pq`, ...) are keyed by module version in the
 * same file.
 *
 * A version not in the table gives an "unknown" result, never a neighbour's offsets --
 * except a patch release that lies between two measured releases of the same minor
 * version that agree on every field (a `verifiedRange`), flagged `exact: false`. Patch
 * releases do change layouts: `net/http.response` differs between go1.26.8 and go1.26.11.
 *
 * @module
 */

import table from "./offsets.json" with { type: "json" };

/** Offsets by struct (`net/http.Request`) then member (`Method`). */
export type StructOffsets = Record<string, Record<string, number>>;

/** The shape of `offsets.json`. */
export interface OffsetsTable {
  /** How the table was made. */
  comment: string;
  /** Pointer size in bytes of the measured targets (amd64): a Go string is {ptr, len}, a slice {ptr, len, cap}. */
  pointerSize: number;
  /** Standard library offsets by exact toolchain version (`go1.22.12`). */
  go: Record<string, StructOffsets>;
  /**
   * Per minor version (`go1.22`): runs of measured patch releases found identical, from
   * `first` to `last` inclusive.
   */
  verifiedRange: Record<string, { first: string; last: string }[]>;
  /** Third-party module offsets by module path, then module version. */
  modules: Record<string, Record<string, StructOffsets>>;
}

/** What {@linkcode goOffsets} returns. */
export type GoOffsetsResult =
  | { ok: true; version: string; exact: boolean; offsets: StructOffsets }
  | { ok: false; error: string };

/** The bundled table. */
export const OFFSETS: OffsetsTable = table as OffsetsTable;

/** Sizes of Go's string and slice headers for the measured pointer size. */
export const GO_LAYOUT = {
  /** Bytes in a pointer. */
  pointerSize: OFFSETS.pointerSize,
  /** A string: data pointer then length. */
  string: { ptr: 0, len: OFFSETS.pointerSize, size: 2 * OFFSETS.pointerSize },
  /** A slice: data pointer, length, capacity. */
  slice: { ptr: 0, len: OFFSETS.pointerSize, cap: 2 * OFFSETS.pointerSize },
  /** An interface: type (itab) pointer then data pointer. */
  iface: { tab: 0, data: OFFSETS.pointerSize },
} as const;

/** Parses `go1.22.12` into [1, 22, 12]; undefined for anything else (devel, rc, ...). */
export function parseGoVersion(version: string): [number, number, number] | undefined {
  const m = /^go(\d+)\.(\d+)(?:\.(\d+))?$/.exec(version);
  if (m === null) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/**
 * The standard-library offsets for Go `version` (as `.go.buildinfo` records it).
 *
 * @example
 * ```ts
 * import { goOffsets } from "./offsets.ts";
 *
 * const r = goOffsets("go1.22.12");
 * if (r.ok) r.offsets["net/http.Request"]?.["Method"]; // 0
 * ```
 */
export function goOffsets(version: string, table: OffsetsTable = OFFSETS): GoOffsetsResult {
  const exact = table.go[version];
  if (exact !== undefined) return { ok: true, version, exact: true, offsets: exact };
  const v = parseGoVersion(version);
  if (v !== undefined) {
    for (const range of table.verifiedRange[`go${v[0]}.${v[1]}`] ?? []) {
      const first = parseGoVersion(range.first);
      const last = parseGoVersion(range.last);
      const offsets = table.go[range.last];
      if (first && last && offsets && v[2] >= first[2] && v[2] <= last[2]) {
        return { ok: true, version: range.last, exact: false, offsets };
      }
    }
  }
  const known = Object.keys(table.go).join(", ");
  return {
    ok: false,
    error: `no struct offsets are known for Go version ${version} (known: ${known})`,
  };
}

/** Offsets for a third-party module at an exact version, or undefined. */
export function moduleOffsets(
  path: string,
  version: string,
  table: OffsetsTable = OFFSETS,
): StructOffsets | undefined {
  return table.modules[path]?.[version];
}
