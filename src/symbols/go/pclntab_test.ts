import assert from "node:assert/strict";
import { openGoBinary, parseGoBinary } from "./go_binary.ts";
import { parsePclntab } from "./pclntab.ts";
import {
  buildGoFixture,
  buildOldGoFixture,
  goTool,
  TEST_TOOLCHAINS,
} from "../../../tests/go_fixtures.ts";

function fixture(toolchain: string, stripped = false): string {
  const built = buildGoFixture(toolchain, { stripped });
  if (!built.ok) throw new Error(built.error);
  return built.path;
}

async function open(path: string) {
  const opened = await openGoBinary(path);
  if (!opened.ok) throw new Error(opened.error);
  return opened.binary;
}

/** Text symbols `go tool nm` lists: address → names. */
function nmText(toolchain: string, path: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const line of goTool(toolchain, ["tool", "nm", path]).split("\n")) {
    const m = /^\s*([0-9a-f]+) ([Tt]) (.+)$/.exec(line);
    if (m === null) continue;
    const addr = parseInt(m[1]!, 16);
    out.set(addr, [...(out.get(addr) ?? []), m[3]!]);
  }
  return out;
}

for (const toolchain of TEST_TOOLCHAINS) {
  Deno.test(`pclntab ${toolchain}: every function matches go tool nm, stripped or not`, async () => {
    using bin = await open(fixture(toolchain));
    using stripped = await open(fixture(toolchain, true));
    const pcln = bin.pclntab();
    assert.ok(pcln.ok, pcln.ok ? "" : pcln.error);
    const nm = nmText(toolchain, bin.path);
    const functions = [...pcln.table.functions()];
    assert.equal(functions.length, pcln.table.count);
    assert.equal(pcln.table.damaged, 0);
    const seen = new Set<number>();
    for (const [i, fn] of functions.entries()) {
      const names = nm.get(fn.entry);
      assert.ok(names !== undefined, `${fn.name} at 0x${fn.entry.toString(16)} is not in nm`);
      // nm marks the ABI0 half of a wrapper pair with ".abi0"; the table does not.
      // nm prints the middle dot of generated names (type:.eq.T·1) as a plain dot.
      const plain = fn.name.replaceAll("·", ".");
      assert.ok(
        names.some((n) => n === plain || n === `${plain}.abi0`),
        `${fn.name} at 0x${fn.entry.toString(16)}: nm says ${names.join(", ")}`,
      );
      assert.ok(fn.end > fn.entry, fn.name);
      if (i + 1 < functions.length) assert.equal(fn.end, functions[i + 1]!.entry);
      seen.add(fn.entry);
    }
    // nm's text symbols that are not functions: section markers only.
    const missing = [...nm].filter(([addr]) => !seen.has(addr)).flatMap(([, n]) => n);
    for (const name of missing) {
      assert.ok(
        /^(runtime\.(e?text|etext)|go:buildid|go\.buildid)$/.test(name) || name.startsWith("go:"),
        `nm has ${name} but the table does not`,
      );
    }
    // The stripped build has the same functions at the same addresses.
    const sp = stripped.pclntab();
    assert.ok(sp.ok, sp.ok ? "" : sp.error);
    const strippedFns = [...sp.table.functions()];
    assert.deepEqual(
      strippedFns.map((f) => `${f.name}@${f.entry}-${f.end}`),
      functions.map((f) => `${f.name}@${f.entry}-${f.end}`),
    );
    assert.equal(stripped.elf.findSymbol("runtime.text"), undefined, "really stripped");
  });

  Deno.test(`pclntab ${toolchain}: findFunction gives the nm address and a file offset`, async () => {
    using bin = await open(fixture(toolchain, true));
    const nm = nmText(toolchain, fixture(toolchain));
    const names = [
      "net/http.serverHandler.ServeHTTP",
      "net/http.(*Transport).roundTrip",
      "crypto/tls.(*Conn).Read",
      "crypto/tls.(*Conn).Write",
      "database/sql.(*DB).queryDC",
      "database/sql.(*DB).execDC",
      "main.main",
      "runtime.osinit",
    ];
    const found = bin.findFunctions(names);
    for (const name of names) {
      const fn = found.get(name);
      assert.ok(fn !== undefined, `${name} not found`);
      // For a wrapper pair the Go-ABI function wins: the one nm lists without ".abi0".
      assert.ok(nm.get(fn.entry)?.includes(name), `${name} at 0x${fn.entry.toString(16)}`);
      assert.equal(fn.fileOffset, bin.elf.vaddrToOffset(fn.entry));
      assert.deepEqual(bin.findFunction(name), fn);
    }
    assert.equal(bin.findFunction("net/http.serverHandler.ServeHTTPX"), undefined);
    assert.equal(bin.findFunction("net/http.serverHandler.ServeHTT"), undefined);
    assert.equal(bin.findFunction(""), undefined);
    const fn = found.get("main.main")!;
    assert.equal(bin.pclntab().ok && bin.pclntab().ok, true);
    const pcln = bin.pclntab();
    if (pcln.ok) assert.equal(pcln.table.functionAt(fn.entry + 1)?.name, "main.main");
  });
}

Deno.test("pclntab go1.26: the header has no text start; it comes from the binary", async () => {
  using bin = await open(fixture("go1.26.8"));
  using stripped = await open(fixture("go1.26.8", true));
  const bytes = bin.elf.readSection(".gopclntab")!;
  // Word 2 of the header (textStart before Go 1.26) is zero.
  assert.deepEqual([...bytes.subarray(24, 32)], [0, 0, 0, 0, 0, 0, 0, 0]);
  const bare = parsePclntab(bytes);
  assert.ok(!bare.ok && /runtime\.text/.test(bare.error));
  const text = bin.elf.findSymbol("runtime.text")!.value;
  const pcln = stripped.pclntab();
  assert.ok(pcln.ok);
  assert.equal(pcln.table.textStart, text);
});

Deno.test("pclntab go1.19: the Go 1.18 layout (magic 0xfffffff0) is read", async () => {
  const built = buildOldGoFixture("go1.19.13");
  assert.ok(built.ok, built.ok ? "" : built.error);
  using bin = await open(built.path);
  const pcln = bin.pclntab();
  assert.ok(pcln.ok, pcln.ok ? "" : pcln.error);
  assert.equal(pcln.table.version, "1.18");
  const nm = nmText("go1.19.13", built.path);
  for (
    const name of ["main.main", "main.main.func1", "net/http.(*ServeMux).Handle", "runtime.main"]
  ) {
    const fn = bin.findFunction(name);
    assert.ok(fn !== undefined, name);
    assert.ok(nm.get(fn.entry)?.includes(name), name);
  }
});

Deno.test("pclntab go1.16: too old, a clear error", async () => {
  const built = buildOldGoFixture("go1.16.15");
  assert.ok(built.ok, built.ok ? "" : built.error);
  using bin = await open(built.path);
  const pcln = bin.pclntab();
  assert.ok(!pcln.ok);
  assert.match(pcln.error, /Go 1\.16 to 1\.17 layout.*only Go 1\.18 and later/);
  assert.equal(bin.findFunction("main.main"), undefined);
  const rets = bin.retOffsets("main.main");
  assert.ok(!rets.ok && /1\.16/.test(rets.error));
});

Deno.test("pclntab: damaged tables give error results", async () => {
  const path = fixture("go1.22.12", true);
  using bin = await open(path);
  const section = bin.elf.section(".gopclntab")!;
  const original = await Deno.readFile(path);

  const corrupt = (at: number, bytes: number[]) => {
    const copy = original.slice();
    copy.set(bytes, section.offset + at);
    const opened = parseGoBinary(copy, "damaged");
    assert.ok(opened.ok);
    return opened.binary.pclntab();
  };
  const badMagic = corrupt(0, [0x12, 0x34, 0x56, 0x78]);
  assert.ok(!badMagic.ok && /unknown magic 0x78563412/.test(badMagic.error));
  const badPtr = corrupt(7, [3]);
  assert.ok(!badPtr.ok && /pointer size 3/.test(badPtr.error));
  const hugeCount = corrupt(8, [0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0]);
  assert.ok(!hugeCount.ok && /claims \d+ functions/.test(hugeCount.error));
  const badFuncs = corrupt(64, [0xff, 0xff, 0xff, 0x7f]);
  assert.ok(!badFuncs.ok && /function list is outside/.test(badFuncs.error));

  // A damaged function record is skipped, not reported as a function.
  const copy = original.slice();
  const table = copy.subarray(section.offset, section.offset + section.size);
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const pclnOff = Number(view.getBigUint64(64, true));
  view.setUint32(pclnOff + 4, 0xfffffff0, true); // function 0's record: far outside
  const opened = parseGoBinary(copy, "damaged");
  assert.ok(opened.ok);
  const pcln = opened.binary.pclntab();
  assert.ok(pcln.ok);
  assert.equal([...pcln.table.functions()].length, pcln.table.count - 1);
  assert.equal(pcln.table.damaged, 1);

  // Truncated inside the table.
  const truncated = parseGoBinary(original.slice(0, section.offset + 100), "truncated");
  const error = truncated.ok
    ? (truncated.binary.pclntab() as { error?: string }).error
    : truncated.error;
  assert.match(error ?? "parsed", /truncated|outside the file|no Go function table/);
});

Deno.test("pclntab: non-Go and non-ELF files", async () => {
  const notGo = await openGoBinary("/bin/true");
  assert.ok(!notGo.ok && /not a Go executable/.test(notGo.error));
  const missing = await openGoBinary("/nonexistent/upspan-go");
  assert.ok(!missing.ok && /does not exist/.test(missing.error));
  const notElf = parseGoBinary(new TextEncoder().encode("#!/bin/sh\necho hi\n"));
  assert.ok(!notElf.ok && /not an ELF file/.test(notElf.error));
  assert.ok(!parsePclntab(new Uint8Array(3)).ok);
});

Deno.test("pclntab and buildinfo without section headers: found by scanning", async () => {
  for (const toolchain of ["go1.22.12", "go1.26.8"]) {
    const built = buildGoFixture(toolchain, { stripped: true });
    assert.ok(built.ok);
    using whole = await open(built.path);
    const expected = whole.findFunction("net/http.serverHandler.ServeHTTP")!;
    const copy = (await Deno.readFile(built.path)).slice();
    const header = new DataView(copy.buffer);
    header.setBigUint64(40, 0n, true); // e_shoff
    header.setUint16(60, 0, true); // e_shnum
    header.setUint16(62, 0, true); // e_shstrndx
    const opened = parseGoBinary(copy, "no sections");
    assert.ok(opened.ok, opened.ok ? "" : opened.error);
    using bin = opened.binary;
    assert.equal(bin.elf.sections.length, 0);
    assert.equal(bin.version, toolchain);
    assert.deepEqual(bin.findFunction("net/http.serverHandler.ServeHTTP"), expected, toolchain);
  }
});
