import assert from "node:assert/strict";
import { BpfError, BpfObject } from "./mod.ts";

const TLS = new URL("../bpf/out/capture.bpf.o", import.meta.url).pathname;

Deno.test("structLayout reads the event structs from the object's BTF", () => {
  const obj = BpfObject.open(TLS);
  try {
    const data = obj.structLayout("data_event");
    assert.deepEqual(data.fields["kind"], { offset: 0, size: 4 });
    assert.deepEqual(data.fields["ts_ns"], { offset: 16, size: 8 });
    assert.equal(data.fields["data"]!.size, 16384);
    assert.equal(data.size, data.fields["data"]!.offset + 16384);
    const sock = obj.structLayout("socket_event");
    assert.equal(sock.fields["peer_addr"]!.size, 16);
    assert.throws(() => obj.structLayout("no_such_struct"), /has no struct no_such_struct/);
  } finally {
    obj.close();
  }
});

Deno.test("libbpf failures become errors that name the call and errno", () => {
  assert.throws(
    () => BpfObject.open("/nonexistent/x.bpf.o"),
    (e) =>
      e instanceof BpfError &&
      /open BPF object "\/nonexistent\/x.bpf.o": No such file/.test(e.message),
  );
  const obj = BpfObject.open(TLS);
  try {
    assert.throws(
      () => obj.map("misspelt"),
      (e) => e instanceof BpfError && /find map "misspelt"/.test(e.message) && e.errno > 0,
    );
    assert.throws(() => obj.program("nope"), /find program "nope"/);
    assert.throws(
      () => obj.setConstants({ no_such_constant: 1 }),
      /has no constant "no_such_constant"/,
    );
  } finally {
    obj.close();
  }
});

Deno.test("constants, load, maps and an empty ring buffer", () => {
  const obj = BpfObject.open(TLS);
  try {
    obj.setConstants({ capture_bytes: 4096 });
    obj.load();
    assert.throws(() => obj.setConstants({ capture_bytes: 1 }), /after load/);
    const traced = obj.map("traced_tgids");
    const key = new Uint8Array(new Uint32Array([Deno.pid]).buffer);
    const value = new Uint8Array(4);
    assert.equal(traced.lookup(key, value), false);
    traced.update(key, new Uint8Array([7, 0, 0, 0]));
    assert.equal(traced.lookup(key, value), true);
    assert.equal(value[0], 7);
    assert.equal(traced.delete(key), true);
    const ring = obj.map("events").ringReader();
    assert.equal(ring.pending, 0);
    assert.equal(ring.consume(() => assert.fail("no records expected")), 0);
    ring.close();
  } finally {
    obj.close();
  }
});

// libbpf's log hook is process-wide, so this runs in a process of its own.
Deno.test("libbpf loads the object without a warning, and its log reaches the sink", async () => {
  const code = `
    import { BpfObject, setLogSink } from ${
    JSON.stringify(new URL("./mod.ts", import.meta.url).href)
  };
    const lines = [];
    setLogSink((level, line) => lines.push(level + ": " + line));
    const obj = BpfObject.open(${JSON.stringify(TLS)});
    obj.load();
    obj.close();
    try { BpfObject.open("/nonexistent.bpf.o"); } catch { /* logged */ }
    setLogSink(undefined);
    console.log(JSON.stringify(lines));
  `;
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", code] }).output();
  const lines: string[] = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.ok(lines.some((l) => /^debug: libbpf: /.test(l)), "debug lines arrive");
  assert.deepEqual(
    lines.filter((l) => l.startsWith("warn:") && !l.includes("/nonexistent.bpf.o")),
    [],
    "no warning while opening and loading the real object",
  );
  assert.ok(lines.some((l) => l.startsWith("warn:") && l.includes("/nonexistent.bpf.o")));
});
