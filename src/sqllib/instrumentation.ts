/**
 * SQL client libraries as the engine traces them: libpq, the MySQL/MariaDB client and
 * SQLite, found mapped in a process (or linked into its executable), probed in
 * `sqllib.bpf.o` — opened the first time a process has one — and their statements turned
 * into spans, children of the request their thread is serving.
 *
 * @module
 */
import type { ProcessInfo } from "../discovery/mod.ts";
import {
  closeObject,
  type Instrumentation,
  type Instrumented,
  type LoadedObject,
  loadObject,
} from "../instrumentation.ts";
import { type IdGenerator, RandomIdGenerator } from "../model/ids.ts";
import type { TraceContext } from "../model/trace_context.ts";
import type { Attributes, Span } from "../model/span.ts";
import { type SqlLibEventDecoder, sqlLibEventDecoder } from "./events.ts";
import { locateSqlLibraries } from "./locate.ts";
import { encodeSqlLibProc, readSqlLibStats, SQLLIB_BPF_OBJECT } from "./session.ts";
import { sqlLibSpan } from "./spans.ts";
import { SqlLibStatements } from "./statements.ts";

/** Options for {@linkcode SqlLibInstrumentation}. */
export interface SqlLibInstrumentationOptions {
  onSpan(span: Span): void;
  toUnixNano(monoNs: bigint): bigint;
  resource(pid: number): Attributes;
  /** The request a thread was serving at a time, if any: its statements are children. */
  parentOf?(pid: number, tid: number, monoNs: bigint): TraceContext | undefined;
  /** Statements as sent, literals included. Default false. */
  fullQueryText?: boolean;
  /** Default {@linkcode SQLLIB_BPF_OBJECT}. */
  objectPath?: string;
}

/** libpq, MySQL client and SQLite probes for the engine. */
export class SqlLibInstrumentation implements Instrumentation {
  readonly name = "SQL client libraries";
  readonly #opts: SqlLibInstrumentationOptions;
  readonly #ids: IdGenerator = new RandomIdGenerator();
  #open?: LoadedObject & { decode: SqlLibEventDecoder; statements: SqlLibStatements };

  constructor(options: SqlLibInstrumentationOptions) {
    this.#opts = options;
  }

  get uprobes(): number {
    return this.#open?.probes.uprobes ?? 0;
  }

  async add(process: ProcessInfo, pin: boolean): Promise<Instrumented> {
    const where = await locateSqlLibraries(process);
    const name = `pid ${process.pid} (${process.comm})`;
    if (where.sites.length === 0) {
      return where.problems.length
        ? { attached: false, note: `${name}: ${where.problems.join("; ")}` }
        : { attached: false };
    }
    const open = this.#load();
    open.obj.map("sqllib_procs").update(
      new Uint8Array(new Uint32Array([process.pid]).buffer),
      encodeSqlLibProc(where.offsets, open.obj.structLayout("sqllib_proc")),
    );
    open.probes.attach(where.sites, pin ? process.pid : -1);
    const found = where.libraries.map((l) => `${l.library} in ${l.file.path}`).join(", ");
    return { attached: true, ownsSql: true, note: `${name}: ${found}` };
  }

  remove(pid: number): void {
    this.#open?.obj.map("sqllib_procs").delete(new Uint8Array(new Uint32Array([pid]).buffer));
  }

  consume(): number {
    const open = this.#open;
    if (!open) return 0;
    return open.ring.consume((bytes, view, at, length) => {
      const r = open.decode(bytes, view, at, length);
      if (r.ok) open.statements.push(r.event);
    });
  }

  counters(): { hits: number; drops: number } {
    const open = this.#open;
    if (!open) return { hits: 0, drops: 0 };
    const s = readSqlLibStats(open.obj);
    return { hits: s.libpqHits + s.mysqlHits + s.sqliteHits, drops: s.drops };
  }

  async close(): Promise<void> {
    const open = this.#open;
    this.#open = undefined;
    if (open) await closeObject(open);
  }

  #load() {
    if (this.#open) return this.#open;
    const loaded = loadObject(this.#opts.objectPath ?? SQLLIB_BPF_OBJECT, "sql_events");
    const { onSpan, resource, toUnixNano, parentOf, fullQueryText } = this.#opts;
    const statements = new SqlLibStatements((s) => {
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
        if (parent.sampled !== undefined) span.parentSampled = parent.sampled;
      }
      onSpan(span);
    });
    this.#open = { ...loaded, decode: sqlLibEventDecoder(loaded.obj), statements };
    return this.#open;
  }
}
