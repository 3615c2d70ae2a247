/**
 * Pairs the SQL library events into one {@linkcode SqlExchange} per executed statement,
 * the same shape the wire parsers give:
 *
 * - libpq: a PQsend* opens a statement on its PGconn*; each error PGresult read for that
 *   connection adds its status (the first error wins); the NULL result closes it, with the
 *   last successful result's command tag (kept by the probe, which sends no event for a
 *   success). A synchronous call (PQexec*) is a statement by itself, with the
 *   last PGresult, as PQexec returns. A prepare is remembered by (connection, name) and
 *   reported only when it fails, as on the wire; executing it gives its text.
 * - MySQL: a call is a statement by itself; mysql_send_query opens one that
 *   mysql_read_query_result closes; a prepared statement's text is remembered by its
 *   MYSQL_STMT*.
 * - SQLite: a statement-end event is completed by the return code the same thread sends
 *   next; sqlite3_exec is one call.
 *
 * State is bounded: a connection whose results never come is forgotten once the
 * tables are full.
 *
 * @module
 */
import {
  endedExchange,
  type SqlError,
  type SqlExchange,
  type SqlStatementStart,
} from "../protocols/sql/mod.ts";
import { withCommandTag } from "../protocols/postgresql/wire.ts";
import type { SqlLibEvent } from "./events.ts";
import type { SqlLibrary } from "./probes.ts";

/** One statement a library executed, ready for a span. */
export interface SqlLibStatement {
  library: SqlLibrary;
  /** `db.system.name`. */
  system: "postgresql" | "mysql" | "mariadb" | "sqlite";
  pid: number;
  exchange: SqlExchange;
  /** The TCP peer the library's connection is to, when the probe read it (libpq). */
  server?: { address: string; port: number };
}

/** Receives the statements. */
export type SqlLibStatementSink = (statement: SqlLibStatement) => void;

/** Options of {@linkcode SqlLibStatements}. */
export interface SqlLibStatementsOptions {
  /** Most open statements, prepared texts and pending SQLite ends kept. Default 4096. */
  maxEntries?: number;
}

interface Open extends SqlStatementStart {
  op: "query" | "prepare" | "execute";
  tag?: string;
  error?: SqlError;
  namespace?: string;
  server?: { address: string; port: number };
}

/** ExecStatusType values that are errors (libpq-fe.h). */
const PG_ERRORS = new Set([5, 7, 11]);

/** SQLite's primary result codes (sqlite3.h), for error messages. */
const SQLITE_CODES: Record<number, string> = {
  1: "SQLITE_ERROR",
  2: "SQLITE_INTERNAL",
  3: "SQLITE_PERM",
  4: "SQLITE_ABORT",
  5: "SQLITE_BUSY",
  6: "SQLITE_LOCKED",
  7: "SQLITE_NOMEM",
  8: "SQLITE_READONLY",
  9: "SQLITE_INTERRUPT",
  10: "SQLITE_IOERR",
  11: "SQLITE_CORRUPT",
  13: "SQLITE_FULL",
  14: "SQLITE_CANTOPEN",
  17: "SQLITE_SCHEMA",
  18: "SQLITE_TOOBIG",
  19: "SQLITE_CONSTRAINT",
  20: "SQLITE_MISMATCH",
  21: "SQLITE_MISUSE",
  25: "SQLITE_RANGE",
};

/** SQLITE_OK, SQLITE_ROW, SQLITE_DONE: not errors. */
function sqliteFailed(rc: number): boolean {
  return rc !== 0 && rc !== 100 && rc !== 101;
}

/** A bounded map: the oldest entry goes when it is full. */
class Bounded<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super();
  }
  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.max) this.delete(this.keys().next().value!);
    return super.set(key, value);
  }
}

/**
 * The pairing state of one session (any number of processes).
 *
 * @example
 * ```ts ignore
 * const statements = new SqlLibStatements((s) => console.log(s.system, s.exchange.text));
 * statements.push(event); // each decoded event, in ring order
 * ```
 */
export class SqlLibStatements {
  readonly #sink: SqlLibStatementSink;
  /** `pid:handle` -> statements sent and not yet complete (libpq may pipeline). */
  readonly #open: Bounded<string, Open[]>;
  /** `pid:conn:name` (libpq) or `pid:stmt` (MySQL) -> prepared text. */
  readonly #prepared: Bounded<string, { text: string; truncated: boolean }>;
  /** `pid:tid` -> SQLite statement that ended, awaiting its return code. */
  readonly #ending: Bounded<string, SqlLibEvent>;
  /** pid -> MySQL server's system, from the version string the library keeps. */
  readonly #mysqlSystem: Bounded<number, "mysql" | "mariadb">;

  constructor(sink: SqlLibStatementSink, options: SqlLibStatementsOptions = {}) {
    const max = options.maxEntries ?? 4096;
    this.#sink = sink;
    this.#open = new Bounded(max);
    this.#prepared = new Bounded(max);
    this.#ending = new Bounded(max);
    this.#mysqlSystem = new Bounded(max);
  }

  /** Drops a process's statements under way (its probes changed: their ends may never come). */
  forget(pid: number): void {
    for (const key of [...this.#open.keys()]) if (key.startsWith(`${pid}:`)) this.#open.delete(key);
  }

  /** Feeds one event. */
  push(e: SqlLibEvent): void {
    if (e.library === "libpq") this.#libpq(e);
    else if (e.library === "mysql") this.#mysql(e);
    else this.#sqlite(e);
  }

  #emit(library: SqlLibrary, system: SqlLibStatement["system"], pid: number, o: Open, end: bigint) {
    const ex = endedExchange(o, end);
    if (o.tag !== undefined && o.tag !== "") withCommandTag(ex, o.tag);
    if (o.error) ex.error = o.error;
    if (o.namespace !== undefined) ex.namespace = o.namespace;
    this.#sink({ library, system, pid, exchange: ex, ...(o.server ? { server: o.server } : {}) });
  }

  #libpq(e: SqlLibEvent): void {
    // A user-space address fits a Number exactly, which prints faster than a BigInt.
    const key = `${e.pid}:${Number(e.handle)}`;
    if (e.kind === "send" || e.kind === "call") {
      const o: Open = {
        op: e.op === "result" ? "query" : e.op,
        text: e.text,
        truncated: e.truncated,
        startMonoNs: e.startMonoNs,
        tid: e.tid,
      };
      if (e.op === "prepare" || e.op === "execute") o.statementName = e.name;
      if (e.database !== "") o.namespace = e.database;
      if (e.peer) o.server = e.peer;
      if (e.op === "prepare") {
        this.#prepared.set(`${key}:${e.name}`, { text: e.text, truncated: e.truncated });
      } else if (e.op === "execute") {
        const p = this.#prepared.get(`${key}:${e.name}`);
        o.text = p?.text ?? "";
        o.truncated = p?.truncated ?? false;
      }
      if (e.kind === "call") return this.#pqCall(e, o);
      const queue = this.#open.get(key) ?? [];
      if (queue.length < 64) queue.push(o);
      this.#open.set(key, queue);
      return;
    }
    if (e.kind !== "result") return;
    const queue = this.#open.get(key);
    const o = queue?.[0];
    if (!queue || !o) return; // results of a statement sent before we attached
    if (e.hasResult) {
      if (PG_ERRORS.has(e.rc)) {
        o.error ??= { sqlstate: e.sqlstate, message: e.detail };
      } else if (e.detail !== "") o.tag = e.detail;
      return;
    }
    // The NULL carries the last successful result's tag (the probe kept it).
    if (e.detail !== "") o.tag = e.detail;
    queue.shift();
    if (queue.length === 0) this.#open.delete(key);
    // A prepare is reported only when it failed, as the wire parser does.
    if (o.op === "prepare" && !o.error) return;
    this.#emit("libpq", "postgresql", e.pid, o, e.endMonoNs);
  }

  /** A synchronous call, whole: its last PGresult (PQexec's), or none when it failed early. */
  #pqCall(e: SqlLibEvent, o: Open): void {
    if (!e.hasResult) o.error = { sqlstate: "", message: "no result (connection failed)" };
    else if (PG_ERRORS.has(e.rc)) o.error = { sqlstate: e.sqlstate, message: e.detail };
    else if (e.detail !== "") o.tag = e.detail;
    if (o.op === "prepare" && !o.error) return;
    this.#emit("libpq", "postgresql", e.pid, o, e.endMonoNs);
  }

  #mysql(e: SqlLibEvent): void {
    if (e.name !== "") this.#mysqlSystem.set(e.pid, /mariadb/i.test(e.name) ? "mariadb" : "mysql");
    const system = this.#mysqlSystem.get(e.pid) ?? "mysql";
    const key = `${e.pid}:${e.handle}`;
    const error: SqlError | undefined = e.rc !== 0
      ? { sqlstate: e.sqlstate, message: e.detail, ...(e.code !== 0 ? { code: e.code } : {}) }
      : undefined;
    if (e.kind === "send") {
      this.#open.set(key, [{
        op: "query",
        text: e.text,
        truncated: e.truncated,
        startMonoNs: e.startMonoNs,
        tid: e.tid,
      }]);
      return;
    }
    if (e.kind === "result") {
      const o = this.#open.get(key)?.[0];
      if (!o) return;
      this.#open.delete(key);
      if (error) o.error = error;
      this.#emit("mysql", system, e.pid, o, e.endMonoNs);
      return;
    }
    if (e.kind !== "call") return;
    const o: Open = {
      op: e.op === "prepare" ? "prepare" : e.op === "execute" ? "execute" : "query",
      text: e.text,
      truncated: e.truncated,
      startMonoNs: e.startMonoNs,
      tid: e.tid,
    };
    if (error) o.error = error;
    if (e.op === "prepare") {
      if (!error) {
        this.#prepared.set(key, { text: e.text, truncated: e.truncated });
        return;
      }
    } else if (e.op === "execute") {
      const p = this.#prepared.get(key);
      o.text = p?.text ?? "";
      o.truncated = p?.truncated ?? false;
    }
    this.#emit("mysql", system, e.pid, o, e.endMonoNs);
  }

  #sqlite(e: SqlLibEvent): void {
    const key = `${e.pid}:${e.tid}`;
    if (e.kind === "stmt-end") {
      this.#ending.set(key, e);
      return;
    }
    const sqliteError = (rc: number): SqlError | undefined =>
      sqliteFailed(rc)
        ? { sqlstate: "", code: rc, message: SQLITE_CODES[rc & 0xff] ?? `SQLite result ${rc}` }
        : undefined;
    if (e.kind === "stmt-rc") {
      const end = this.#ending.get(key);
      if (!end || end.handle !== e.handle) return;
      this.#ending.delete(key);
      const o: Open = {
        op: "execute",
        text: end.text,
        truncated: end.truncated,
        startMonoNs: end.startMonoNs,
        tid: end.tid,
      };
      const error = sqliteError(e.rc);
      if (error) o.error = error;
      this.#emit("sqlite", "sqlite", e.pid, o, end.endMonoNs);
      return;
    }
    if (e.kind === "call") {
      const o: Open = {
        op: "query",
        text: e.text,
        truncated: e.truncated,
        startMonoNs: e.startMonoNs,
        tid: e.tid,
      };
      const error = sqliteError(e.rc);
      if (error) o.error = error;
      this.#emit("sqlite", "sqlite", e.pid, o, e.endMonoNs);
    }
  }
}
