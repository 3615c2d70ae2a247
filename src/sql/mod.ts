/**
 * SQL over the wire: PostgreSQL and MySQL/MariaDB protocol parsers that turn a
 * connection's captured bytes into one exchange per executed statement, the SQL text
 * helpers (operation, main table, sanitizer), and the OpenTelemetry database span mapping.
 *
 * {@linkcode SqlConnection} is the entry point for stream chunks (the counterpart of
 * `HttpConnection`); the parsers can also be driven directly, each direction being a
 * `StreamSink`.
 *
 * @example
 * ```ts ignore
 * import { newSqlCounters, SqlConnection } from "./src/sql/mod.ts";
 * const c = new SqlConnection(pid, conn, {
 *   toUnixNano, resource, onSpan: print, ids: new RandomIdGenerator(),
 *   counters: newSqlCounters(),
 * });
 * c.push(chunk); // either direction
 * c.close();
 * ```
 *
 * @module
 */
export type { SqlError, SqlExchange, SqlExchangeSink } from "./sql_exchange.ts";
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
  type PostgresFacts,
  type PostgresProblem,
  type PostgresSniff,
  type PostgresWireOptions,
  PostgresWireParser,
  rowsFromTag,
  sniffPostgres,
} from "./postgres_wire.ts";
export {
  type MysqlFacts,
  type MysqlProblem,
  type MysqlSniff,
  type MysqlWireOptions,
  MysqlWireParser,
  sniffMysql,
} from "./mysql_wire.ts";
export {
  mysqlSystem,
  type SqlExchangeContext,
  sqlExchangeSpan,
  type SqlSystem,
} from "./sql_semconv.ts";
export {
  newSqlCounters,
  SqlConnection,
  type SqlConnectionConfig,
  type SqlCounters,
  type SqlProtocol,
} from "./sql_connection.ts";
