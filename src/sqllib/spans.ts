/**
 * The span of one statement a client library executed, through the wire parsers' own
 * {@linkcode sqlExchangeSpan}, so a libpq statement over a Unix socket and one seen on a
 * TCP socket look the same. Adds `db.client.library` (not a semantic-convention name: it
 * says which probe saw the statement).
 *
 * SQLite is not among `sqlExchangeSpan`'s systems yet: its span is built as MySQL's (so
 * the error code is SQLite's result code) and the text-derived attributes are redone with
 * the generic SQL dialect, where `"…"` is an identifier as in SQLite.
 *
 * @module
 */
import type { Attributes, Span } from "../model/span.ts";
import type { IdGenerator } from "../model/ids.ts";
import { sanitizeSql, sqlExchangeSpan, summarizeSql } from "../protocols/sql/mod.ts";
import type { SqlLibStatement } from "./statements.ts";

/** What besides the statement a span needs. */
export interface SqlLibSpanContext {
  /** Resource attributes of the process. */
  resource: Attributes;
  /** Kernel monotonic ns to Unix ns. */
  toUnixNano(monoNs: bigint): bigint;
  ids: IdGenerator;
  /** Put the statement text in `db.query.text` as sent. Default false (sanitized). */
  fullQueryText?: boolean;
  /** Most characters of `db.query.text`. Default 4096. */
  maxQueryTextLength?: number;
}

/**
 * Builds the CLIENT span of one statement.
 *
 * @example
 * ```ts
 * import { sqlLibSpan } from "./spans.ts";
 * import { RandomIdGenerator } from "../model/ids.ts";
 * const span = sqlLibSpan(
 *   { library: "sqlite", system: "sqlite", pid: 1,
 *     exchange: { text: 'SELECT * FROM "t" WHERE x = 3', startMonoNs: 1n, endMonoNs: 2n, tid: 1 } },
 *   { resource: {}, toUnixNano: (ns) => ns, ids: new RandomIdGenerator() },
 * );
 * span.name; // "SELECT t"
 * ```
 */
export function sqlLibSpan(statement: SqlLibStatement, ctx: SqlLibSpanContext): Span {
  const { system, exchange } = statement;
  const base = {
    kind: "CLIENT" as const,
    resource: ctx.resource,
    toUnixNano: ctx.toUnixNano,
    ids: ctx.ids,
    ...(ctx.fullQueryText !== undefined ? { fullQueryText: ctx.fullQueryText } : {}),
    ...(ctx.maxQueryTextLength !== undefined ? { maxQueryTextLength: ctx.maxQueryTextLength } : {}),
  };
  const span = sqlExchangeSpan(exchange, {
    ...base,
    system: system === "sqlite" ? "mysql" : system,
  });
  span.attributes["db.client.library"] = statement.library;
  if (system !== "sqlite") return span;

  const a = span.attributes;
  a["db.system.name"] = "sqlite";
  delete a["db.operation.name"];
  delete a["db.collection.name"];
  const { operation, collection } = summarizeSql(exchange.text, { dialect: "generic" });
  if (operation !== undefined) a["db.operation.name"] = operation;
  if (collection !== undefined) a["db.collection.name"] = collection;
  if (exchange.text !== "") {
    const max = ctx.maxQueryTextLength ?? 4096;
    a["db.query.text"] = ctx.fullQueryText
      ? exchange.text.slice(0, max)
      : sanitizeSql(exchange.text, { dialect: "generic", maxLength: max });
  }
  span.name = operation !== undefined
    ? (collection !== undefined ? `${operation} ${collection}` : operation)
    : "sqlite";
  return span;
}
