/**
 * The span of one statement a client library executed, through the wire parsers' own
 * {@linkcode sqlExchangeSpan}, so a libpq statement over a Unix socket and one seen on a
 * TCP socket look the same. Adds `db.client.library` (not a semantic-convention name: it
 * says which probe saw the statement).
 *
 * The SQL dialect follows the system: SQLite's statements are read with the generic
 * rules, where `"..."` is an identifier as in SQLite; its error code is SQLite's result code.
 *
 * @module
 */
import type { Attributes, Span } from "../model/span.ts";
import type { IdGenerator } from "../model/ids.ts";
import { sqlExchangeSpan } from "../protocols/sql/mod.ts";
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
  const span = sqlExchangeSpan(statement.exchange, {
    system: statement.system,
    kind: "CLIENT",
    resource: ctx.resource,
    toUnixNano: ctx.toUnixNano,
    ids: ctx.ids,
    ...(ctx.fullQueryText !== undefined ? { fullQueryText: ctx.fullQueryText } : {}),
    ...(ctx.maxQueryTextLength !== undefined ? { maxQueryTextLength: ctx.maxQueryTextLength } : {}),
  });
  span.attributes["db.client.library"] = statement.library;
  // As the wire path says them for a TCP connection; a Unix socket has neither.
  const server = statement.server;
  if (server) {
    span.attributes["server.address"] = server.address;
    span.attributes["server.port"] = server.port;
    span.attributes["network.peer.address"] = server.address;
    span.attributes["network.peer.port"] = server.port;
  }
  return span;
}
