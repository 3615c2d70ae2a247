/**
 * Decodes the SQL library instrumentation's ring-buffer records (`struct sql_event` of
 * `bpf/uprobes/sqllib.h`). Field offsets and enum values come from the object's BTF, so the
 * C header stays the one definition. Texts were copied from the target's memory: a short,
 * damaged or unknown record gives an error result, never a throw.
 *
 * @module
 */
import { type BtfTypes, type DecodeResult, fieldOf, type RecordDecoder } from "../../ffi/mod.ts";
import { AddressKeys, ipv4, ipv6, SOCKET_KEY_PREFIX } from "../capture/events.ts";
import type { SqlLibrary } from "./probes.ts";

/** What happened, as `enum sql_event_kind` says. */
export type SqlLibEventKind =
  | "call"
  | "send"
  | "result"
  | "stmt-end"
  | "stmt-rc"
  | "pq-sync"
  | "pq-async"
  | "pq-conn";

/** The statement operation, as `enum sql_op` says. */
export type SqlLibOp = "query" | "prepare" | "execute" | "result";

/** One decoded `struct sql_event`. */
export interface SqlLibEvent {
  kind: SqlLibEventKind;
  library: SqlLibrary;
  op: SqlLibOp;
  pid: number;
  tid: number;
  startMonoNs: bigint;
  endMonoNs: bigint;
  /** The PGconn*, MYSQL*, MYSQL_STMT*, sqlite3_stmt* or sqlite3* that pairs events. */
  handle: bigint;
  /** The function's return value (an ExecStatusType for a PGresult, -1 for none). */
  rc: number;
  /** Vendor error number (MySQL errno), 0 when none. */
  code: number;
  /** For `result`: false when PQgetResult returned NULL (the statement is complete). */
  hasResult: boolean;
  /** SQLSTATE, "" when none. */
  sqlstate: string;
  /** PostgreSQL command status or error message; MySQL error message. */
  detail: string;
  /** libpq prepared statement name; MySQL server version. */
  name: string;
  text: string;
  truncated: boolean;
  /** libpq `send`: the connection's database (PQdb), "" when unknown. */
  database: string;
  /** libpq `send`: the TCP peer of the connection's socket, when it is one. */
  peer?: { address: string; port: number };
  /** libpq `send`: the capture's key of the connection's socket (`sock:0x...`), when read. */
  socket?: string;
  /** libpq `send` over TLS: the capture's key of its plaintext (the SSL*, `0x...`). */
  tls?: string;
}

/** What a decoder returns for one record. */
export type SqlLibDecodeResult = DecodeResult<SqlLibEvent>;

/** Where the decoder reads the C definitions: the BPF object's BTF. */
export type SqlLibEventTypes = BtfTypes;

/** Decodes one record `bytes[offset, offset + length)`. */
export type SqlLibEventDecoder = RecordDecoder<SqlLibEvent>;

const AF_INET = 2;
const AF_INET6 = 10;

const utf8 = new TextDecoder("utf-8", { fatal: false });

function invert<T extends string>(
  values: Record<string, number>,
  names: Record<string, T>,
): Map<number, T> {
  const out = new Map<number, T>();
  for (const [cName, ours] of Object.entries(names)) {
    const v = values[cName];
    if (v === undefined) throw new Error(`BPF object lacks enumerator ${cName}`);
    out.set(v, ours);
  }
  return out;
}

/**
 * `bytes[from, to)` as UTF-8. A record carries five strings, most empty or a few ASCII
 * characters (a SQLSTATE, a command tag): those are read in place, as a decoder's call
 * (a view, then the runtime) cost more than the rest of the record.
 */
function utf8Text(bytes: Uint8Array, from: number, to: number): string {
  if (to - from > 128) return utf8.decode(bytes.subarray(from, to));
  let out = "";
  for (let i = from; i < to; i++) {
    const c = bytes[i]!;
    if (c > 0x7f) return utf8.decode(bytes.subarray(from, to));
    out += String.fromCharCode(c);
  }
  return out;
}

/** A NUL-terminated string within `bytes[at, at + size)`. */
function cString(bytes: Uint8Array, at: number, size: number): string {
  let end = at;
  const limit = at + size;
  while (end < limit && bytes[end] !== 0) end++;
  return utf8Text(bytes, at, end);
}

/**
 * Makes a decoder for the records of one loaded object. Throws (at creation, not per
 * record) when the object lacks a field or enumerator it needs: that is a build mismatch.
 *
 * @example
 * ```ts ignore
 * const decode = sqlLibEventDecoder(obj);
 * ring.consume((bytes, view, offset, length) => {
 *   const r = decode(bytes, view, offset, length);
 *   if (r.ok) console.log(r.event.kind, r.event.text);
 * });
 * ```
 */
export function sqlLibEventDecoder(types: SqlLibEventTypes): SqlLibEventDecoder {
  const layout = types.structLayout("sql_event");
  const f = (name: string) => fieldOf(layout, name);
  const kinds = invert(
    types.enumValues("sql_event_kind"),
    {
      SQL_EVENT_CALL: "call",
      SQL_EVENT_SEND: "send",
      SQL_EVENT_RESULT: "result",
      SQL_EVENT_STMT_END: "stmt-end",
      SQL_EVENT_STMT_RC: "stmt-rc",
      SQL_EVENT_PQ_SYNC: "pq-sync",
      SQL_EVENT_PQ_ASYNC: "pq-async",
      SQL_EVENT_PQ_CONN: "pq-conn",
    } as const,
  );
  const libs = invert(
    types.enumValues("sql_lib"),
    {
      SQL_LIB_LIBPQ: "libpq",
      SQL_LIB_MYSQL: "mysql",
      SQL_LIB_SQLITE: "sqlite",
    } as const,
  );
  const ops = invert(
    types.enumValues("sql_op"),
    {
      SQL_OP_QUERY: "query",
      SQL_OP_PREPARE: "prepare",
      SQL_OP_EXECUTE: "execute",
      SQL_OP_RESULT: "result",
    } as const,
  );
  const kind = f("kind"), tgid = f("tgid"), tid = f("tid"), lib = f("lib"), op = f("op");
  const truncated = f("truncated"), hasResult = f("has_result");
  const start = f("start_ns"), end = f("end_ns"), handle = f("handle"), rc = f("rc");
  const code = f("code"), textLen = f("text_len"), sqlstate = f("sqlstate");
  const detail = f("detail"), name = f("name"), text = f("text");
  const sock = f("sock"),
    ssl = f("ssl"),
    db = f("db"),
    family = f("family"),
    peerPort = f("peer_port"),
    peerAddr = f("peer_addr");
  const header = text.offset;
  const socketKeys = new AddressKeys(SOCKET_KEY_PREFIX), sslKeys = new AddressKeys("");
  // A pointer's presence, read as two halves: a BigInt per record costs an allocation.
  const nonZero = (view: DataView, at: number) =>
    view.getUint32(at, true) !== 0 || view.getUint32(at + 4, true) !== 0;

  return (bytes, view, offset, length) => {
    if (length < header || offset < 0 || offset + length > bytes.length) {
      return {
        ok: false,
        error: `record of ${length} bytes is shorter than its ${header}-byte header`,
      };
    }
    const k = kinds.get(view.getUint32(offset + kind.offset, true));
    if (!k) {
      return {
        ok: false,
        error: `unknown event kind ${view.getUint32(offset + kind.offset, true)}`,
      };
    }
    const l = libs.get(bytes[offset + lib.offset]!);
    if (!l) return { ok: false, error: `unknown library ${bytes[offset + lib.offset]}` };
    const o = ops.get(bytes[offset + op.offset]!);
    if (!o) return { ok: false, error: `unknown operation ${bytes[offset + op.offset]}` };
    const n = view.getUint32(offset + textLen.offset, true);
    if (n > text.size || header + n > length) {
      return { ok: false, error: `text of ${n} bytes overruns the ${length}-byte record` };
    }
    const startNs = view.getBigUint64(offset + start.offset, true);
    let endNs = view.getBigUint64(offset + end.offset, true);
    if (startNs !== 0n && endNs < startNs) endNs = startNs;
    const fam = view.getUint16(offset + family.offset, true);
    const addr = fam === AF_INET ? ipv4 : fam === AF_INET6 ? ipv6 : undefined;
    const event: SqlLibEvent = {
      kind: k,
      library: l,
      op: o,
      pid: view.getUint32(offset + tgid.offset, true),
      tid: view.getUint32(offset + tid.offset, true),
      startMonoNs: startNs,
      endMonoNs: endNs,
      handle: view.getBigUint64(offset + handle.offset, true),
      // A signed 64-bit value, exact as a Number within 2^53: read as two halves.
      rc: view.getInt32(offset + rc.offset + 4, true) * 2 ** 32 +
        view.getUint32(offset + rc.offset, true),
      code: view.getUint32(offset + code.offset, true),
      hasResult: bytes[offset + hasResult.offset] !== 0,
      sqlstate: cString(bytes, offset + sqlstate.offset, sqlstate.size),
      detail: cString(bytes, offset + detail.offset, detail.size),
      name: cString(bytes, offset + name.offset, name.size),
      text: utf8Text(bytes, offset + header, offset + header + n),
      truncated: bytes[offset + truncated.offset] !== 0,
      database: cString(bytes, offset + db.offset, db.size),
    };
    if (addr) {
      event.peer = {
        address: addr(bytes, offset + peerAddr.offset),
        port: view.getUint16(offset + peerPort.offset, true),
      };
    }
    if (nonZero(view, offset + sock.offset)) {
      event.socket = socketKeys.key(view, offset + sock.offset);
    }
    if (nonZero(view, offset + ssl.offset)) {
      event.tls = sslKeys.key(view, offset + ssl.offset);
    }
    return { ok: true, event };
  };
}
