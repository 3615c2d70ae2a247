/**
 * Go instrumentation: net/http server and client spans and database/sql spans from
 * uprobes on Go binaries (entry and each `RET`, never uretprobes), with parent/child links
 * across goroutines made in BPF. Read in the order data flows: `probes.ts` (the table),
 * `locate.ts` + `offsets.ts` (where, and with which struct offsets), `bpf/uprobes/go.bpf.c`,
 * `events.ts` (records), `spans.ts` (spans), `session.ts` (a standalone loop).
 *
 * @example
 * ```ts ignore
 * import { runGoTrace } from "./mod.ts";
 * const stop = new AbortController();
 * const result = runGoTrace({ pid: 1234, signal: stop.signal, onSpan: console.log });
 * ```
 *
 * @module
 */
export { GO_PROBES } from "./probes.ts";
export type { GoProbe, GoProbeGroup } from "./probes.ts";
export { locateGo } from "./locate.ts";
export type { GoLocateResult, GoLocation, GoProbeSite, LocateGoOptions } from "./locate.ts";
export {
  encodeGoOffsets,
  GO_OFFSET_ABSENT,
  GO_OFFSET_FIELDS,
  resolveGoOffsets,
} from "./offsets.ts";
export type { GoOffsetField, GoOffsetsResolution, GoProbeOffsets } from "./offsets.ts";
export { goEventDecoder } from "./events.ts";
export type {
  GoDecodeResult,
  GoEvent,
  GoEventDecoder,
  GoEventTypes,
  GoHttpEvent,
  GoSpanIds,
  GoSqlEvent,
  GoText,
} from "./events.ts";
export { goSpan, routeOfPattern } from "./spans.ts";
export type { GoSpanContext } from "./spans.ts";
export { GO_BPF_OBJECT, probeHits, runGoTrace } from "./session.ts";
export type { GoStats, GoTraceOptions, GoTraceResult } from "./session.ts";
