/**
 * The SQL client library instrumentation as tables: for each library, which exported
 * function gets which program of `bpf/uprobes/sqllib.bpf.c`, at entry or at return, and
 * which accessor function tells which member offset (`struct sqllib_proc` field).
 *
 * libpq has two sets, one per mode of a process (see `callers.ts`): its asynchronous calls
 * (PQsend* and PQgetResult), or its synchronous ones (PQexec, PQexecParams, PQprepare,
 * PQexecPrepared) alone. Each synchronous call calls PQsend* and PQgetResult through libpq's
 * PLT (seen in libpq 15's and 17's machine code): the two sets are never attached together
 * for a process, as a synchronous statement would then hit both.
 *
 * @module
 */

/** The client libraries this instrumentation knows. */
export type SqlLibrary = "libpq" | "mysql" | "sqlite";

/** One row of a probe table. */
export interface SqlProbeSpec {
  symbol: string;
  program: string;
  /** At the function's return (C code only). */
  retprobe?: boolean;
  /** Absent from some versions: skip instead of failing. */
  optional?: boolean;
  /** libpq: attached in this mode of a process only. */
  mode?: LibpqMode;
}

/** How a process's libpq calls are probed: at PQexec* alone, or at PQsend* and PQgetResult. */
export type LibpqMode = "sync" | "async";

/** One member offset and the accessor whose code gives it. */
export interface SqlAccessorSpec {
  /** The `struct sqllib_proc` field it fills. */
  field: string;
  /** The accessor function. */
  symbol: string;
  /** What the accessor must be: a load or an address (`lea`) or a byte compare. */
  kind: "load" | "lea" | "cmp";
  /** Spans are made without it (attributes it would give are left out). */
  optional?: boolean;
}

/**
 * libpq: statements sent and the results read back (asynchronous mode), or the
 * synchronous calls whole. The results' probes come first: attached while a process runs,
 * a statement whose send was seen then always has its results seen.
 */
export const LIBPQ_PROBES: readonly SqlProbeSpec[] = [
  { symbol: "PQgetResult", program: "pq_get_result", mode: "async" },
  { symbol: "PQgetResult", program: "pq_get_result_ret", retprobe: true, mode: "async" },
  { symbol: "PQsendQuery", program: "pq_send_query", mode: "async" },
  { symbol: "PQsendQueryParams", program: "pq_send_query", mode: "async" },
  { symbol: "PQsendPrepare", program: "pq_send_prepare", mode: "async" },
  { symbol: "PQsendQueryPrepared", program: "pq_send_query_prepared", mode: "async" },
  { symbol: "PQexec", program: "pq_exec_query", mode: "sync" },
  { symbol: "PQexec", program: "pq_exec_ret", retprobe: true, mode: "sync" },
  { symbol: "PQexecParams", program: "pq_exec_query", mode: "sync" },
  { symbol: "PQexecParams", program: "pq_exec_ret", retprobe: true, mode: "sync" },
  { symbol: "PQprepare", program: "pq_exec_prepare", mode: "sync" },
  { symbol: "PQprepare", program: "pq_exec_ret", retprobe: true, mode: "sync" },
  { symbol: "PQexecPrepared", program: "pq_exec_prepared", mode: "sync" },
  { symbol: "PQexecPrepared", program: "pq_exec_ret", retprobe: true, mode: "sync" },
];

/** The calls that start an asynchronous statement: probed in the application (`callers.ts`). */
export const LIBPQ_SENDS = [
  "PQsendQuery",
  "PQsendQueryParams",
  "PQsendPrepare",
  "PQsendQueryPrepared",
] as const;

/** The synchronous calls: an application that imports one may be probed in the synchronous mode. */
export const LIBPQ_EXECS = ["PQexec", "PQexecParams", "PQprepare", "PQexecPrepared"] as const;

/** The programs at an application's PLT stubs of libpq's calls, and the mode each is in. */
export const LIBPQ_APP_PROGRAMS = {
  /** Its PQexec* calls, in the asynchronous mode: a run of them makes it synchronous. */
  exec: { program: "pq_app_exec", mode: "async" },
  /** Its PQsend* calls, in the synchronous mode: one makes it asynchronous again. */
  send: { program: "pq_app_send", mode: "sync" },
} as const;

/** MariaDB Connector/C and libmysqlclient: the same API. */
export const MYSQL_PROBES: readonly SqlProbeSpec[] = [
  { symbol: "mysql_real_query", program: "my_real_query" },
  { symbol: "mysql_real_query", program: "my_call_ret", retprobe: true },
  { symbol: "mysql_send_query", program: "my_send_query", optional: true },
  { symbol: "mysql_read_query_result", program: "my_read_result", optional: true },
  { symbol: "mysql_read_query_result", program: "my_call_ret", retprobe: true, optional: true },
  { symbol: "mysql_stmt_prepare", program: "my_stmt_prepare", optional: true },
  { symbol: "mysql_stmt_prepare", program: "my_call_ret", retprobe: true, optional: true },
  { symbol: "mysql_stmt_execute", program: "my_stmt_execute", optional: true },
  { symbol: "mysql_stmt_execute", program: "my_call_ret", retprobe: true, optional: true },
];

/** SQLite: prepare (start), reset and finalize (end of a run), exec. Nothing per row. */
export const SQLITE_PROBES: readonly SqlProbeSpec[] = [
  { symbol: "sqlite3_prepare_v2", program: "lite_prepare_v2" },
  { symbol: "sqlite3_prepare_v2", program: "lite_prepare_ret", retprobe: true },
  { symbol: "sqlite3_prepare_v3", program: "lite_prepare_v3", optional: true },
  { symbol: "sqlite3_prepare_v3", program: "lite_prepare_ret", retprobe: true, optional: true },
  { symbol: "sqlite3_reset", program: "lite_reset" },
  { symbol: "sqlite3_reset", program: "lite_end_ret", retprobe: true },
  { symbol: "sqlite3_finalize", program: "lite_finalize" },
  { symbol: "sqlite3_finalize", program: "lite_end_ret", retprobe: true },
  { symbol: "sqlite3_exec", program: "lite_exec" },
  { symbol: "sqlite3_exec", program: "lite_exec_ret", retprobe: true },
];

/** The probe table of each library. */
export const SQL_PROBES: Readonly<Record<SqlLibrary, readonly SqlProbeSpec[]>> = {
  libpq: LIBPQ_PROBES,
  mysql: MYSQL_PROBES,
  sqlite: SQLITE_PROBES,
};

/**
 * Member offsets of each library, from its accessors. A library whose required accessors
 * cannot be decoded is not probed (its events could not be read).
 */
export const SQL_ACCESSORS: Readonly<Record<SqlLibrary, readonly SqlAccessorSpec[]>> = {
  libpq: [
    { field: "pg_result_status", symbol: "PQresultStatus", kind: "load" },
    { field: "pg_cmd_status", symbol: "PQcmdStatus", kind: "lea" },
    { field: "pg_err_fields", symbol: "PQresultErrorField", kind: "load" },
    // db.namespace and server.address/port: the PGconn's database and socket.
    { field: "pg_db_name", symbol: "PQdb", kind: "load", optional: true },
    { field: "pg_sock", symbol: "PQsocket", kind: "load", optional: true },
    // The SSL* the capture keys a TLS connection's plaintext by: libpq's own over TLS.
    { field: "pg_ssl", symbol: "PQgetssl", kind: "load", optional: true },
  ],
  mysql: [
    { field: "my_errno", symbol: "mysql_errno", kind: "load" },
    { field: "my_error", symbol: "mysql_error", kind: "lea" },
    { field: "my_sqlstate", symbol: "mysql_sqlstate", kind: "lea" },
    { field: "my_stmt_errno", symbol: "mysql_stmt_errno", kind: "load" },
    { field: "my_stmt_error", symbol: "mysql_stmt_error", kind: "lea" },
    { field: "my_stmt_sqlstate", symbol: "mysql_stmt_sqlstate", kind: "lea" },
    { field: "my_server_version", symbol: "mysql_get_server_info", kind: "load" },
  ],
  sqlite: [
    { field: "lite_state", symbol: "sqlite3_stmt_busy", kind: "cmp" },
    { field: "lite_sql", symbol: "sqlite3_sql", kind: "load" },
  ],
};

/**
 * `struct pgMessageField { struct pgMessageField *next; char code; char contents[]; }`
 * (libpq-int.h, unchanged since PostgreSQL 7.4): no accessor returns these members alone,
 * so they are fixed here. PQresultErrorField's code walks the same layout.
 */
export const PG_MESSAGE_FIELD = { pg_field_next: 0, pg_field_code: 8, pg_field_text: 9 };

/** The library a mapped file's name says it is, if any. */
export function libraryOfPath(path: string): SqlLibrary | undefined {
  const base = path.slice(path.lastIndexOf("/") + 1);
  // libpq.so.5, and copies bundled by wheels (psycopg2_binary.libs/libpq-1a2b3c4d.so.5.17)
  if (/^libpq([-.][\w.-]*)?\.so(\.[0-9.]+)?$/.test(base)) return "libpq";
  if (/^lib(mariadb|mysqlclient)([-.][\w.-]*)?\.so(\.[0-9.]+)?$/.test(base)) return "mysql";
  if (/^libsqlite3([-.][\w.-]*)?\.so(\.[0-9.]+)?$/.test(base)) return "sqlite";
  return undefined;
}

/** A function whose presence in an executable says it has the library linked in. */
export const LIBRARY_MARKER: Readonly<Record<SqlLibrary, string>> = {
  libpq: "PQgetResult",
  mysql: "mysql_real_query",
  sqlite: "sqlite3_prepare_v2",
};
