/**
 * Test helper: writes Go event records the way `go.bpf.c` lays them out (by the object's
 * BTF), so the decoder and the fuzz harness start from realistic records.
 *
 * @module
 */
import type {
  GoEvent,
  GoEventTypes,
  GoHttpEvent,
  GoInjectEvent,
  GoSqlEvent,
  GoText,
} from "./events.ts";

const enc = new TextEncoder();

/** Record bytes for `event` (ids are given as hex, as the decoder returns them). */
export function encodeGoEvent(
  types: GoEventTypes,
  event: Exclude<GoEvent, GoInjectEvent>,
): Uint8Array {
  const kinds = types.enumValues("go_event_kind");
  const ids = types.structLayout("go_span_ids");
  const layout = types.structLayout(
    event.type === "sql"
      ? "go_sql_event"
      : event.type === "link" || event.type === "handler" || event.type === "caller"
      ? "go_link_event"
      : "go_http_event",
  );
  const bytes = new Uint8Array(layout.size);
  const view = new DataView(bytes.buffer);
  const f = (name: string) => {
    const field = layout.fields[name];
    if (field === undefined) throw new Error(`no field ${name}`);
    return field;
  };
  const kind = event.type === "server"
    ? kinds["GO_EVENT_HTTP_SERVER"]
    : event.type === "client"
    ? kinds["GO_EVENT_HTTP_CLIENT"]
    : event.type === "link"
    ? kinds["GO_EVENT_HTTP_LINK"]
    : event.type === "handler"
    ? kinds["GO_EVENT_GRPC_HANDLER"]
    : event.type === "caller"
    ? kinds["GO_EVENT_GRPC_CALL"]
    : kinds["GO_EVENT_SQL"];
  view.setUint32(f("kind").offset, kind ?? 0, true);
  view.setUint32(f("tgid").offset, event.pid, true);
  if (event.type !== "link" && event.type !== "handler" && event.type !== "caller") {
    view.setBigUint64(f("start_ns").offset, event.startMonoNs, true);
    view.setBigUint64(f("end_ns").offset, event.endMonoNs, true);
  }
  const at = f("ids").offset;
  const trace = event.ids.traceId.match(/../g) ?? [];
  trace.forEach((h, i) => bytes[at + ids.fields["trace_id"]!.offset + i] = parseInt(h, 16));
  view.setBigUint64(at + ids.fields["span_id"]!.offset, BigInt(`0x${event.ids.spanId}`), true);
  view.setBigUint64(
    at + ids.fields["parent_id"]!.offset,
    BigInt(`0x${event.ids.parentSpanId || "0"}`),
    true,
  );
  const vias = types.enumValues("go_parent_via");
  const via = {
    goroutine: "GO_VIA_GOROUTINE",
    traceparent: "GO_VIA_TRACEPARENT",
    peer: "GO_VIA_PEER",
  };
  const viaAt = at + ids.fields["via"]!.offset;
  if (event.ids.via) view.setUint32(viaAt, vias[via[event.ids.via]] ?? 0, true);
  if (event.ids.injected) bytes[at + ids.fields["injected"]!.offset] = 1;
  const text = (name: string, t: GoText) => {
    const data = f(name);
    const b = enc.encode(t.text);
    bytes.set(b.subarray(0, data.size), data.offset);
    view.setUint32(f(`${name}_len`).offset, t.truncated ? data.size + 10 : b.length, true);
  };
  if (event.type === "link" || event.type === "handler" || event.type === "caller") {
    const key = types.structLayout("go_conn_key").fields;
    const c = f("conn").offset;
    const end = (addr: string, port: number, a: string, p: string) => {
      const v4 = addr.split(".").map(Number);
      bytes.set([0xff, 0xff, ...v4], c + key[a]!.offset + 10);
      view.setUint16(c + key[p]!.offset, port, true);
    };
    end(event.client.address, event.client.port, "client_addr", "client_port");
    end(event.serverEnd.address, event.serverEnd.port, "server_addr", "server_port");
    view.setUint32(c + key["stream"]!.offset, event.stream, true);
    if (event.type === "caller") {
      bytes[f("stand_in").offset] = event.standIn ? 1 : 0;
    } else if (event.type === "handler") {
      bytes[f("server").offset] = 1;
    } else {
      bytes[f("server").offset] = event.server ? 1 : 0;
      for (const n of ["method", "path", "query"] as const) text(n, event[n]);
    }
  } else if (event.type === "sql") {
    const ops = types.enumValues("go_sql_op");
    bytes[f("op").offset] = (event.op === "exec" ? ops["GO_SQL_EXEC"] : ops["GO_SQL_QUERY"]) ?? 0;
    bytes[f("error").offset] = event.error ? 1 : 0;
    text("query", event.query);
  } else {
    for (const n of ["method", "scheme", "host", "path", "query", "route", "remote"] as const) {
      text(n, event[n]);
    }
    view.setBigInt64(f("content_length").offset, BigInt(event.contentLength), true);
    view.setInt32(f("status").offset, event.status, true);
    bytes[f("error").offset] = event.error ? 1 : 0;
    bytes[f("tls").offset] = event.tls ? 1 : 0;
    const [major, minor] = event.protocolVersion === "" ? [0, 0] : event.protocolVersion
      .split(".").map(Number);
    bytes[f("proto_major").offset] = major ?? 0;
    bytes[f("proto_minor").offset] = minor ?? 0;
  }
  return bytes;
}

/** A plain text value. */
export function t(text: string): GoText {
  return { text, truncated: false };
}

/** Sample events: a server request, a client call, a SQL query. */
export function sampleGoEvents(): [GoHttpEvent, GoHttpEvent, GoSqlEvent] {
  const ids = (span: string, parent: string) => ({
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: span,
    parentSpanId: parent,
  });
  return [
    {
      type: "server",
      pid: 4242,
      startMonoNs: 1_000_000n,
      endMonoNs: 3_500_000n,
      ids: ids("00f067aa0ba902b7", ""),
      method: t("GET"),
      scheme: t(""),
      host: t("api.example:8080"),
      path: t("/users/42"),
      query: t("sig=secret&x=1"),
      route: t("GET /users/{id}"),
      remote: t("10.0.0.7:51234"),
      contentLength: 0,
      status: 503,
      error: false,
      tls: true,
      protocolVersion: "2",
    },
    {
      type: "client",
      pid: 4242,
      startMonoNs: 1_500_000n,
      endMonoNs: 2_000_000n,
      ids: ids("1111111111111111", "00f067aa0ba902b7"),
      method: t("POST"),
      scheme: t("https"),
      host: t("backend.internal"),
      path: t("/v1/items"),
      query: t(""),
      route: t(""),
      remote: t(""),
      contentLength: 17,
      status: 404,
      error: false,
      tls: false,
      protocolVersion: "1.1",
    },
    {
      type: "sql",
      pid: 4242,
      startMonoNs: 2_100_000n,
      endMonoNs: 2_200_000n,
      ids: ids("2222222222222222", "00f067aa0ba902b7"),
      op: "exec",
      query: t("INSERT INTO orders (id) VALUES (?)"),
      error: true,
    },
  ];
}
