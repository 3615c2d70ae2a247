/**
 * SQL client libraries probed directly: libpq, the MariaDB/MySQL client library and
 * SQLite, so statements give spans whatever carries them (a Unix socket, TLS, or no wire
 * at all). The pieces, in the order data flows:
 *
 * - {@linkcode SQL_PROBES} / {@linkcode SQL_ACCESSORS}: per library, which function gets
 *   which program of `bpf/uprobes/sqllib.bpf.c`, and which accessor gives which offset;
 * - {@linkcode locateSqlLibraries}: a process → probe sites and its `struct sqllib_proc`;
 * - {@linkcode sqlLibEventDecoder}: ring records → events (layout from BTF);
 * - {@linkcode SqlLibStatements}: events → one exchange per statement;
 * - {@linkcode sqlLibSpan}: a statement → its span (via `sqlExchangeSpan`);
 * - {@linkcode SqlLibInstrumentation}: all of it, for the engine.
 *
 * @module
 */
export { type Accessor, decodeAccessor } from "./accessor.ts";
export {
  LIBPQ_PROBES,
  libraryOfPath,
  MYSQL_PROBES,
  SQL_ACCESSORS,
  SQL_PROBES,
  type SqlAccessorSpec,
  SQLITE_PROBES,
  type SqlLibrary,
  type SqlProbeSpec,
} from "./probes.ts";
export {
  locateSqlLibraries,
  readLibrary,
  SQL_OFFSET_ABSENT,
  type SqlLibFound,
  type SqlLibLocation,
  type SqlLibSite,
} from "./locate.ts";
export {
  type SqlLibDecodeResult,
  type SqlLibEvent,
  type SqlLibEventDecoder,
  sqlLibEventDecoder,
  type SqlLibEventKind,
  type SqlLibEventTypes,
  type SqlLibOp,
} from "./events.ts";
export {
  type SqlLibStatement,
  SqlLibStatements,
  type SqlLibStatementSink,
  type SqlLibStatementsOptions,
} from "./statements.ts";
export { sqlLibSpan, type SqlLibSpanContext } from "./spans.ts";
export {
  SQLLIB_BPF_OBJECT,
  SqlLibInstrumentation,
  type SqlLibInstrumentationOptions,
  type SqlLibStats,
} from "./instrumentation.ts";
