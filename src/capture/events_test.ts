import assert from "node:assert/strict";
import { BpfObject } from "../../ffi/mod.ts";
import { CAPTURE_OBJECT } from "./mod.ts";
import { captureDecoder } from "./events.ts";

// Records laid out by the object's own BTF, as the kernel writes them.
const obj = BpfObject.open(CAPTURE_OBJECT);
const data = obj.structLayout("data_event");
const socket = obj.structLayout("socket_event");
const decode = captureDecoder(obj);
const kinds = obj.enumValues("event_kind");
const egress = obj.enumValues("direction")["DIR_EGRESS"]!;
const sourceSocket = obj.enumValues("event_source")["SOURCE_SOCKET"]!;
obj.close();

function record(size: number, fill: (v: DataView, f: (name: string) => number) => void) {
  const bytes = new Uint8Array(8 + size);
  const view = new DataView(bytes.buffer);
  fill(view, (name) => 8 + data.fields[name]!.offset);
  return { bytes, view };
}

Deno.test("decoder: a data record becomes a stream chunk", () => {
  const text = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n");
  const { bytes, view } = record(data.fields["data"]!.offset + text.length, (v, f) => {
    v.setUint32(f("kind"), kinds["EVENT_DATA"]!, true);
    v.setUint32(f("tgid"), 42, true);
    v.setUint32(f("tid"), 43, true);
    v.setUint8(f("direction"), egress);
    v.setUint8(f("last"), 1);
    v.setBigUint64(f("ts_ns"), 123n, true);
    v.setBigUint64(f("conn"), 0x7f00aa001230n, true);
    v.setBigUint64(f("call_pos"), 5000n, true);
    v.setUint32(f("call_len"), 100, true);
    v.setUint32(f("chunk_off"), 0, true);
    v.setUint32(f("data_len"), text.length, true);
    new Uint8Array(v.buffer).set(text, f("data"));
  });
  const ev = decode(bytes, view, 8, bytes.length - 8);
  assert.ok(ev?.type === "chunk");
  const { data: got, ...rest } = ev.chunk;
  assert.deepEqual(rest, {
    pid: 42,
    tid: 43,
    conn: "0x7f00aa001230",
    secure: true,
    direction: "egress",
    pos: 5000,
    callEnd: 5100,
    last: true,
    monoNs: 123n,
  });
  assert.equal(new TextDecoder().decode(got), "GET / HTTP/1.1\r\n\r\n");
});

Deno.test("decoder: socket records, IPv4 and IPv6 addresses in their usual text forms", () => {
  const cases: [number, number[], string][] = [
    [2, [127, 0, 0, 1], "127.0.0.1"],
    [10, [0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], "2001:0:0:1::1"],
    [10, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "::1"],
    [10, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3], "10.1.2.3"],
    [10, [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 3, 0, 4], "fe80::1:2:3:4"],
  ];
  for (const [family, addr, text] of cases) {
    const bytes = new Uint8Array(8 + socket.size);
    const v = new DataView(bytes.buffer);
    const f = (name: string) => 8 + socket.fields[name]!.offset;
    v.setUint32(f("kind"), kinds["EVENT_SOCKET"]!, true);
    v.setUint32(f("tgid"), 7, true);
    v.setUint16(f("family"), family, true);
    v.setUint16(f("local_port"), 8443, true);
    v.setUint16(f("peer_port"), 50000, true);
    bytes.set(addr, f("peer_addr"));
    v.setBigUint64(f("sock"), 0xffff888104a3c123n, true); // all 64 bits of a kernel address
    const ev = decode(bytes, v, 8, socket.size);
    assert.ok(ev?.type === "socket");
    assert.equal(ev.socket.socket, "0xffff888104a3c123");
    assert.equal(ev.socket.peerAddress, text);
    assert.equal(ev.socket.localPort, 8443);
    assert.equal(ev.socket.peerPort, 50000);
  }
});

Deno.test("decoder: a plain socket's records are keyed by the kernel socket", () => {
  const { bytes, view } = record(data.fields["data"]!.offset + 2, (v, f) => {
    v.setUint32(f("kind"), kinds["EVENT_DATA"]!, true);
    v.setUint8(f("source"), sourceSocket);
    v.setBigUint64(f("conn"), 0xffff888104a3c123n, true);
    v.setUint32(f("call_len"), 2, true);
    v.setUint32(f("data_len"), 2, true);
  });
  const ev = decode(bytes, view, 8, bytes.length - 8);
  assert.ok(ev?.type === "chunk");
  assert.equal(ev.chunk.conn, "sock:0xffff888104a3c123");
  assert.equal(ev.chunk.secure, false);

  const close = new Uint8Array(8 + socket.size);
  const v = new DataView(close.buffer);
  v.setUint32(8 + socket.fields["kind"]!.offset, kinds["EVENT_CLOSE"]!, true);
  v.setUint8(8 + socket.fields["source"]!.offset, sourceSocket);
  v.setBigUint64(8 + socket.fields["conn"]!.offset, 0xffff888104a3c123n, true);
  const closed = decode(close, v, 8, socket.size);
  assert.ok(closed?.type === "close");
  assert.equal(closed.socket.conn, "sock:0xffff888104a3c123");

  // Its socket record carries the kernel's key for ignored_socks, the socket's 8 bytes.
  const opened = close.slice();
  const ov = new DataView(opened.buffer);
  ov.setUint32(8 + socket.fields["kind"]!.offset, kinds["EVENT_SOCKET"]!, true);
  const ev2 = decode(opened, ov, 8, socket.size);
  assert.ok(ev2?.type === "socket" && ev2.key);
  assert.equal(new DataView(ev2.key.buffer).getBigUint64(0, true), 0xffff888104a3c123n);
  assert.equal(ev2.key.length, 8);
});

Deno.test("decoder: short or unknown records are skipped, never thrown", () => {
  const bytes = new Uint8Array(64);
  const view = new DataView(bytes.buffer);
  assert.equal(decode(bytes, view, 0, 2), undefined);
  view.setUint32(0, 99, true);
  assert.equal(decode(bytes, view, 0, 64), undefined);
  view.setUint32(0, kinds["EVENT_DATA"]!, true);
  assert.equal(decode(bytes, view, 0, 20), undefined, "shorter than a data header");
});

Deno.test("decoder: plain sockets' keys stay exact past the key cache's bound", () => {
  const { bytes, view } = record(data.fields["data"]!.offset, (v, f) => {
    v.setUint32(f("kind"), kinds["EVENT_DATA"]!, true);
    v.setUint8(f("source"), sourceSocket);
  });
  const at = 8 + data.fields["conn"]!.offset;
  const keyOf = (addr: bigint) => {
    view.setBigUint64(at, addr, true);
    const ev = decode(bytes, view, 8, bytes.length - 8);
    assert.ok(ev?.type === "chunk");
    return ev.chunk.conn;
  };
  // The same low half under two high halves: two sockets.
  assert.equal(keyOf(0xffff888104a3c000n), "sock:0xffff888104a3c000");
  assert.equal(keyOf(0xffff888204a3c000n), "sock:0xffff888204a3c000");
  assert.equal(keyOf(0xffff888104a3c000n), "sock:0xffff888104a3c000");
  // More sockets than the cache holds, then the first ones again.
  for (let i = 0n; i < 70_000n; i++) {
    const addr = 0xffff888300000000n + i * 0x40n;
    assert.equal(keyOf(addr), `sock:0x${addr.toString(16)}`);
  }
  assert.equal(keyOf(0xffff888204a3c000n), "sock:0xffff888204a3c000");
  assert.equal(keyOf(0x1n), "sock:0x1");
  assert.equal(keyOf(0x0n), "sock:0x0");
  // Addresses that share a slot of the cache in front of the maps, in turn.
  for (let round = 0; round < 2; round++) {
    assert.equal(keyOf(0xffff888104a3c000n), "sock:0xffff888104a3c000");
    assert.equal(keyOf(0xffff888104e3c000n), "sock:0xffff888104e3c000");
    assert.equal(keyOf(0xffff888204e3c000n), "sock:0xffff888204e3c000");
  }
});

Deno.test("decoder: an SSL's key is its address, kept apart from a socket's at the same one", () => {
  const { bytes, view } = record(data.fields["data"]!.offset, (v, f) => {
    v.setUint32(f("kind"), kinds["EVENT_DATA"]!, true);
  });
  const at = 8 + data.fields["conn"]!.offset, source = 8 + data.fields["source"]!.offset;
  const keyOf = (addr: bigint, plain = false) => {
    view.setBigUint64(at, addr, true);
    view.setUint8(source, plain ? sourceSocket : 0);
    const ev = decode(bytes, view, 8, bytes.length - 8);
    assert.ok(ev?.type === "chunk");
    assert.equal(ev.chunk.secure, !plain);
    return ev.chunk.conn;
  };
  for (let round = 0; round < 2; round++) {
    assert.equal(keyOf(0x55d0aa001230n), "0x55d0aa001230");
    assert.equal(keyOf(0x55d0aa001230n, true), "sock:0x55d0aa001230");
    assert.equal(keyOf(0x7f0000000040n), "0x7f0000000040");
    assert.equal(keyOf(0x40n), "0x40");
  }
  for (let i = 0n; i < 70_000n; i += 7n) {
    const addr = 0x55d000000000n + i * 0x440n;
    assert.equal(keyOf(addr), `0x${addr.toString(16)}`);
  }
});
