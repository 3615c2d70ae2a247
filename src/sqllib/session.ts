/**
 * A small standalone session of the SQL library instrumentation: inspect one process,
 * locate its client libraries, load `sqllib.bpf.o`, give it the process's member offsets,
 * attach, read the ring buffer, decode, pair and hand out spans until the signal aborts.
 * Thin on purpose: the main engine adopts the pieces (locate, decoder, pairing, span
 * maker) rather than this loop.
 *
 * @module
 */
import { BpfObject, type Link, monotonicNs, realtimeNs } from "../../ffi/mod.ts";
import { inspectProcess, withMappedFile } from "../discovery/mod.ts";
import { RandomIdGenerator } from "../model/ids.ts";
import type { Attributes, Span } from "../model/span.ts";
import { sqlLibEventDecoder } from "./events.ts";
import { locateSqlLibraries, SQL_OFFSET_ABSENT, type SqlLibLocation } from "./locate.ts";
import { sqlLibSpan } from "./spans.ts";
import { type SqlLibStatement, SqlLibStatements } from "./statements.ts";

/** Default path of the compiled BPF object. */
export const SQLLIB_BPF_OBJECT = new URL("../../bpf/out/sqllib.bpf.o", import.meta.url).pathname;

/** Counters of a session, from the BPF `sqllib_stats` array. */
export interface SqlLibStats {
  /** Probe hits (program runs) in libpq, the MySQL library and SQLite. */
  libpqHits: number;
  mysqlHits: number;
  sqliteHits: number;
  events: number;
  drops: number;
}

/** The BPF side's counters of an opened `sqllib.bpf.o`. */
export function readSqlLibStats(obj: BpfObject): SqlLibStats {
  const index = obj.enumValues("sqllib_stat");
  const map = obj.map("sqllib_stats");
  const stat = (name: string) => map.sumPerCpu(index[name] ?? -1);
  return {
    libpqHits: stat("SQLLIB_STAT_PQ_HITS"),
    mysqlHits: stat("SQLLIB_STAT_MYSQL_HITS"),
    sqliteHits: stat("SQLLIB_STAT_SQLITE_HITS"),
    events: stat("SQLLIB_STAT_EVENTS"),
    drops: stat("SQLLIB_STAT_DROPS"),
  };
}

/** Options for {@linkcode runSqlLibTrace}. */
export interface SqlLibTraceOptions {
  /** The process to trace. */
  pid: number;
  /** Receives each span as its statement completes. */
  onSpan: (span: Span) => void;
  /** Stops the session (detaches everything). */
  signal: AbortSignal;
  /** Called once every probe is attached. */
  onReady?: (location: SqlLibLocation, probes: number) => void;
  /** Receives each statement before it becomes a span (tests, the engine's metrics). */
  onStatement?: (statement: SqlLibStatement) => void;
  /** Receives records that could not be decoded. Default: ignored (counted). */
  onBadRecord?: (error: string) => void;
  /** Resource attributes of the spans. Default: `process.pid`. */
  resource?: Attributes;
  /** Put statement texts in spans as sent. Default false (sanitized). */
  fullQueryText?: boolean;
  /** The compiled BPF object. Default {@linkcode SQLLIB_BPF_OBJECT}. */
  objectPath?: string;
  /** Ring polling period in ms. Default 50. */
  pollMs?: number;
}

/** What a session did, or why it attached nothing. */
export type SqlLibTraceResult =
  | {
    ok: true;
    location: SqlLibLocation;
    /** Uprobes attached. */
    probes: number;
    spans: number;
    badRecords: number;
    stats: SqlLibStats;
  }
  | { ok: false; error: string };

/** Encodes a process's offsets as a `struct sqllib_proc` value. */
export function encodeSqlLibProc(
  offsets: Record<string, number>,
  layout: { size: number; fields: Record<string, { offset: number; size: number }> },
): Uint8Array<ArrayBuffer> {
  const value = new Uint8Array(layout.size);
  const view = new DataView(value.buffer);
  for (const [name, field] of Object.entries(layout.fields)) {
    view.setUint32(field.offset, offsets[name] ?? SQL_OFFSET_ABSENT, true);
  }
  return value;
}

/**
 * Traces one process's SQL client libraries until `signal` aborts. A process with none
 * of them (or none usable) gives `{ ok: false, error }` with nothing attached.
 *
 * @example
 * ```ts ignore
 * const stop = new AbortController();
 * const done = runSqlLibTrace({ pid, signal: stop.signal, onSpan: (s) => console.log(s.name) });
 * // … later
 * stop.abort();
 * const result = await done; // probe hits in result.stats
 * ```
 */
export async function runSqlLibTrace(options: SqlLibTraceOptions): Promise<SqlLibTraceResult> {
  const inspected = await inspectProcess(options.pid);
  if (!inspected.ok) return { ok: false, error: inspected.message };
  const location = await locateSqlLibraries(inspected.process);
  if (location.sites.length === 0) {
    const why = location.problems.length ? `: ${location.problems.join("; ")}` : "";
    return {
      ok: false,
      error: `process ${options.pid} uses no SQL client library upspan can probe${why}`,
    };
  }
  const obj = BpfObject.open(options.objectPath ?? SQLLIB_BPF_OBJECT);
  const links: Link[] = [];
  try {
    obj.load();
    const pidKey = new Uint8Array(new Uint32Array([options.pid]).buffer);
    obj.map("sqllib_procs").update(
      pidKey,
      encodeSqlLibProc(location.offsets, obj.structLayout("sqllib_proc")),
    );
    for (const site of location.sites) {
      links.push(
        withMappedFile(site.file, (path) =>
          obj.program(site.program).attachUprobe({
            path,
            offset: site.offset,
            pid: options.pid,
            retprobe: site.retprobe,
          })),
      );
    }
    const decode = sqlLibEventDecoder(obj);
    const ring = obj.map("sql_events").ringReader();
    const resource = options.resource ?? { "process.pid": options.pid };
    let clockOffset = realtimeNs() - monotonicNs();
    const ctx = {
      resource,
      toUnixNano: (ns: bigint) => ns + clockOffset,
      ids: new RandomIdGenerator(),
      ...(options.fullQueryText !== undefined ? { fullQueryText: options.fullQueryText } : {}),
    };
    let spans = 0;
    let badRecords = 0;
    const statements = new SqlLibStatements((s) => {
      options.onStatement?.(s);
      spans++;
      options.onSpan(sqlLibSpan(s, ctx));
    });
    const drain = () =>
      ring.consume((bytes, view, offset, length) => {
        const r = decode(bytes, view, offset, length);
        if (!r.ok) {
          badRecords++;
          options.onBadRecord?.(r.error);
          return;
        }
        statements.push(r.event);
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
    const stats = readSqlLibStats(obj);
    return { ok: true, location, probes: links.length, spans, badRecords, stats };
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
