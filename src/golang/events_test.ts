import assert from "node:assert/strict";
import { BpfObject } from "../../ffi/mod.ts";
import { type GoEvent, goEventDecoder } from "./events.ts";
import { GO_BPF_OBJECT } from "./instrumentation.ts";
import { encodeGoEvent, sampleGoEvents } from "./_test_events.ts";

Deno.test("goEventDecoder: reads records laid out by the object's BTF", () => {
  const obj = BpfObject.open(GO_BPF_OBJECT);
  try {
    const decode = goEventDecoder(obj);
    const [server, client] = sampleGoEvents();
    const linked: GoEvent = {
      type: "link",
      pid: 4242,
      ids: { ...client.ids, via: "goroutine", injected: true },
      server: false,
      client: { address: "127.0.0.1", port: 50123 },
      serverEnd: { address: "10.1.2.3", port: 8080 },
      method: server.method,
      path: server.path,
      query: server.query,
      stream: 5,
    };
    const handler: GoEvent = {
      type: "handler",
      pid: 4242,
      ids: { ...server.ids, parentSpanId: "" },
      client: { address: "127.0.0.1", port: 50124 },
      serverEnd: { address: "127.0.0.1", port: 9090 },
      stream: 7,
    };
    const caller: GoEvent = {
      type: "caller",
      pid: 4242,
      ids: { ...server.ids, parentSpanId: "" },
      standIn: true,
      client: { address: "127.0.0.1", port: 50125 },
      serverEnd: { address: "127.0.0.1", port: 50051 },
      stream: 9,
    };
    for (const event of [...sampleGoEvents(), linked, handler, caller]) {
      const record = encodeGoEvent(obj, event);
      const bytes = new Uint8Array(record.length + 8);
      bytes.set(record, 8);
      const r = decode(bytes, new DataView(bytes.buffer), 8, record.length);
      assert.ok(r.ok, r.ok ? "" : r.error);
      if (r.event.type !== "link") {
        assert.deepEqual(r.event, event);
        continue;
      }
      const { connKey, ...rest } = r.event;
      assert.deepEqual(rest, event);
      // The key as the probes write it, its stream zeroed: the connection's, in server_links.
      const key = obj.structLayout("go_conn_key");
      const at = (name: string) => key.fields[name]!.offset;
      assert.equal(connKey?.length, key.size);
      assert.deepEqual([...connKey!.subarray(at("stream"), at("stream") + 4)], [0, 0, 0, 0]);
      assert.deepEqual(
        [...connKey!.subarray(at("client_addr") + 10, at("client_addr") + 16)],
        [0xff, 0xff, 127, 0, 0, 1],
      );
      assert.equal(new DataView(connKey!.buffer).getUint16(at("server_port"), true), 8080);
    }
  } finally {
    obj.close();
  }
});

Deno.test("goEventDecoder: truncation flags, short records, unknown kinds", () => {
  const obj = BpfObject.open(GO_BPF_OBJECT);
  try {
    const decode = goEventDecoder(obj);
    const [server, , sql] = sampleGoEvents();
    const long = "/".padEnd(500, "a");
    const record = encodeGoEvent(obj, { ...server, path: { text: long, truncated: true } });
    const r = decode(record, new DataView(record.buffer), 0, record.length);
    assert.ok(r.ok && r.event.type === "server");
    assert.equal(r.event.path.truncated, true);
    assert.equal(
      r.event.path.text,
      long.slice(0, obj.structLayout("go_http_event").fields["path"]!.size),
    );

    const short = encodeGoEvent(obj, sql);
    const cut = decode(short, new DataView(short.buffer), 0, 40);
    assert.ok(!cut.ok);
    assert.match(cut.error, /SQL event of 40 bytes/);
    assert.ok(!decode(short, new DataView(short.buffer), 0, 4).ok);
    new DataView(short.buffer).setUint32(0, 99, true);
    const unknown = decode(short, new DataView(short.buffer), 0, short.length);
    assert.ok(!unknown.ok);
    assert.match(unknown.error, /unknown Go event kind 99/);
  } finally {
    obj.close();
  }
});

Deno.test("goEventDecoder: UTF-8 text beside ASCII fields, and int64 lengths", () => {
  const obj = BpfObject.open(GO_BPF_OBJECT);
  try {
    const decode = goEventDecoder(obj);
    const [server] = sampleGoEvents();
    for (
      const event of [
        // Non-ASCII in an early field: the fields after it keep their own text.
        { ...server, host: { text: "bücher.example", truncated: false }, contentLength: -1 },
        { ...server, path: { text: "/café/☕", truncated: false }, contentLength: 2 ** 40 + 7 },
      ]
    ) {
      const record = encodeGoEvent(obj, event);
      const r = decode(record, new DataView(record.buffer), 0, record.length);
      assert.ok(r.ok, r.ok ? "" : r.error);
      assert.deepEqual(r.event, event);
    }
  } finally {
    obj.close();
  }
});
