/**
 * SQL client libraries as the engine traces them: libpq, the MySQL/MariaDB client and
 * SQLite, found mapped in a process (or linked into its executable), probed in
 * `sqllib.bpf.o` -- opened the first time a process has one -- and their statements turned
 * into spans, children of the request their thread is serving.
 *
 * @module
 */
import { type BpfObject, encodeU32Struct, readCounters } from "../../ffi/mod.ts";
import type { ProcessInfo } from "../discovery/mod.ts";
import {
  type Instrumented,
  type LoadedObject,
  ObjectInstrumentation,
  wallClock,
} from "../instrumentation.ts";
import { type IdGenerator, RandomIdGenerator } from "../model/ids.ts";
import { PARENT_METHOD, type TraceContext } from "../model/trace_context.ts";
import type { Attributes, Span } from "../model/span.ts";
import { type SqlLibEvent, sqlLibEventDecoder } from "./events.ts";
import {
  locateSqlLibraries,
  SQL_OFFSET_ABSENT,
  type SqlLibLocation,
  type SqlLibSite,
} from "./locate.ts";
import { LIBPQ_APP_PROGRAMS, type LibpqMode } from "./probes.ts";
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

/** A process whose libpq may be probed in either mode. */
interface LibpqProcess {
  mode: LibpqMode;
  /** It called PQsend* in the synchronous mode: asynchronous for good. */
  mixed: boolean;
  /** Its probes are its own (else shared by every process mapping `file`). */
  pin: boolean;
  /** Its libpq, as device:inode. */
  file: string;
  sites: SqlLibSite[];
  /** The old mode's probes being detached. */
  turning?: Promise<void>;
  /** Its application made a run of PQexec* calls (the BPF side said so). */
  ready?: boolean;
}

/**
 * A libpq site is attached in `mode`; a process asynchronous for good (`mixed`) has no use
 * for its PQexec* stubs, whose traps (an indirect `jmp`, single-stepped) would only cost.
 */
function inMode(site: SqlLibSite, mode: LibpqMode, mixed: boolean): boolean {
  return site.mode === mode && !(mixed && site.program === LIBPQ_APP_PROGRAMS.exec.program);
}

/** libpq, MySQL client and SQLite probes for the engine. */
export class SqlLibInstrumentation
  extends ObjectInstrumentation<SqlLibStats, SqlLibLocation, SqlLibEvent> {
  readonly name = "SQL client libraries";
  readonly #ids: IdGenerator = new RandomIdGenerator();
  readonly #statements: SqlLibStatements;
  readonly #onConnection?: (pid: number, conn: string) => void;
  /** pid -> how its libpq is probed, and its sites of both modes. */
  readonly #libpq = new Map<number, LibpqProcess>();

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
    const libpq = where.libraries.find((l) => l.library === "libpq");
    const file = libpq && `${libpq.file.device}:${libpq.file.inode}`;
    // Read again (a library loaded since), a process keeps its mode; a new one starts
    // asynchronous (with probes shared by a file's processes, that one's are attached again
    // for it, and the others skip them until it too turns).
    const own = this.#libpq.get(process.pid);
    const mode: LibpqMode = where.libpqSync && own?.mode === "sync" ? "sync" : "async";
    if (own?.mode === "sync" && mode === "async") {
      // A file loaded since calls PQsend* past any stub: the synchronous mode would miss it.
      const sync = own.sites.filter((s) => s.mode === "sync");
      open.probes.detach(sync, own.pin ? process.pid : -1).catch(() => {});
    }
    this.#setSync(open, process.pid, mode === "sync");
    // A process that cannot turn (it may call PQsend* where no probe sees) is asynchronous
    // for good, and keeps the other processes sharing its probes so.
    const mixed = (own?.mixed ?? false) || !where.libpqSync;
    const mine = (s: SqlLibSite) => s.mode === undefined || inMode(s, mode, mixed);
    open.probes.attach(where.sites.filter(mine), pin ? process.pid : -1);
    if (file) {
      const sites = where.sites.filter((s) => s.mode !== undefined);
      this.#libpq.set(process.pid, { mode, mixed, pin, file, sites, ready: own?.ready });
    } else this.#libpq.delete(process.pid);
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
    const key = new Uint8Array(new Uint32Array([pid]).buffer);
    this.loaded?.obj.map("sqllib_procs").delete(key);
    this.loaded?.obj.map("pq_sync").delete(key);
    this.loaded?.obj.map("pq_execs").delete(key);
    const gone = this.#libpq.get(pid);
    this.#libpq.delete(pid);
    // It may have been all that kept its libpq's other processes asynchronous.
    if (gone && !gone.pin) {
      const next = [...this.#libpq].find(([, p]) => !p.pin && p.file === gone.file && p.ready);
      if (next) this.#turn(next[0], "sync");
    }
  }

  /**
   * How a process's libpq is probed, once its probes are all in place; `undefined`: not at
   * all, or changing modes.
   */
  libpqMode(pid: number): LibpqMode | undefined {
    const p = this.#libpq.get(pid);
    return p?.turning ? undefined : p?.mode;
  }

  #setSync(open: LoadedObject, pid: number, sync: boolean): void {
    const key = new Uint8Array(new Uint32Array([pid]).buffer);
    if (sync) open.obj.map("pq_sync").update(key, new Uint8Array([1]));
    else open.obj.map("pq_sync").delete(key);
    open.obj.map("pq_execs").delete(key);
  }

  /**
   * Turns a process's libpq probes to `mode`: for it alone when its probes are its own,
   * else for every process mapping the same libpq (to synchronous once each has made its
   * run of PQexec* calls). Back to asynchronous is for good (the process mixes both kinds
   * of calls). The new mode's probes are in place before the old
   * ones go; a statement under way as the mode changes may be lost.
   */
  #turn(pid: number, mode: LibpqMode): void {
    const open = this.loaded;
    const proc = this.#libpq.get(pid);
    if (!open || !proc) return;
    if (mode === "sync") proc.ready = true;
    if (proc.mode === mode || (mode === "sync" && proc.mixed)) return;
    const mixed = mode === "async";
    const turning = proc.pin
      ? [[pid, proc] as const]
      : [...this.#libpq].filter(([, p]) => !p.pin && p.file === proc.file);
    // Probes shared by a file's processes turn synchronous once all of them would: one that
    // calls PQsend* would lose statements turning back.
    if (mode === "sync" && turning.some(([, p]) => !p.ready || p.mixed)) return;
    const at = proc.pin ? pid : -1;
    for (const [p, record] of turning) {
      if (record.mode === mode) continue;
      try {
        open.probes.attach(record.sites.filter((s) => inMode(s, mode, mixed)), at);
      } catch {
        continue; // the process is gone
      }
      const old = record.mode;
      record.mode = mode;
      record.mixed ||= mixed;
      this.#setSync(open, p, mode === "sync");
      this.#statements.forget(p);
      const settled = (record.turning ?? Promise.resolve())
        .then(() => open.probes.detach(record.sites.filter((s) => s.mode === old), at))
        .catch(() => {})
        .then(() => {
          if (record.turning === settled) delete record.turning;
        });
      record.turning = settled;
    }
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
    if (event.kind === "pq-sync") return this.#turn(event.pid, "sync");
    if (event.kind === "pq-async") return this.#turn(event.pid, "async");
    if (event.socket !== undefined) this.#onConnection?.(event.pid, event.socket);
    if (event.tls !== undefined) this.#onConnection?.(event.pid, event.tls);
    if (event.kind === "pq-conn") return;
    this.#statements.push(event);
  }
}
