/**
 * Reading Go executables for probing: build information (Go version, modules), the
 * function table (names -> entry/end, also in stripped binaries), `RET` offsets for
 * return probes, DWARF struct offsets when present, and a measured offsets table for
 * stripped binaries. Nothing here throws on damaged input: results say what was wrong.
 *
 * @example Where to probe net/http's server handler in a (possibly stripped) binary
 * ```ts
 * import { goOffsets, openGoBinary } from "./mod.ts";
 *
 * const opened = await openGoBinary("/usr/local/bin/server");
 * if (!opened.ok) throw new Error(opened.error);
 * using bin = opened.binary;
 * bin.version; // "go1.22.12"
 * const fn = bin.findFunction("net/http.serverHandler.ServeHTTP"); // { entry, end, fileOffset }
 * const rets = bin.retOffsets("net/http.serverHandler.ServeHTTP"); // { ok, fileOffsets }
 * // From DWARF, or for a stripped binary from the table measured for its Go version:
 * const request = bin.structOffsets("net/http.Request"); // { ok, source, members: { Method: 0, ... } }
 * goOffsets("go1.22.12"); // the table itself
 * ```
 *
 * @module
 */

export { GoBinary, openGoBinary, parseGoBinary } from "./go_binary.ts";
export type {
  GoBinaryResult,
  GoFunctionLocation,
  GoRetResult,
  GoStructResult,
} from "./go_binary.ts";
export { parseBuildInfo } from "./buildinfo.ts";
export type { GoBuildInfo, GoBuildInfoResult, GoModule } from "./buildinfo.ts";
export { parsePclntab, Pclntab } from "./pclntab.ts";
export type { GoFunction, PclntabResult } from "./pclntab.ts";
export { Dwarf, parseDwarf, readDwarf } from "./dwarf.ts";
export type { DwarfFunction, DwarfResult, DwarfSections } from "./dwarf.ts";
export { decodeLength, findRets } from "./x86_ret.ts";
export type { RetScanResult } from "./x86_ret.ts";
export { GO_LAYOUT, goOffsets, moduleOffsets, OFFSETS, parseGoVersion } from "./offsets.ts";
export type { GoOffsetsResult, OffsetsTable, StructOffsets } from "./offsets.ts";
