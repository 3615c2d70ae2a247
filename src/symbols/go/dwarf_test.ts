import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { openGoBinary } from "./go_binary.ts";
import { decompressSection, parseDwarf } from "./dwarf.ts";
import { buildGoFixture, TEST_TOOLCHAINS } from "../../../tests/go_fixtures.ts";

async function open(toolchain: string, stripped = false) {
  const built = buildGoFixture(toolchain, { stripped });
  if (!built.ok) throw new Error(built.error);
  const opened = await openGoBinary(built.path);
  if (!opened.ok) throw new Error(opened.error);
  return opened.binary;
}

/** The offsets the fixture's own toolchain reports through reflect. */
async function reflectOffsets(path: string): Promise<Record<string, Record<string, number>>> {
  const out = await new Deno.Command(path, { args: ["offsets"], stdout: "piped" }).output();
  assert.ok(out.success, "the fixture could not report its offsets");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

for (const toolchain of TEST_TOOLCHAINS) {
  Deno.test(`dwarf ${toolchain}: struct offsets as reflect reports them`, async () => {
    using bin = await open(toolchain);
    const d = bin.dwarf();
    assert.ok(d.ok, d.ok ? "" : d.error);
    assert.deepEqual(d.dwarf.warnings, []);
    const expected = await reflectOffsets(bin.path);
    assert.ok(Object.keys(expected).length >= 15);
    for (const [struct, members] of Object.entries(expected)) {
      const ours = d.dwarf.structMembers(struct);
      assert.ok(ours !== undefined, `${struct} not in DWARF`);
      assert.deepEqual(Object.fromEntries(ours), members, struct);
    }
    assert.equal(d.dwarf.memberOffset("net/http.Request", "Method"), 0);
    assert.equal(
      d.dwarf.memberOffset("net/http.Request", "Pattern") !== undefined,
      toolchain === "go1.26.8",
      "Request.Pattern exists from Go 1.23 (not 1.22)",
    );
    assert.ok(d.dwarf.memberOffset("runtime.g", "goid")! > 0);
    assert.equal(d.dwarf.structMembers("net/http.NoSuchType"), undefined);
  });

  Deno.test(`dwarf ${toolchain}: function ranges agree with the function table`, async () => {
    using bin = await open(toolchain);
    const d = bin.dwarf();
    assert.ok(d.ok);
    const names = [
      "main.main",
      "net/http.serverHandler.ServeHTTP",
      "net/http.(*Transport).roundTrip",
      "crypto/tls.(*Conn).Write",
      "database/sql.(*DB).queryDC",
    ];
    for (const name of names) {
      const fn = bin.findFunction(name);
      const range = d.dwarf.functionRange(name);
      assert.ok(fn !== undefined && range !== undefined, name);
      assert.equal(range.lowPc, fn.entry, name);
      assert.ok(range.highPc > range.lowPc && range.highPc <= fn.end, name);
    }
  });
}

Deno.test("dwarf: a stripped binary says it has none", async () => {
  using bin = await open("go1.22.12", true);
  const d = bin.dwarf();
  assert.ok(!d.ok && /no DWARF.*-w/.test(d.error));
});

Deno.test("dwarf: compressed sections, both kinds, and damaged ones", () => {
  const plain = new TextEncoder().encode("hello DWARF");
  const z = deflateSync(plain);
  const chdr = new Uint8Array(24 + z.length);
  const v = new DataView(chdr.buffer);
  v.setUint32(0, 1, true);
  v.setUint32(8, plain.length, true);
  chdr.set(z, 24);
  assert.deepEqual(decompressSection(chdr, true, false), plain);
  const zdebug = new Uint8Array(12 + z.length);
  zdebug.set(new TextEncoder().encode("ZLIB"));
  new DataView(zdebug.buffer).setUint32(8, plain.length);
  zdebug.set(z, 12);
  assert.deepEqual(decompressSection(zdebug, false, true), plain);
  assert.deepEqual(decompressSection(plain, false, false), plain);
  v.setUint32(0, 2, true);
  assert.match(decompressSection(chdr, true, false) as string, /compression type 2/);
  v.setUint32(0, 1, true);
  chdr[30] = chdr[30]! ^ 0xff;
  chdr[31] = chdr[31]! ^ 0xff;
  assert.equal(typeof decompressSection(chdr, true, false), "string");
  assert.match(decompressSection(new Uint8Array(5), true, false) as string, /too short/);
});

Deno.test("dwarf: damaged .debug_info gives results, not exceptions", async () => {
  using bin = await open("go1.26.8");
  const d = bin.dwarf();
  assert.ok(d.ok);
  const empty = parseDwarf({ info: new Uint8Array(0), abbrev: new Uint8Array(0) });
  assert.ok(!empty.ok && /no readable compilation unit/.test(empty.error));
  const junk = parseDwarf({ info: new Uint8Array(64).fill(0x41), abbrev: new Uint8Array(8) });
  assert.ok(!junk.ok);
  // A unit length past the end.
  const bad = new Uint8Array(32);
  new DataView(bad.buffer).setUint32(0, 1000, true);
  const r = parseDwarf({ info: bad, abbrev: new Uint8Array(8) });
  assert.ok(!r.ok);
});
