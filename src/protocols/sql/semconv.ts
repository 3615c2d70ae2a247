/**
 * Turns one SQL exchange into a {@linkcode Span} named and attributed by the OpenTelemetry
 * database semantic conventions (https://opentelemetry.io/docs/specs/semconv/database/):
 * `db.system.name`, `db.namespace`, `db.operation.name`, `db.collection.name`,
 * `db.query.text` (sanitized unless asked otherwise), `db.response.status_code`,
 * `server.address`/`server.port`, and `error.type` with status ERROR on failure.
 *
 * `db.response.status_code` is what each system's conventions say: PostgreSQL's SQLSTATE
 * (`42P01`); for MySQL and MariaDB the server's error number (`1146`). `error.type` is
 * the same code.
 *
 * @module
 */
import type { Attributes, Span, SpanKind } from "../../model/span.ts";
import type { SocketInfo } from "../../model/stream_chunk.ts";
import { type IdGenerator, RandomIdGenerator } from "../../model/ids.ts";
import { PARENT_METHOD, type TraceContext } from "../../model/trace_context.ts";
import type { SqlExchange } from "./exchange.ts";
import { sanitizeSql, type SqlDialect, type SqlSummary, summarizeSql } from "./sql_text.ts";
import { sanitizeErrorText } from "./error_text.ts";

/**
 * `db.system.name` values upspan reports: what the wire parsers tell apart, SQLite (from
 * its library's probes) and `other_sql` (Go's database/sql, whatever the driver).
 */
export type SqlSystem = "postgresql" | "mysql" | "mariadb" | "sqlite" | "other_sql";

/** What besides the exchange a span needs: facts about the connection and the process. */
export interface SqlExchangeContext {
  /** `db.system.name`. */
  system: SqlSystem;
  /** CLIENT when the traced process sent the statement (the usual case), SERVER when it is the database. */
  kind?: "CLIENT" | "SERVER";
  /** `db.namespace` when the exchange carries none (the connection's database). */
  namespace?: string;
  /** The socket under the connection, when known. */
  socket?: SocketInfo;
  /** Resource attributes of the process. */
  resource: Attributes;
  /** Kernel monotonic ns to Unix ns. */
  toUnixNano(monoNs: bigint): bigint;
  /** Ids for a span that does not continue a trace. Default: random ones. */
  ids?: IdGenerator;
  /** Put the statement text in `db.query.text` as sent, literals included. Default false. */
  fullQueryText?: boolean;
  /** Most characters of `db.query.text`. Default 4096. */
  maxQueryTextLength?: number;
}

/** An exchange whose thread may be unknown (Go's database/sql probes do not say). */
export type SqlStatement = Omit<SqlExchange, "tid"> & { tid?: number };

/** Operations whose row count is rows returned (not rows affected). */
const RETURNS_ROWS = new Set(["SELECT", "FETCH", "SHOW", "VALUES", "TABLE", "EXPLAIN", "CALL"]);

/**
 * The lexical rules of a system's SQL: SQLite's are the generic ones. An unknown driver's
 * SQL is read the cautious way, MySQL's, where double quotes and backslash escapes make
 * strings: `pw = "hunter2"` and `'a\'hunter2'` are hidden whole (a double-quoted name too).
 */
export function dialectOf(system: SqlSystem): SqlDialect {
  switch (system) {
    case "postgresql":
      return "postgresql";
    case "mysql":
    case "mariadb":
    case "other_sql":
      return "mysql";
    default:
      return "generic";
  }
}

const defaultIds = new RandomIdGenerator();

/**
 * Operation and main table by sanitized text, per dialect. A literal never changes them, so
 * statements that differ only in their values (the same query run with others) share one
 * summary, and each statement is read once (to sanitize it) instead of twice. Emptied when
 * full.
 */
const summaries = new Map<SqlDialect, Map<string, SqlSummary>>();
const MAX_SUMMARIES = 1024;

function summaryOf(sanitized: string, dialect: SqlDialect): SqlSummary {
  let byText = summaries.get(dialect);
  if (byText === undefined) summaries.set(dialect, byText = new Map());
  let summary = byText.get(sanitized);
  if (summary === undefined) {
    if (byText.size >= MAX_SUMMARIES) byText.clear();
    summary = summarizeSql(sanitized, { dialect });
    byText.set(sanitized, summary);
  }
  return summary;
}

/**
 * Builds the span of one statement.
 *
 * @example
 * ```ts
 * import { sqlExchangeSpan } from "./semconv.ts";
 * import { RandomIdGenerator } from "../../model/ids.ts";
 * const span = sqlExchangeSpan(
 *   { text: "SELECT * FROM users WHERE id = 42", startMonoNs: 1n, endMonoNs: 2n, tid: 7, rows: 1 },
 *   { system: "postgresql", namespace: "shop", resource: {}, toUnixNano: (ns) => ns,
 *     ids: new RandomIdGenerator() },
 * );
 * span.name; // "SELECT users"
 * span.attributes["db.query.text"]; // "SELECT * FROM users WHERE id = ?"
 * ```
 */
export function sqlExchangeSpan(
  ex: SqlStatement,
  ctx: SqlExchangeContext,
  context?: TraceContext,
): Span {
  const kind: SpanKind = ctx.kind ?? "CLIENT";
  const dialect = dialectOf(ctx.system);
  const attributes: Attributes = { "db.system.name": ctx.system };
  const namespace = ex.namespace ?? ctx.namespace;
  if (namespace !== undefined && namespace !== "") attributes["db.namespace"] = namespace;

  const max = ctx.maxQueryTextLength ?? 4096;
  let summary: SqlSummary;
  if (ex.text !== "" && !ctx.fullQueryText && ex.text.length <= max) {
    const sanitized = sanitizeSql(ex.text, { dialect, maxLength: max });
    attributes["db.query.text"] = sanitized;
    summary = summaryOf(sanitized, dialect);
  } else {
    summary = summarizeSql(ex.text, { dialect });
    if (ex.text !== "") {
      attributes["db.query.text"] = ctx.fullQueryText
        ? ex.text.slice(0, max)
        : sanitizeSql(ex.text, { dialect, maxLength: max });
    }
  }
  const operation = summary.operation;
  // The main table only from a whole statement: a cut one may have lost it.
  const collection = ex.truncated ? undefined : summary.collection;
  if (operation !== undefined) attributes["db.operation.name"] = operation;
  if (collection !== undefined) attributes["db.collection.name"] = collection;
  // Affected rows of DML have no attribute of their own in the conventions.
  if (ex.rows !== undefined && operation !== undefined && RETURNS_ROWS.has(operation)) {
    attributes["db.response.returned_rows"] = ex.rows;
  }

  const socket = ctx.socket;
  if (socket !== undefined && (socket.family === "ipv4" || socket.family === "ipv6")) {
    const server = kind === "SERVER";
    attributes["server.address"] = server ? socket.localAddress : socket.peerAddress;
    attributes["server.port"] = server ? socket.localPort : socket.peerPort;
    attributes["network.peer.address"] = socket.peerAddress;
    attributes["network.peer.port"] = socket.peerPort;
  }
  if (ex.tid !== undefined) attributes["thread.id"] = ex.tid;

  let failed = false;
  const err = ex.error;
  if (err !== undefined) {
    failed = true;
    const code = ctx.system === "postgresql"
      ? err.sqlstate
      : err.code !== undefined
      ? String(err.code)
      : err.sqlstate;
    if (code !== "") attributes["db.response.status_code"] = code;
    attributes["error.type"] = code !== "" ? code : "_OTHER";
  }

  const name = operation !== undefined
    ? (collection !== undefined ? `${operation} ${collection}` : operation)
    : ctx.system;
  const { traceId, spanId, parentSpanId, sampled, via } = context ??
    newContext(ctx.ids ?? defaultIds);
  if (parentSpanId !== "" && via !== undefined) attributes[PARENT_METHOD] = via;
  const start = ctx.toUnixNano(ex.startMonoNs);
  let end = ctx.toUnixNano(ex.endMonoNs);
  if (end < start) end = start;
  // The server quotes the values that failed: as private as the query's literals.
  const message = err === undefined ? "" : sanitizeErrorText(err.message);
  const status: Span["status"] = !failed
    ? { code: "UNSET" }
    : message !== ""
    ? { code: "ERROR", message }
    : { code: "ERROR" };
  return {
    traceId,
    spanId,
    parentSpanId,
    name,
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes,
    status,
    resource: ctx.resource,
    ...(sampled === undefined ? {} : { parentSampled: sampled }),
  };
}

function newContext(ids: IdGenerator): TraceContext {
  return { traceId: ids.traceId(), spanId: ids.spanId(), parentSpanId: "" };
}

/**
 * `db.system.name` for a MySQL-protocol server from its greeting's version string.
 *
 * @example
 * ```ts
 * import { mysqlSystem } from "./semconv.ts";
 * mysqlSystem("5.5.5-10.11.6-MariaDB-0+deb12u1"); // "mariadb"
 * ```
 */
export function mysqlSystem(serverVersion: string | undefined): "mysql" | "mariadb" {
  return serverVersion !== undefined && /mariadb/i.test(serverVersion) ? "mariadb" : "mysql";
}
