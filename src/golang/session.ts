/**
 * A small standalone Go tracing session: locate one process's probe sites, load
 * `go.bpf.o` with the process's offsets, attach, read the ring buffer, decode, and hand
 * out spans until the signal aborts. Thin on purpose: the main engine adopts the pieces
 * (locate, decoder, span builder) rather than this loop.
 *
 * @module
 */
import { BpfObject, type Link, monotonicNs, realtimeNs } from "../../ffi/mod.ts";
import type { Attributes, Span } from "../model/span.ts";
import { goEventDecoder } from "./events.ts";
import { type GoLocation, locateGo, type LocateGoOptions } from "./locate.ts";
import { encodeGoOffsets } from "./offsets.ts";
import { goSpan } from "./spans.ts";

/** Default path of the compiled BPF object. */
export const GO_BPF_OBJECT = new URL("../../bpf/out/go.bpf.o", import.meta.url).pathname;

/** Counters of a session, from the BPF `go_stats` array. */
export type GoStats = Record<
  | "serverEntry"
  | "serverRet"
  | "clientEntry"
  | "clientRet"
  | "sqlEntry"
  | "sqlRet"
  | "newprocRet"
  | "events"
  | "drops",
  number
>;

const STAT_NAMES: Record<keyof GoStats, string> = {
  serverEntry: "GO_STAT_SERVER_ENTRY",
  serverRet: "GO_STAT_SERVER_RET",
  clientEntry: "GO_STAT_CLIENT_ENTRY",
  clientRet: "GO_STAT_CLIENT_RET",
  sqlEntry: "GO_STAT_SQL_ENTRY",
  sqlRet: "GO_STAT_SQL_RET",
  newprocRet: "GO_STAT_NEWPROC_RET",
  events: "GO_STAT_EVENTS",
  drops: "GO_STAT_DROPS",
};

/** The BPF side's counters of an opened `go.bpf.o`. */
export function readGoStats(obj: BpfObject): GoStats {
  const index = obj.enumValues("go_stat");
  const map = obj.map("go_stats");
  const stats = {} as GoStats;
  for (const [key, name] of Object.entries(STAT_NAMES)) {
    stats[key as keyof GoStats] = map.sumPerCpu(index[name] ?? -1);
  }
  return stats;
}

/** Total probe hits in `stats` (every entry and return program run). */
export function probeHits(stats: GoStats): number {
  return stats.serverEntry + stats.serverRet + stats.clientEntry + stats.clientRet +
    stats.sqlEntry + stats.sqlRet + stats.newprocRet;
}

/** Options for {@linkcode runGoTrace}. */
export interface GoTraceOptions {
  /** The Go process to trace. */
  pid: number;
  /** Receives each span as its event arrives. */
  onSpan: (span: Span) => void;
  /** Stops the session (detaches everything). */
  signal: AbortSignal;
  /** Called once every probe is attached. */
  onReady?: (location: GoLocation, probes: number) => void;
  /** Receives records that could not be decoded. Default: ignored (counted). */
  onBadRecord?: (error: string) => void;
  /** Resource attributes of the spans. Default: `process.pid`. */
  resource?: Attributes;
  /** The compiled BPF object. Default {@linkcode GO_BPF_OBJECT}. */
  objectPath?: string;
  /** Passed to {@linkcode locateGo}. */
  locate?: LocateGoOptions;
  /** Ring polling period in ms. Default 50. */
  pollMs?: number;
}

/** What a session did, or why it attached nothing. */
export type GoTraceResult =
  | {
    ok: true;
    location: GoLocation;
    /** Uprobes attached. */
    probes: number;
    spans: number;
    badRecords: number;
    stats: GoStats;
  }
  | { ok: false; error: string };

/**
 * Traces one Go process until `signal` aborts. A process that cannot be probed (not Go,
 * unknown Go version, nothing to probe) gives `{ ok: false, error }` with nothing attached.
 *
 * @example
 * ```ts ignore
 * const stop = new AbortController();
 * const done = runGoTrace({ pid, signal: stop.signal, onSpan: (s) => console.log(s.name) });
 * // … later
 * stop.abort();
 * const result = await done; // counters in result.stats
 * ```
 */
export async function runGoTrace(options: GoTraceOptions): Promise<GoTraceResult> {
  const located = await locateGo({ pid: options.pid }, options.locate);
  if (!located.ok) return located;
  const location = located.location;
  const obj = BpfObject.open(options.objectPath ?? GO_BPF_OBJECT);
  const links: Link[] = [];
  try {
    obj.load();
    const pidKey = new Uint8Array(new Uint32Array([options.pid]).buffer);
    obj.map("go_offsets").update(
      pidKey,
      encodeGoOffsets(location.offsets, obj.structLayout("go_offsets")),
    );
    obj.map("go_traced").update(pidKey, new Uint8Array(new Uint32Array([1]).buffer));
    for (const site of location.sites) {
      links.push(
        obj.program(site.program).attachUprobe({
          path: location.path,
          offset: site.fileOffset,
          pid: options.pid,
        }),
      );
    }
    const decode = goEventDecoder(obj);
    const ring = obj.map("go_events").ringReader();
    const resource = options.resource ?? { "process.pid": options.pid };
    let clockOffset = realtimeNs() - monotonicNs();
    const ctx = {
      resource,
      toUnixNano: (ns: bigint) => ns + clockOffset,
      sqlSystem: location.sqlSystem,
    };
    let spans = 0;
    let badRecords = 0;
    const drain = () =>
      ring.consume((bytes, view, offset, length) => {
        const r = decode(bytes, view, offset, length);
        if (!r.ok) {
          badRecords++;
          options.onBadRecord?.(r.error);
          return;
        }
        spans++;
        options.onSpan(goSpan(r.event, ctx));
      });
    options.onReady?.(location, links.length);
    try {
      while (!options.signal.aborted) {
        await Promise.race([ring.wait(options.pollMs ?? 50), aborted(options.signal)]);
        while (drain() > 0) { /* until empty */ }
        clockOffset = realtimeNs() - monotonicNs();
      }
      while (drain() > 0) { /* what arrived before the stop */ }
    } finally {
      ring.close();
    }
    return { ok: true, location, probes: links.length, spans, badRecords, stats: readGoStats(obj) };
  } finally {
    for (const link of links) link.close();
    obj.close();
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
