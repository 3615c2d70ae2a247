/**
 * Go instrumentation: net/http server and client spans and database/sql spans from
 * uprobes on Go binaries (entry and each `RET`, never uretprobes), with parent/child links
 * across goroutines made in BPF. Read in the order data flows: `probes.ts` (the table),
 * `locate.ts` + `offsets.ts` (where, and with which struct offsets), `bpf/uprobes/go.bpf.c`,
 * `events.ts` (records), `spans.ts` (spans), `instrumentation.ts` (all of it, for the engine).
 *
 * @example
 * ```ts ignore
 * import { GoInstrumentation } from "./mod.ts";
 * const go = new GoInstrumentation({ onSpan: console.log });
 * await go.add(process, true); // then go.consume() now and then, go.close() at the end
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
export {
  GO_BPF_OBJECT,
  GoInstrumentation,
  type GoInstrumentationOptions,
  type GoStats,
  probeHits,
} from "./instrumentation.ts";
