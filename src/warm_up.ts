/**
 * The span path run on synthetic traffic before the probes go on. V8 compiles a function
 * only after it has run many times: an agent just started made its first spans in the
 * interpreter, at 2–3 times the CPU of a warm agent, just when a busy target's events
 * flood in (the ring filled and dropped events in the first seconds of a flood). So
 * HTTP/1 exchanges as nginx sends them, laid out as the capture's ring holds them, go
 * through the same decoder, span builder, pipeline and serializer first; the spans are
 * then discarded by the caller.
 *
 * @module
 */
import { captureDecoder, type CaptureTypes } from "./capture/events.ts";
import type { Attributes, Span } from "./model/span.ts";
import { SpanPipeline } from "./span_pipeline.ts";
import { SpanBuilder } from "./spans/mod.ts";

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
  const data = types.structLayout("data_event");
  const socket = types.structLayout("socket_event");
  const kinds = types.enumValues("event_kind");
  const source = types.enumValues("event_source")[tls ? "SOURCE_TLS" : "SOURCE_SOCKET"]!;
  const d = (name: string) => data.fields[name]!.offset;
  const s = (name: string) => socket.fields[name]!.offset;
  const out = new Uint8Array(64 + requests * 3 * (d("data") + 256) + CONNS * socket.size * 2);
  const view = new DataView(out.buffer);
  const at: number[] = [];
  let end = 0;
  let ts = 1_000_000_000n;
  const sockAddr = (c: number) => 0xffff888103429280n + BigInt(c) * 0x1000n;
  const connOf = (c: number) => tls ? 0x55d0c8a41e30n + BigInt(c) * 0x2000n : sockAddr(c);
  const begin = (size: number) => {
    end = (end + 7) & ~7;
    at.push(end, size);
    const start = end;
    end += size;
    return start;
  };
  for (let c = 0; c < CONNS; c++) {
    const o = begin(socket.size);
    view.setUint32(o + s("kind"), kinds["EVENT_SOCKET"]!, true);
    view.setUint32(o + s("tgid"), PID, true);
    view.setUint32(o + s("tid"), PID, true);
    view.setInt32(o + s("fd"), 3 + c, true);
    view.setBigUint64(o + s("ts_ns"), ts, true);
    view.setBigUint64(o + s("call_ts"), ts, true);
    view.setBigUint64(o + s("conn"), connOf(c), true);
    view.setBigUint64(o + s("sock"), sockAddr(c), true);
    view.setUint16(o + s("family"), 2, true);
    view.setUint16(o + s("local_port"), 37649, true);
    view.setUint16(o + s("peer_port"), 53052 + c, true);
    view.setUint8(o + s("source"), source);
    out.set([127, 0, 0, 1], o + s("local_addr"));
    out.set([127, 0, 0, 1], o + s("peer_addr"));
  }
  const pos = [new Array(CONNS).fill(0), new Array(CONNS).fill(0)];
  const record = (c: number, dir: 0 | 1, text: string, callLen: number) => {
    const o = begin(d("data") + text.length);
    view.setUint32(o + d("kind"), kinds["EVENT_DATA"]!, true);
    view.setUint32(o + d("tgid"), PID, true);
    view.setUint32(o + d("tid"), PID, true);
    view.setUint8(o + d("direction"), dir);
    view.setUint8(o + d("last"), 1);
    view.setUint8(o + d("source"), source);
    view.setBigUint64(o + d("ts_ns"), ts += 20_000n, true);
    view.setBigUint64(o + d("conn"), connOf(c), true);
    view.setBigUint64(o + d("call_pos"), BigInt(pos[dir]![c]!), true);
    view.setUint32(o + d("call_len"), callLen, true);
    view.setUint32(o + d("data_len"), text.length, true);
    for (let i = 0; i < text.length; i++) out[o + d("data") + i] = text.charCodeAt(i);
    pos[dir]![c] += callLen;
  };
  for (let r = 0; r < requests; r++) {
    const c = r % CONNS;
    record(c, 0, REQUEST, REQUEST.length);
    record(c, 1, RESPONSE_HEAD, RESPONSE_HEAD.length);
    record(c, 1, "", BODY);
  }
  return { bytes: out, at };
}

/**
 * Runs `requests` synthetic exchanges (10,000 by default, half over plain sockets and half
 * over SSL: about 0.15 s here, and enough for the first two seconds at 1,000 spans a second
 * to cost half the CPU) through the span path; each span is handed to `onSpan`, which
 * should serialize it as real ones are and throw the result away. Returns the spans made.
 */
export function warmUp(
  types: CaptureTypes,
  onSpan: (span: Span) => void,
  requests = 10_000,
): number {
  const decode = captureDecoder(types);
  const pipeline = new SpanPipeline({ onSpan });
  const builder = new SpanBuilder({
    onSpan: (s) => pipeline.push(s),
    toUnixNano: (mono) => mono,
    resource: () => NGINX_RESOURCE,
  });
  for (const tls of [false, true]) {
    const { bytes, at } = nginxRecords(types, requests >> 1, tls);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < at.length; i += 2) {
      const ev = decode(bytes, view, at[i]!, at[i + 1]!);
      if (ev?.type === "chunk") builder.chunk(ev.chunk);
      else if (ev?.type === "socket") builder.socket(ev.socket);
    }
  }
  builder.flush();
  return pipeline.counts.spans;
}
