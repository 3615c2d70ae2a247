/**
 * SQL client libraries as the engine traces them: libpq, the MySQL/MariaDB client and
 * SQLite, found mapped in a process (or linked into its executable), probed in
 * `sqllib.bpf.o` — opened the first time a process has one — and their statements turned
 * into spans, children of the request their thread is serving.
 *
 * @module
 */
import { type BpfObject, encodeU32Struct, readCounters } from "../../ffi/mod.ts";
import type { ProcessInfo } from "../discovery/mod.ts";
import { type Instrumented, ObjectInstrumentation, wallClock } from "../instrumentation.ts";
import { type IdGenerator, RandomIdGenerator } from "../model/ids.ts";
import { PARENT_METHOD, type TraceContext } from "../model/trace_context.ts";
import type { Attributes, Span } from "../model/span.ts";
import { type SqlLibEvent, sqlLibEventDecoder } from "./events.ts";
import { locateSqlLibraries, SQL_OFFSET_ABSENT, type SqlLibLocation } from "./locate.ts";
import { sqlLibSpan } from "./spans.ts";
import { type SqlLibStatement, SqlLibStatements } from "./statements.ts";

/** Default path of the compiled BPF object. */
export const SQLLIB_BPF_OBJECT = new URL("../../bpf/out/sqllib.bpf.o", import.meta.url).pathname;

/** The counters of `sqllib.bpf.o` (its `sqllib_stats` array). */
export interface SqlLibStats {
  /** Probe hits (program runs) in libpq, the MySQL library and SQLite. */
  libpqHits: number;
  mysqlHits: number;
  sqliteHits: number;
  events: number;
  drops: number;
}

const STAT_NAMES: Record<keyof SqlLibStats, string> = {
  libpqHits: "SQLLIB_STAT_PQ_HITS",
  mysqlHits: "SQLLIB_STAT_MYSQL_HITS",
  sqliteHits: "SQLLIB_STAT_SQLITE_HITS",
  events: "SQLLIB_STAT_EVENTS",
  drops: "SQLLIB_STAT_DROPS",
};

/** Options for {@linkcode SqlLibInstrumentation}. */
export interface SqlLibInstrumentationOptions {
  onSpan(span: Span): void;
  /** Default: by the clocks' offset at each span ({@linkcode wallClock}). */
  toUnixNano?(monoNs: bigint): bigint;
  /** Default: `process.pid` alone. */
  resource?(pid: number): Attributes;
  /** Receives each statement before it becomes a span (tests). */
  onStatement?(statement: SqlLibStatement): void;
  /** The request a thread was serving at a time, if any: its statements are children. */
  parentOf?(pid: number, tid: number, monoNs: bigint): TraceContext | undefined;
  /** Statements as sent, literals included. Default false. */
  fullQueryText?: boolean;
  /** Default {@linkcode SQLLIB_BPF_OBJECT}. */
  objectPath?: string;
  /** A libpq statement was sent on this socket (the capture's connection key): it is libpq's. */
  onConnection?(pid: number, conn: string): void;
}

/** libpq, MySQL client and SQLite probes for the engine. */
export class SqlLibInstrumentation
  extends ObjectInstrumentation<SqlLibStats, SqlLibLocation, SqlLibEvent> {
  readonly name = "SQL client libraries";
  readonly #ids: IdGenerator = new RandomIdGenerator();
  readonly #statements: SqlLibStatements;
  readonly #onConnection?: (pid: number, conn: string) => void;

  constructor(options: SqlLibInstrumentationOptions) {
    super(options.objectPath ?? SQLLIB_BPF_OBJECT, "sql_events");
    const { onSpan, onStatement, parentOf, fullQueryText } = options;
    this.#onConnection = options.onConnection;
    const { resource = (pid) => ({ "process.pid": pid }), toUnixNano = wallClock } = options;
    this.#statements = new SqlLibStatements((s) => {
      onStatement?.(s);
      const span = sqlLibSpan(s, {
        resource: resource(s.pid),
        toUnixNano,
        ids: this.#ids,
        ...(fullQueryText !== undefined ? { fullQueryText } : {}),
      });
      const parent = parentOf?.(s.pid, s.exchange.tid, s.exchange.startMonoNs);
      if (parent) {
        span.traceId = parent.traceId;
        span.parentSpanId = parent.spanId;
        span.attributes[PARENT_METHOD] = "thread";
        if (parent.sampled !== undefined) span.parentSampled = parent.sampled;
      }
      onSpan(span);
    });
  }

  async add(process: ProcessInfo, pin: boolean): Promise<Instrumented<SqlLibLocation>> {
    const where = await locateSqlLibraries(process);
    const name = `pid ${process.pid} (${process.comm})`;
    if (where.sites.length === 0) {
      return where.problems.length
        ? { attached: false, note: `${name}: ${where.problems.join("; ")}` }
        : { attached: false };
    }
    const open = this.load();
    open.obj.map("sqllib_procs").update(
      new Uint8Array(new Uint32Array([process.pid]).buffer),
      encodeU32Struct(open.obj.structLayout("sqllib_proc"), where.offsets, SQL_OFFSET_ABSENT),
    );
    open.probes.attach(where.sites, pin ? process.pid : -1);
    const found = where.libraries.map((l) => `${l.library} in ${l.file.path}`).join(", ");
    // libpq alone, its socket and SSL* read at each statement: the process's other
    // PostgreSQL connections (a pure-Python driver beside it) are the wire parsers'.
    const byConnection = where.offsets.pg_sock !== undefined &&
      where.offsets.pg_ssl !== undefined &&
      where.libraries.every((l) => l.library === "libpq");
    return {
      attached: true,
      location: where,
      ...(byConnection ? { sqlByConnection: true } : { ownsSql: true }),
      note: `${name}: ${found}`,
    };
  }

  remove(pid: number): void {
    this.loaded?.obj.map("sqllib_procs").delete(new Uint8Array(new Uint32Array([pid]).buffer));
  }

  counters(): { hits: number; drops: number } {
    const s = this.stats();
    return { hits: s.libpqHits + s.mysqlHits + s.sqliteHits, drops: s.drops };
  }

  protected readStats(obj: BpfObject | undefined): SqlLibStats {
    if (!obj) return { libpqHits: 0, mysqlHits: 0, sqliteHits: 0, events: 0, drops: 0 };
    return readCounters(obj, "sqllib_stats", "sqllib_stat", STAT_NAMES);
  }

  protected decoder(obj: BpfObject) {
    return sqlLibEventDecoder(obj);
  }

  protected onEvent(event: SqlLibEvent): void {
    if (event.socket !== undefined) this.#onConnection?.(event.pid, event.socket);
    if (event.tls !== undefined) this.#onConnection?.(event.pid, event.tls);
    this.#statements.push(event);
  }
}
