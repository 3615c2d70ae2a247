/**
 * Decodes the Go instrumentation's ring-buffer records (`struct go_http_event` and
 * `struct go_sql_event` of `bpf/uprobes/go.h`). Field offsets come from the object's BTF,
 * so the C header stays the one definition. The strings in a record were copied from the
 * target's memory: a short, damaged or unknown record gives an error result, never a throw.
 *
 * @module
 */
import {
  type BtfTypes,
  type DecodeResult,
  enumValue as value,
  type Field,
  fieldOf as field,
  type RecordDecoder,
  type StructLayout,
} from "../../ffi/mod.ts";
import { ipv6 as ipv6Address } from "../capture/events.ts";

/** How BPF found a span's parent (`enum go_parent_via`). */
export type GoParentVia = "goroutine" | "traceparent" | "peer";

/** The ids BPF made for a span; `parentSpanId` is "" for a root. */
export interface GoSpanIds {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  /** How the parent was found; absent for a root. */
  via?: GoParentVia;
  /** The caller's sampled flag, where a caller's trace was adopted in user space. */
  sampled?: boolean;
  /** Client: these ids were written into the request as its `traceparent`. */
  injected?: true;
}

/** A Go string as copied: its text (at most the field's size) and whether it was cut. */
export interface GoText {
  text: string;
  truncated: boolean;
}

/** One HTTP request served (`server`) or made (`client`). */
export interface GoHttpEvent {
  type: "server" | "client";
  pid: number;
  startMonoNs: bigint;
  endMonoNs: bigint;
  ids: GoSpanIds;
  method: GoText;
  /** Client: the URL's scheme. Server: "". */
  scheme: GoText;
  /** Server: Request.Host. Client: URL.Host, else Request.Host. */
  host: GoText;
  path: GoText;
  query: GoText;
  /** The ServeMux pattern that matched (Go 1.22+), "" when none. */
  route: GoText;
  /** Server: Request.RemoteAddr. */
  remote: GoText;
  /** Request.ContentLength: -1 unknown. */
  contentLength: number;
  /** Response status; 0 when there is none (a client error) or it was implausible. */
  status: number;
  /** Client: roundTrip returned an error. */
  error: boolean;
  /** Server: the request came over TLS. */
  tls: boolean;
  /** The exchange's HTTP version (`1.1`, `2`); "" when unknown (a client error). */
  protocolVersion: string;
}

/** One database/sql query or exec. */
export interface GoSqlEvent {
  type: "sql";
  pid: number;
  startMonoNs: bigint;
  endMonoNs: bigint;
  ids: GoSpanIds;
  op: "query" | "exec";
  query: GoText;
  error: boolean;
}

/** One end of a connection. */
export interface GoEndpoint {
  address: string;
  port: number;
}

/**
 * A request's span and the connection it travels on, sent before the request is written
 * (`server: false`) or when its handler starts (`server: true`).
 */
export interface GoLinkEvent {
  type: "link";
  pid: number;
  ids: GoSpanIds;
  server: boolean;
  client: GoEndpoint;
  serverEnd: GoEndpoint;
  method: GoText;
  path: GoText;
  query: GoText;
  /** Its HTTP/2 stream id; 0 over HTTP/1. */
  stream: number;
  /** The connection's key as the probes write it (`struct go_conn_key`), stream 0. */
  connKey?: Uint8Array<ArrayBuffer>;
}

/**
 * A grpc-go handler started on a goroutine, with the stand-in ids its calls are children of
 * until user space joins them to the span the bytes give its stream (`go_grpc.h`).
 */
export interface GoHandlerEvent {
  type: "handler";
  pid: number;
  /** The stand-in: a root, never a span of its own. */
  ids: GoSpanIds;
  client: GoEndpoint;
  serverEnd: GoEndpoint;
  /** The call's HTTP/2 stream id. */
  stream: number;
}

/**
 * A grpc-go client stream opened on a goroutine that had a context (`go_grpc.h`): that
 * context is the parent of the span the bytes give the stream.
 */
export interface GoCallerEvent {
  type: "caller";
  pid: number;
  /** The calling goroutine's context, as BPF made it (its trace and span). */
  ids: GoSpanIds;
  /** That context is a grpc-go handler's stand-in, never a span of its own. */
  standIn: boolean;
  client: GoEndpoint;
  serverEnd: GoEndpoint;
  /** The stream's HTTP/2 id. */
  stream: number;
}

/** A traceparent injection's dry run: the line, and the request head it would have followed. */
export interface GoInjectEvent {
  type: "inject";
  pid: number;
  ids: GoSpanIds;
  /** The line that would have been written. */
  line: string;
  /** The writer's fill mark: where the line would have started. */
  at: number;
  /** The bytes before the mark (at most the last 192). */
  head: string;
}

/** A decoded record. */
export type GoEvent =
  | GoHttpEvent
  | GoSqlEvent
  | GoLinkEvent
  | GoHandlerEvent
  | GoCallerEvent
  | GoInjectEvent;

/** What a decoder returns for one record. */
export type GoDecodeResult = DecodeResult<GoEvent>;

/** Where the decoder reads the C definitions: the BPF object's BTF. */
export type GoEventTypes = BtfTypes;

/** Decodes one record `bytes[offset, offset + length)`. */
export type GoEventDecoder = RecordDecoder<GoEvent>;

/** ASCII of each byte's two hex digits. */
const HEX_DIGITS = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, "0");
  HEX_DIGITS[2 * i] = h.charCodeAt(0);
  HEX_DIGITS[2 * i + 1] = h.charCodeAt(1);
}
/**
 * Writes the hex digits of `n` bytes at `at` into `to` from `fill`; `reversed`: a
 * little-endian u64, written as its big-endian bytes (an id as W3C writes it).
 */
function hexInto(
  to: Uint8Array,
  fill: number,
  bytes: Uint8Array,
  at: number,
  n: number,
  reversed: boolean,
): number {
  for (let i = 0; i < n; i++, fill += 2) {
    const b = bytes[reversed ? at + n - 1 - i : at + i]! << 1;
    to[fill] = HEX_DIGITS[b]!;
    to[fill + 1] = HEX_DIGITS[b + 1]!;
  }
  return fill;
}

/** `network.protocol.version` of a ProtoMajor/ProtoMinor pair: "2", "1.1", "1.0". */
function protocolVersion(major: number, minor: number): string {
  if (major === 2) return "2";
  return major === 1 && minor <= 1 ? `1.${minor}` : "";
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * Builds a decoder for the records of `bpf/uprobes/go.h`, by the object's BTF. Throws only
 * here, when the object does not match the header (a build problem), never per record.
 */
export function goEventDecoder(types: GoEventTypes): GoEventDecoder {
  const http = types.structLayout("go_http_event");
  const link = types.structLayout("go_link_event");
  const connKey = types.structLayout("go_conn_key");
  const sql = types.structLayout("go_sql_event");
  const ids = types.structLayout("go_span_ids");
  const kinds = types.enumValues("go_event_kind");
  const ops = types.enumValues("go_sql_op");
  const SERVER = value(kinds, "GO_EVENT_HTTP_SERVER");
  const CLIENT = value(kinds, "GO_EVENT_HTTP_CLIENT");
  const SQL = value(kinds, "GO_EVENT_SQL");
  const LINK = value(kinds, "GO_EVENT_HTTP_LINK");
  const DRY = value(kinds, "GO_EVENT_INJECT_DRY");
  const HANDLER = value(kinds, "GO_EVENT_GRPC_HANDLER");
  const CALL = value(kinds, "GO_EVENT_GRPC_CALL");
  const dry = types.structLayout("go_inject_event");
  const d = {
    tgid: field(dry, "tgid").offset,
    ids: field(dry, "ids").offset,
    at: field(dry, "at").offset,
    headLen: field(dry, "head_len").offset,
    line: field(dry, "line"),
    head: field(dry, "head"),
  };
  const vias = types.enumValues("go_parent_via");
  const VIA: Record<number, GoParentVia> = {
    [value(vias, "GO_VIA_GOROUTINE")]: "goroutine",
    [value(vias, "GO_VIA_TRACEPARENT")]: "traceparent",
    [value(vias, "GO_VIA_PEER")]: "peer",
  };
  const OP_EXEC = value(ops, "GO_SQL_EXEC");
  const idf = {
    trace: field(ids, "trace_id").offset,
    span: field(ids, "span_id").offset,
    parent: field(ids, "parent_id").offset,
    via: field(ids, "via").offset,
    injected: field(ids, "injected").offset,
  };
  const common = (layout: StructLayout) => ({
    kind: field(layout, "kind").offset,
    tgid: field(layout, "tgid").offset,
    start: field(layout, "start_ns").offset,
    end: field(layout, "end_ns").offset,
    ids: field(layout, "ids").offset,
  });
  const h = common(http);
  const s = common(sql);
  const text = (layout: StructLayout, name: string) => ({
    len: field(layout, `${name}_len`).offset,
    data: field(layout, name),
  });
  const ht = {
    method: text(http, "method"),
    scheme: text(http, "scheme"),
    host: text(http, "host"),
    path: text(http, "path"),
    query: text(http, "query"),
    route: text(http, "route"),
    remote: text(http, "remote"),
  };
  const l = {
    tgid: field(link, "tgid").offset,
    ids: field(link, "ids").offset,
    conn: field(link, "conn").offset,
    server: field(link, "server").offset,
    standIn: field(link, "stand_in").offset,
    method: text(link, "method"),
    path: text(link, "path"),
    query: text(link, "query"),
  };
  const ck = {
    clientAddr: field(connKey, "client_addr").offset,
    serverAddr: field(connKey, "server_addr").offset,
    clientPort: field(connKey, "client_port").offset,
    serverPort: field(connKey, "server_port").offset,
    stream: field(connKey, "stream").offset,
  };
  /** A connection's key with its stream id zeroed: the connection's alone. */
  const streamless = (key: Uint8Array<ArrayBuffer>) => {
    key.fill(0, ck.stream, ck.stream + 4);
    return key;
  };

  const endpoint = (bytes: Uint8Array, view: DataView, addr: number, port: number) => ({
    address: ipv6Address(bytes, addr),
    port: view.getUint16(port, true),
  });
  const hContentLength = field(http, "content_length").offset;
  const hStatus = field(http, "status").offset;
  const hError = field(http, "error").offset;
  const hTls = field(http, "tls").offset;
  const hMajor = field(http, "proto_major").offset;
  const hMinor = field(http, "proto_minor").offset;
  const sOp = field(sql, "op").offset;
  const sError = field(sql, "error").offset;
  const sQuery = text(sql, "query");

  type TextField = { len: number; data: Field };
  // A record's ids' digits and text bytes, gathered to be decoded in one call: the decoder's
  // fixed cost (~0.4 µs a call) was most of a record's decoding, paid once per field.
  const gathered = new Uint8Array(1024);
  const NO_TEXTS: TextField[] = [];
  const read = (
    bytes: Uint8Array,
    view: DataView,
    base: number,
    idsAt: number,
    fields: TextField[] = NO_TEXTS,
  ): { ids: GoSpanIds; texts: GoText[] } => {
    const parentAt = idsAt + idf.parent;
    const parent = (view.getUint32(parentAt, true) | view.getUint32(parentAt + 4, true)) !== 0;
    let fill = hexInto(gathered, 0, bytes, idsAt + idf.trace, 16, false);
    fill = hexInto(gathered, fill, bytes, idsAt + idf.span, 8, true);
    if (parent) fill = hexInto(gathered, fill, bytes, parentAt, 8, true);
    const used: number[] = [];
    let high = 0;
    for (const t of fields) {
      const n = Math.min(view.getUint32(base + t.len, true), t.data.size);
      const start = base + t.data.offset;
      for (let i = 0; i < n; i++) high |= gathered[fill + i] = bytes[start + i]!;
      fill += n;
      used.push(n);
    }
    // ASCII decodes one byte to one character, so each piece is a slice of the whole.
    const all = utf8.decode(gathered.subarray(0, fill));
    const ids: GoSpanIds = {
      traceId: all.slice(0, 32),
      spanId: all.slice(32, 48),
      parentSpanId: parent ? all.slice(48, 64) : "",
    };
    const via = VIA[view.getUint32(idsAt + idf.via, true)];
    if (parent && via !== undefined) ids.via = via;
    if (bytes[idsAt + idf.injected] !== 0) ids.injected = true;
    const texts: GoText[] = [];
    let at = parent ? 64 : 48;
    for (let f = 0; f < fields.length; f++) {
      const t = fields[f]!, n = used[f]!;
      const start = base + t.data.offset;
      const text = high < 0x80
        ? all.slice(at, at + n)
        : utf8.decode(bytes.subarray(start, start + n));
      texts.push({ text, truncated: view.getUint32(base + t.len, true) > n });
      at += n;
    }
    return { ids, texts };
  };
  const httpTexts = [ht.method, ht.scheme, ht.host, ht.path, ht.query, ht.route, ht.remote];
  const linkTexts = [l.method, l.path, l.query];
  const sqlTexts = [sQuery];

  return (bytes, view, offset, length) => {
    if (length < 8 || offset < 0 || offset + length > bytes.length) {
      return { ok: false, error: `a ${length}-byte record is too short for any Go event` };
    }
    const kind = view.getUint32(offset + h.kind, true);
    if (kind === SERVER || kind === CLIENT) {
      if (length < http.size) {
        return { ok: false, error: `an HTTP event of ${length} bytes (expected ${http.size})` };
      }
      const status = view.getInt32(offset + hStatus, true);
      const { ids, texts } = read(bytes, view, offset, offset + h.ids, httpTexts);
      const [method, scheme, host, path, query, route, remote] = texts as [GoText, ...GoText[]];
      return {
        ok: true,
        event: {
          type: kind === SERVER ? "server" : "client",
          pid: view.getUint32(offset + h.tgid, true),
          startMonoNs: view.getBigUint64(offset + h.start, true),
          endMonoNs: view.getBigUint64(offset + h.end, true),
          ids,
          method,
          scheme: scheme!,
          host: host!,
          path: path!,
          query: query!,
          route: route!,
          remote: remote!,
          // An int64 from two halves: a BigInt made per record cost more than the rest.
          contentLength: view.getInt32(offset + hContentLength + 4, true) * 2 ** 32 +
            view.getUint32(offset + hContentLength, true),
          status: status >= 100 && status <= 999 ? status : 0,
          error: bytes[offset + hError] !== 0,
          tls: bytes[offset + hTls] !== 0,
          protocolVersion: protocolVersion(bytes[offset + hMajor]!, bytes[offset + hMinor]!),
        },
      };
    }
    if (kind === SQL) {
      if (length < sql.size) {
        return { ok: false, error: `a SQL event of ${length} bytes (expected ${sql.size})` };
      }
      const sqlRead = read(bytes, view, offset, offset + s.ids, sqlTexts);
      return {
        ok: true,
        event: {
          type: "sql",
          pid: view.getUint32(offset + s.tgid, true),
          startMonoNs: view.getBigUint64(offset + s.start, true),
          endMonoNs: view.getBigUint64(offset + s.end, true),
          ids: sqlRead.ids,
          op: bytes[offset + sOp] === OP_EXEC ? "exec" : "query",
          query: sqlRead.texts[0]!,
          error: bytes[offset + sError] !== 0,
        },
      };
    }
    if (kind === DRY) {
      if (length < dry.size) {
        return { ok: false, error: `a dry-run event of ${length} bytes (expected ${dry.size})` };
      }
      const headLen = Math.min(view.getUint32(offset + d.headLen, true), d.head.size);
      const text = (at: number, n: number) => utf8.decode(bytes.subarray(at, at + n));
      return {
        ok: true,
        event: {
          type: "inject",
          pid: view.getUint32(offset + d.tgid, true),
          ids: read(bytes, view, offset, offset + d.ids).ids,
          line: text(offset + d.line.offset, 70),
          at: Number(view.getBigUint64(offset + d.at, true)),
          head: text(offset + d.head.offset, headLen),
        },
      };
    }
    if (kind === LINK || kind === HANDLER || kind === CALL) {
      if (length < link.size) {
        return { ok: false, error: `a link event of ${length} bytes (expected ${link.size})` };
      }
      const c = offset + l.conn;
      if (kind === CALL) {
        return {
          ok: true,
          event: {
            type: "caller",
            pid: view.getUint32(offset + l.tgid, true),
            ids: read(bytes, view, offset, offset + l.ids).ids,
            standIn: bytes[offset + l.standIn] !== 0,
            client: endpoint(bytes, view, c + ck.clientAddr, c + ck.clientPort),
            serverEnd: endpoint(bytes, view, c + ck.serverAddr, c + ck.serverPort),
            stream: view.getUint32(c + ck.stream, true),
          },
        };
      }
      if (kind === HANDLER) {
        return {
          ok: true,
          event: {
            type: "handler",
            pid: view.getUint32(offset + l.tgid, true),
            ids: read(bytes, view, offset, offset + l.ids).ids,
            client: endpoint(bytes, view, c + ck.clientAddr, c + ck.clientPort),
            serverEnd: endpoint(bytes, view, c + ck.serverAddr, c + ck.serverPort),
            stream: view.getUint32(c + ck.stream, true),
          },
        };
      }
      const { ids, texts: [method, path, query] } = read(
        bytes,
        view,
        offset,
        offset + l.ids,
        linkTexts,
      );
      return {
        ok: true,
        event: {
          type: "link",
          pid: view.getUint32(offset + l.tgid, true),
          ids,
          server: bytes[offset + l.server] !== 0,
          client: endpoint(bytes, view, c + ck.clientAddr, c + ck.clientPort),
          serverEnd: endpoint(bytes, view, c + ck.serverAddr, c + ck.serverPort),
          method: method!,
          path: path!,
          query: query!,
          stream: view.getUint32(c + ck.stream, true),
          connKey: streamless(new Uint8Array(bytes.subarray(c, c + connKey.size))),
        },
      };
    }
    return { ok: false, error: `unknown Go event kind ${kind}` };
  };
}
