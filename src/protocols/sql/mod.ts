/**
 * The SQL family, shared by every SQL wire protocol and by the client-library and Go
 * database/sql probes: the exchange record (one executed statement), the SQL text helpers
 * (operation, main table, sanitizer, by dialect), the one mapping to OpenTelemetry
 * database spans, and the connection parser the wire protocols plug into.
 *
 * @example
 * ```ts ignore
 * import { sqlExchangeSpan } from "./src/protocols/sql/mod.ts";
 * const span = sqlExchangeSpan(exchange, { system: "postgresql", resource, toUnixNano, ids });
 * ```
 *
 * @module
 */
export {
  endedExchange,
  type SqlError,
  type SqlExchange,
  type SqlExchangeSink,
  type SqlStatementStart,
} from "./exchange.ts";
export {
  sanitizeSql,
  sqlCollectionName,
  type SqlDialect,
  sqlOperationName,
  type SqlSummary,
  type SqlTextOptions,
  summarizeSql,
} from "./sql_text.ts";
export {
  mysqlSystem,
  type SqlExchangeContext,
  sqlExchangeSpan,
  type SqlSystem,
} from "./semconv.ts";
export { newSqlCounters, type SqlCounters, type SqlWire, SqlWireParser } from "./wire_parser.ts";
