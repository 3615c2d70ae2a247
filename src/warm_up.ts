/**
 * The span path run on synthetic traffic before the probes go on. V8 compiles a function
 * only after it has run many times: an agent just started made its first spans in the
 * interpreter, at 2-3 times the CPU of a warm agent, just when a busy target's events
 * flood in (the ring filled and dropped events in the first seconds of a flood). So
 * exchanges as nginx serves them (HTTP/1 over plain sockets and TLS, HTTP/2 over TLS), laid
 * out as the capture's ring holds them, go through the same decoder, span builder, pipeline
 * and serializer first, and statements as pgbench makes them through libpq, laid out as the
 * SQL libraries' ring holds them, through theirs; the spans are then discarded by the caller.
 *
 * @module
 */
import { captureDecoder, type CaptureTypes } from "./capture/events.ts";
import type { Attributes, Span } from "./model/span.ts";
import { Flag, FrameType, PREFACE } from "./protocols/http2/frames.ts";
import { SpanPipeline } from "./span_pipeline.ts";
import { SpanBuilder } from "./spans/mod.ts";
import { RandomIdGenerator } from "./model/ids.ts";
import { sqlLibEventDecoder, type SqlLibEventTypes } from "./sqllib/events.ts";
import { SqlLibStatements } from "./sqllib/statements.ts";
import { sqlLibSpan } from "./sqllib/spans.ts";

const REQUEST = "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:37649\r\n\r\n";
const RESPONSE_HEAD = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n" +
  "Date: Sun, 06 Dec 2026 13:33:37 GMT\r\nContent-Type: text/html\r\nContent-Length: 6\r\n" +
  "Last-Modified: Sun, 06 Dec 2026 13:33:36 GMT\r\nConnection: keep-alive\r\n" +
  'ETag: "6b156430-6"\r\nAccept-Ranges: bytes\r\n\r\n';
const BODY = 6;
const CONNS = 4;
const PID = 1931;

/** The resource of the synthetic spans: a usual one, so that its serialized form is too. */
export const NGINX_RESOURCE: Attributes = {
  "service.name": "nginx",
  "service.instance.id": `vm:${PID}`,
  "process.pid": PID,
  "process.executable.name": "nginx",
  "process.executable.path": "/usr/sbin/nginx",
  "process.command_line": "nginx: worker process",
  "host.name": "vm",
  "telemetry.distro.name": "upspan",
  "telemetry.distro.version": "0.1.0",
};

/** Records laid out as the capture object's BTF says, each at the 8-byte boundary the ring keeps. */
class Records {
  readonly at: number[] = [];
  #bytes = new Uint8Array(1 << 16);
  #view = new DataView(this.#bytes.buffer);
  #end = 0;
  #ts = 1_000_000_000n;
  readonly #pos = [new Array(CONNS).fill(0), new Array(CONNS).fill(0)];
  readonly #data: Record<string, number>;
  readonly #socket: Record<string, number>;
  readonly #socketSize: number;
  readonly #kinds: Record<string, number>;
  readonly #source: number;
  readonly #tls: boolean;
  /** Where this set's connections are numbered from: sets may be run one after another. */
  readonly #first: number;

  /** `tls`: SSL plaintext, each connection named by its SSL*; else plain sockets. */
  constructor(types: CaptureTypes, tls: boolean, first: number) {
    const offsets = (struct: string) => {
      const layout = types.structLayout(struct);
      return Object.fromEntries(Object.entries(layout.fields).map(([k, f]) => [k, f.offset]));
    };
    this.#data = offsets("data_event");
    this.#socket = offsets("socket_event");
    this.#socketSize = types.structLayout("socket_event").size;
    this.#kinds = types.enumValues("event_kind");
    this.#source = types.enumValues("event_source")[tls ? "SOURCE_TLS" : "SOURCE_SOCKET"]!;
    this.#tls = tls;
    this.#first = first;
    for (let c = 0; c < CONNS; c++) this.#opened(c);
  }

  get bytes(): Uint8Array {
    return this.#bytes;
  }

  #sock(c: number): bigint {
    return 0xffff888103429280n + BigInt(this.#first + c) * 0x1000n;
  }

  #conn(c: number): bigint {
    return this.#tls ? 0x55d0c8a41e30n + BigInt(this.#first + c) * 0x2000n : this.#sock(c);
  }

  #begin(size: number): number {
    const start = (this.#end + 7) & ~7;
    if (start + size > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, start + size));
      grown.set(this.#bytes);
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.at.push(start, size);
    this.#end = start + size;
    return start;
  }

  /** Connection `c` accepted: its socket's addresses. */
  #opened(c: number): void {
    const s = this.#socket, v = this.#view;
    const o = this.#begin(this.#socketSize);
    v.setUint32(o + s.kind!, this.#kinds["EVENT_SOCKET"]!, true);
    v.setUint32(o + s.tgid!, PID, true);
    v.setUint32(o + s.tid!, PID, true);
    v.setInt32(o + s.fd!, 3 + this.#first + c, true);
    v.setBigUint64(o + s.ts_ns!, this.#ts, true);
    v.setBigUint64(o + s.call_ts!, this.#ts, true);
    v.setBigUint64(o + s.conn!, this.#conn(c), true);
    v.setBigUint64(o + s.sock!, this.#sock(c), true);
    v.setUint16(o + s.family!, 2, true);
    v.setUint16(o + s.local_port!, 37649, true);
    v.setUint16(o + s.peer_port!, 53052 + this.#first + c, true);
    v.setUint8(o + s.source!, this.#source);
    this.#bytes.set([127, 0, 0, 1], o + s.local_addr!);
    this.#bytes.set([127, 0, 0, 1], o + s.peer_addr!);
  }

  /** One call on connection `c` that moved `callLen` bytes, of which `payload` was captured. */
  data(c: number, dir: 0 | 1, payload: ArrayLike<number>, callLen = payload.length): void {
    const d = this.#data;
    const o = this.#begin(d.data! + payload.length);
    const v = this.#view;
    v.setUint32(o + d.kind!, this.#kinds["EVENT_DATA"]!, true);
    v.setUint32(o + d.tgid!, PID, true);
    v.setUint32(o + d.tid!, PID, true);
    v.setUint8(o + d.direction!, dir);
    v.setUint8(o + d.last!, 1);
    v.setUint8(o + d.source!, this.#source);
    v.setBigUint64(o + d.ts_ns!, this.#ts += 20_000n, true);
    v.setBigUint64(o + d.conn!, this.#conn(c), true);
    v.setBigUint64(o + d.call_pos!, BigInt(this.#pos[dir]![c]!), true);
    v.setUint32(o + d.call_len!, callLen, true);
    v.setUint32(o + d.data_len!, payload.length, true);
    this.#bytes.set(payload, o + d.data!);
    this.#pos[dir]![c] += callLen;
  }
}

const octets = (text: string) => Array.from(text, (c) => c.charCodeAt(0));

/**
 * The ring's records of `requests` HTTP/1 requests on CONNS keep-alive connections, laid
 * out as `types` (the capture object's BTF) says: per request the request's read, the
 * response head's write and the body's `sendfile` (no bytes captured). `at` holds each
 * record's offset and length in turn. `tls`: the plaintext of SSL calls instead, each
 * connection named by its SSL*.
 */
export function nginxRecords(
  types: CaptureTypes,
  requests: number,
  tls = false,
): { bytes: Uint8Array; at: number[] } {
  const records = new Records(types, tls, tls ? CONNS : 0);
  const request = octets(REQUEST), head = octets(RESPONSE_HEAD);
  for (let r = 0; r < requests; r++) {
    const c = r % CONNS;
    records.data(c, 0, request);
    records.data(c, 1, head);
    records.data(c, 1, [], BODY);
  }
  return { bytes: records.bytes, at: records.at };
}

/** An HTTP/2 frame: its 9-byte header, then the payload. */
function frame(type: number, flags: number, stream: number, payload: number[]): number[] {
  const n = payload.length;
  return [
    n >> 16,
    (n >> 8) & 255,
    n & 255,
    type,
    flags,
    ...[24, 16, 8, 0].map((s) => (stream >>> s) & 255),
    ...payload,
  ];
}

/** An HPACK literal without indexing whose name is static table entry `name` (RFC 7541 §6.2.2). */
function literal(name: number, value: string): number[] {
  const index = name < 15 ? [name] : [15, name - 15];
  return [...index, value.length, ...octets(value)];
}

/** GET https://127.0.0.1:8443/hello.txt, as h2load asks: static entries 2, 7, 4 and 1. */
const H2_REQUEST = [0x82, 0x87, ...literal(4, "/hello.txt"), ...literal(1, "127.0.0.1:8443")];
/** 200, as nginx answers: static entry 8; server, content-type and content-length (54, 31, 28). */
const H2_RESPONSE = [
  0x88,
  ...literal(54, "nginx/1.22.1"),
  ...literal(31, "text/plain"),
  ...literal(28, "6"),
];
/** Streams a client opens at once, and nginx answers in one write (h2load's -m10). */
const H2_STREAMS = 10;

/**
 * The ring's records of `requests` HTTP/2 requests over TLS as h2load makes them and nginx
 * answers them, on CONNS connections: the preface and SETTINGS each way, then reads of
 * H2_STREAMS requests' HEADERS and writes of their HEADERS and DATA.
 */
export function nginxH2Records(
  types: CaptureTypes,
  requests: number,
): { bytes: Uint8Array; at: number[] } {
  const records = new Records(types, true, 2 * CONNS);
  for (let c = 0; c < CONNS; c++) {
    records.data(c, 0, [...PREFACE, ...frame(FrameType.SETTINGS, 0, 0, [])]);
    records.data(c, 1, [
      ...frame(FrameType.SETTINGS, 0, 0, []),
      ...frame(FrameType.SETTINGS, Flag.ACK, 0, []),
    ]);
  }
  const next = new Array(CONNS).fill(1); // each connection's next stream id
  for (let r = 0; r < requests; r += H2_STREAMS) {
    const c = (r / H2_STREAMS) % CONNS;
    const ids = Array.from(
      { length: Math.min(H2_STREAMS, requests - r) },
      (_, i) => next[c] + 2 * i,
    );
    next[c] += 2 * ids.length;
    records.data(
      c,
      0,
      ids.flatMap((id) =>
        frame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, id, H2_REQUEST)
      ),
    );
    records.data(
      c,
      1,
      ids.flatMap((id) => [
        ...frame(FrameType.HEADERS, Flag.END_HEADERS, id, H2_RESPONSE),
        ...frame(FrameType.DATA, Flag.END_STREAM, id, octets("hello\n")),
      ]),
    );
  }
  return { bytes: records.bytes, at: records.at };
}

/**
 * The SQL libraries' records of `statements` statements as pgbench -S makes them through
 * libpq in its asynchronous mode, laid out as `types` (the SQL libraries' object's BTF) says:
 * per statement its send (a literal of its own each time) and the NULL result that ends it
 * with its command tag, on 2 connections over TCP.
 */
export function pgbenchRecords(
  types: SqlLibEventTypes,
  statements: number,
): { bytes: Uint8Array; at: number[] } {
  const layout = types.structLayout("sql_event");
  const f = Object.fromEntries(Object.entries(layout.fields).map(([k, v]) => [k, v.offset]));
  const kinds = types.enumValues("sql_event_kind"), ops = types.enumValues("sql_op");
  const libpq = types.enumValues("sql_lib")["SQL_LIB_LIBPQ"]!;
  const size = (n: number) => (f.text! + n + 7) & ~7;
  const texts = Array.from(
    { length: statements },
    (_, i) =>
      octets(`SELECT abalance FROM pgbench_accounts WHERE aid = ${(i * 7919) % 100000 + 1};`),
  );
  const total = texts.reduce((n, t) => n + size(t.length) + size(0), 0);
  const bytes = new Uint8Array(total), v = new DataView(bytes.buffer), at: number[] = [];
  let o = 0;
  const record = (kind: string, op: string, c: number, ts: bigint, text: number[]): number => {
    at.push(o, f.text! + text.length);
    v.setUint32(o + f.kind!, kinds[kind]!, true);
    v.setUint32(o + f.tgid!, PID, true);
    v.setUint32(o + f.tid!, PID, true);
    bytes[o + f.lib!] = libpq;
    bytes[o + f.op!] = ops[op]!;
    v.setBigUint64(o + f.start_ns!, ts, true);
    v.setBigUint64(o + f.end_ns!, ts, true);
    v.setBigUint64(o + f.handle!, 0x55d0c0de0000n + BigInt(c) * 0x1000n, true);
    v.setUint32(o + f.text_len!, text.length, true);
    bytes.set(text, o + f.text!);
    const at0 = o;
    o += size(text.length);
    return at0;
  };
  texts.forEach((text, i) => {
    const c = i & 1, ts = 1_000_000_000n + BigInt(i) * 50_000n;
    const send = record("SQL_EVENT_SEND", "SQL_OP_QUERY", c, ts, text);
    bytes.set(octets("postgres"), send + f.db!);
    v.setBigUint64(send + f.sock!, 0xffff888103429280n + BigInt(c) * 0x1000n, true);
    v.setUint16(send + f.family!, 2, true);
    v.setUint16(send + f.peer_port!, 5432, true);
    bytes.set([127, 0, 0, 1], send + f.peer_addr!);
    const done = record("SQL_EVENT_RESULT", "SQL_OP_RESULT", c, ts + 40_000n, []);
    bytes.set(octets("SELECT 1"), done + f.detail!);
  });
  return { bytes, at };
}

/**
 * Runs synthetic exchanges through the span path: `http1` HTTP/1 ones, half over plain
 * sockets and half as SSL plaintext, and `http2` HTTP/2 ones over TLS; with `sql` (the SQL
 * libraries' object's BTF), `statements` libpq statements too. Each span is handed to
 * `onSpan`, which should serialize it as real ones are and throw the result away. Returns
 * the spans made.
 *
 * The defaults take about 0.25 s here. With them the agent's first 2 s at 1,000 HTTP/1
 * spans a second cost 36 µs per span, against 58 cold; with 3,333 of each kind 52, with
 * 10,000 HTTP/1 alone 28-35 (`deno task profile:threads --warm 0.01 --seconds 2`). The SQL
 * statements, when `sql` is given, add about 0.09 s of CPU at start (`deno task
 * profile:startup`).
 */
export function warmUp(
  types: CaptureTypes,
  onSpan: (span: Span) => void,
  { http1 = 10_000, http2 = 3_000, sql, statements = 3_000 }: {
    http1?: number;
    http2?: number;
    /** The SQL libraries' object's BTF: `statements` libpq statements too. */
    sql?: SqlLibEventTypes;
    statements?: number;
  } = {},
): number {
  const decode = captureDecoder(types);
  const pipeline = new SpanPipeline({ onSpan });
  const builder = new SpanBuilder({
    onSpan: (s) => pipeline.push(s),
    toUnixNano: (mono) => mono,
    resource: () => NGINX_RESOURCE,
    // Its connections are on 127.0.0.1, where no client offers: waiting for one would hold
    // every exchange (no tick runs here), where a real untraced client's go at once.
    offerWaitNs: 0n,
  });
  for (
    const { bytes, at } of [
      nginxRecords(types, http1 >> 1),
      nginxRecords(types, http1 - (http1 >> 1), true),
      nginxH2Records(types, http2),
    ]
  ) {
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < at.length; i += 2) {
      const ev = decode(bytes, view, at[i]!, at[i + 1]!);
      if (ev?.type === "chunk") builder.chunk(ev.chunk);
      else if (ev?.type === "socket") builder.socket(ev.socket);
    }
  }
  builder.flush();
  if (sql) {
    const decodeSql = sqlLibEventDecoder(sql);
    const ctx = {
      resource: NGINX_RESOURCE,
      toUnixNano: (mono: bigint) => mono,
      ids: new RandomIdGenerator(),
    };
    const pairs = new SqlLibStatements((s) => pipeline.push(sqlLibSpan(s, ctx)));
    const { bytes, at } = pgbenchRecords(sql, statements);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < at.length; i += 2) {
      const r = decodeSql(bytes, view, at[i]!, at[i + 1]!);
      if (r.ok) pairs.push(r.event);
    }
  }
  return pipeline.counts.spans;
}
