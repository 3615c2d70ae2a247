/**
 * Test helper: writes `struct sql_event` records the way `sqllib.bpf.c` lays them out, by
 * the built object's BTF (opening the object needs no kernel), so the decoder, the
 * pairing and the fuzz harness start from realistic records.
 *
 * @module
 */
import { BpfObject } from "../../ffi/mod.ts";
import type { SqlLibEvent, SqlLibEventTypes } from "./events.ts";

const enc = new TextEncoder();

let cached: SqlLibEventTypes | undefined;

/** The layouts of the built `bpf/out/sqllib.bpf.o` (run `deno task build` first). */
export function sqllibTestTypes(): SqlLibEventTypes {
  if (cached) return cached;
  const path = new URL("../../bpf/out/sqllib.bpf.o", import.meta.url).pathname;
  const obj = BpfObject.open(path);
  const layouts = new Map<string, ReturnType<BpfObject["structLayout"]>>();
  const enums = new Map<string, Record<string, number>>();
  for (const s of ["sql_event", "sqllib_proc"]) layouts.set(s, obj.structLayout(s));
  for (const e of ["sql_event_kind", "sql_lib", "sql_op", "sqllib_stat"]) {
    enums.set(e, obj.enumValues(e));
  }
  obj.close();
  cached = {
    structLayout: (name) => {
      const l = layouts.get(name);
      if (!l) throw new Error(`no struct ${name}`);
      return l;
    },
    enumValues: (name) => {
      const v = enums.get(name);
      if (!v) throw new Error(`no enum ${name}`);
      return v;
    },
  };
  return cached;
}

const KIND: Record<SqlLibEvent["kind"], string> = {
  call: "SQL_EVENT_CALL",
  send: "SQL_EVENT_SEND",
  result: "SQL_EVENT_RESULT",
  "stmt-end": "SQL_EVENT_STMT_END",
  "stmt-rc": "SQL_EVENT_STMT_RC",
  "pq-sync": "SQL_EVENT_PQ_SYNC",
  "pq-async": "SQL_EVENT_PQ_ASYNC",
  "pq-conn": "SQL_EVENT_PQ_CONN",
};
const LIB: Record<SqlLibEvent["library"], string> = {
  libpq: "SQL_LIB_LIBPQ",
  mysql: "SQL_LIB_MYSQL",
  sqlite: "SQL_LIB_SQLITE",
};
const OP: Record<SqlLibEvent["op"], string> = {
  query: "SQL_OP_QUERY",
  prepare: "SQL_OP_PREPARE",
  execute: "SQL_OP_EXECUTE",
  result: "SQL_OP_RESULT",
};

/** An event with defaults for what is not given. */
export function sqlLibEvent(
  e: Partial<SqlLibEvent> & Pick<SqlLibEvent, "kind" | "library">,
): SqlLibEvent {
  return {
    op: "query",
    pid: 100,
    tid: 100,
    startMonoNs: 1000n,
    endMonoNs: 2000n,
    handle: 0x5000n,
    rc: 0,
    code: 0,
    hasResult: false,
    sqlstate: "",
    detail: "",
    name: "",
    text: "",
    truncated: false,
    database: "",
    ...e,
  };
}

/** Record bytes for `event`, sized as the BPF program sends it (header + text). */
export function encodeSqlLibEvent(
  types: SqlLibEventTypes,
  e: SqlLibEvent,
): Uint8Array<ArrayBuffer> {
  const layout = types.structLayout("sql_event");
  const f = (name: string) => {
    const field = layout.fields[name];
    if (!field) throw new Error(`no field ${name}`);
    return field;
  };
  const text = enc.encode(e.text);
  const bytes = new Uint8Array(f("text").offset + text.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(f("kind").offset, types.enumValues("sql_event_kind")[KIND[e.kind]]!, true);
  view.setUint32(f("tgid").offset, e.pid, true);
  view.setUint32(f("tid").offset, e.tid, true);
  bytes[f("lib").offset] = types.enumValues("sql_lib")[LIB[e.library]]!;
  bytes[f("op").offset] = types.enumValues("sql_op")[OP[e.op]]!;
  bytes[f("truncated").offset] = e.truncated ? 1 : 0;
  bytes[f("has_result").offset] = e.hasResult ? 1 : 0;
  view.setBigUint64(f("start_ns").offset, e.startMonoNs, true);
  view.setBigUint64(f("end_ns").offset, e.endMonoNs, true);
  view.setBigUint64(f("handle").offset, e.handle, true);
  view.setBigInt64(f("rc").offset, BigInt(e.rc), true);
  view.setUint32(f("code").offset, e.code, true);
  view.setUint32(f("text_len").offset, text.length, true);
  bytes.set(enc.encode(e.sqlstate).subarray(0, f("sqlstate").size - 1), f("sqlstate").offset);
  bytes.set(enc.encode(e.detail).subarray(0, f("detail").size - 1), f("detail").offset);
  bytes.set(enc.encode(e.name).subarray(0, f("name").size - 1), f("name").offset);
  bytes.set(enc.encode(e.database).subarray(0, f("db").size - 1), f("db").offset);
  if (e.tls) view.setBigUint64(f("ssl").offset, BigInt(e.tls), true);
  if (e.socket) view.setBigUint64(f("sock").offset, BigInt(e.socket.slice("sock:".length)), true);
  if (e.peer) {
    const v6 = e.peer.address.includes(":");
    view.setUint16(f("family").offset, v6 ? 10 : 2, true);
    view.setUint16(f("peer_port").offset, e.peer.port, true);
    if (v6) {
      // Only the loopback and zero-run forms the samples use: "::1".
      bytes[f("peer_addr").offset + 15] = Number(e.peer.address.split(":").pop() || "0");
    } else {
      bytes.set(e.peer.address.split(".").map(Number), f("peer_addr").offset);
    }
  }
  bytes.set(text, f("text").offset);
  return bytes;
}

/** Events of every kind and library, as a session sees them. */
export const SAMPLE_EVENTS: SqlLibEvent[] = [
  sqlLibEvent({
    kind: "send",
    library: "libpq",
    text: "SELECT * FROM t WHERE a = 1",
    database: "shop",
    peer: { address: "127.0.0.1", port: 5432 },
    socket: "sock:0xffff8880123456c0",
    tls: "0x5600deadbee0",
  }),
  sqlLibEvent({
    kind: "result",
    library: "libpq",
    op: "result",
    hasResult: true,
    rc: 2,
    detail: "SELECT 1",
  }),
  sqlLibEvent({ kind: "result", library: "libpq", op: "result", rc: -1 }),
  sqlLibEvent({ kind: "send", library: "libpq", op: "prepare", name: "s1", text: "SELECT $1" }),
  sqlLibEvent({
    kind: "send",
    library: "libpq",
    op: "execute",
    name: "s1",
    peer: { address: "::1", port: 6432 },
  }),
  sqlLibEvent({
    kind: "result",
    library: "libpq",
    op: "result",
    hasResult: true,
    rc: 7,
    sqlstate: "42P01",
    detail: 'relation "nope" does not exist',
  }),
  sqlLibEvent({ kind: "call", library: "mysql", text: "SELECT 1", name: "10.11.6-MariaDB" }),
  sqlLibEvent({
    kind: "call",
    library: "mysql",
    rc: 1,
    code: 1146,
    sqlstate: "42S02",
    text: "SELECT * FROM x",
  }),
  sqlLibEvent({ kind: "send", library: "mysql", text: "INSERT INTO t VALUES (1)" }),
  sqlLibEvent({ kind: "result", library: "mysql", op: "result", hasResult: true }),
  sqlLibEvent({ kind: "stmt-end", library: "sqlite", op: "execute", text: "SELECT * FROM t" }),
  sqlLibEvent({ kind: "stmt-rc", library: "sqlite", op: "execute", rc: 19, hasResult: true }),
  sqlLibEvent({
    kind: "call",
    library: "sqlite",
    op: "prepare",
    rc: 1,
    text: "SELECT * FROM nope",
  }),
];

/** {@linkcode SAMPLE_EVENTS} as records. */
export function sampleRecords(types: SqlLibEventTypes): Uint8Array<ArrayBuffer>[] {
  return SAMPLE_EVENTS.map((e) => encodeSqlLibEvent(types, e));
}
