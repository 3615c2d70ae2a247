import assert from "node:assert/strict";
import { openElf, parseElf } from "./elf.ts";
import type { ElfFile } from "./elf.ts";
import type { ElfSymbolTableKind } from "./elf_symbol.ts";
import { FileReader, MemoryReader } from "./elf_reader.ts";

const LIBSSL = "/lib/x86_64-linux-gnu/libssl.so.3";
const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
const NODE = "/usr/bin/node";
const TRUE = "/bin/true";

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const HAVE_READELF = (() => {
  try {
    return new Deno.Command("readelf", { args: ["--version"] }).outputSync().success;
  } catch {
    return false;
  }
})();

/** Tests that compare with readelf need both readelf and the file. */
function needs(...paths: string[]): boolean {
  return !HAVE_READELF || !paths.every(exists);
}

async function readelf(...args: string[]): Promise<string> {
  const out = await new Deno.Command("readelf", { args, stdout: "piped", stderr: "null" })
    .output();
  return new TextDecoder().decode(out.stdout);
}

interface ReadelfSymbol {
  index: number;
  value: number;
  size: number;
  type: string;
  binding: string;
  visibility: string;
  sectionIndex: number;
  name: string;
}

const SPECIAL_SECTIONS: Record<string, number> = { UND: 0, ABS: 0xfff1, COM: 0xfff2 };

/** Parses `readelf -W -s` / `--dyn-syms` output into rows per table, and declared counts. */
function parseReadelfSymbols(text: string): {
  rows: Map<ElfSymbolTableKind, ReadelfSymbol[]>;
  counts: Map<ElfSymbolTableKind, number>;
} {
  const rows = new Map<ElfSymbolTableKind, ReadelfSymbol[]>();
  const counts = new Map<ElfSymbolTableKind, number>();
  let table: ElfSymbolTableKind = "dynsym";
  for (const line of text.split("\n")) {
    const head = line.match(/^Symbol table '\.(dynsym|symtab)' contains (\d+) entries/);
    if (head) {
      table = head[1] as ElfSymbolTableKind;
      counts.set(table, Number(head[2]));
      rows.set(table, []);
      continue;
    }
    const m = line.match(
      /^\s*(\d+): ([0-9a-f]+)\s+(0x[0-9a-f]+|\d+) (\S+)\s+(\S+)\s+(\S+)\s+(\S+) ?(.*)$/,
    );
    if (!m) continue;
    rows.get(table)?.push({
      index: Number(m[1]),
      value: parseInt(m[2] as string, 16),
      size: Number(m[3]),
      type: m[4] as string,
      binding: m[5] as string,
      visibility: m[6] as string,
      sectionIndex: SPECIAL_SECTIONS[m[7] as string] ?? Number(m[7]),
      // Undefined versioned symbols carry a " (n)" version index suffix.
      name: (m[8] as string).replace(/ \(\d+\)$/, ""),
    });
  }
  return { rows, counts };
}

/** Asserts that every symbol of `table` matches readelf's row for it. */
function assertTableMatches(elf: ElfFile, table: ElfSymbolTableKind, rows: ReadelfSymbol[]) {
  const symbols = elf.symbols(table);
  assert.equal(symbols.length, rows.length, `${elf.path} ${table} count`);
  for (const row of rows) {
    const sym = symbols[row.index];
    assert.ok(sym, `${elf.path} ${table}[${row.index}] exists`);
    // readelf shows a section symbol by its section's name.
    const shown = sym.type === "SECTION" && sym.name === ""
      ? elf.sections[sym.sectionIndex]?.name
      : sym.versionedName;
    assert.deepEqual(
      {
        value: sym.value,
        size: sym.size,
        type: sym.type,
        binding: sym.binding,
        visibility: sym.visibility,
        sectionIndex: sym.sectionIndex,
        name: shown,
      },
      {
        value: row.value,
        size: row.size,
        type: row.type,
        binding: row.binding,
        visibility: row.visibility,
        sectionIndex: row.sectionIndex,
        name: row.name,
      },
      `${elf.path} ${table}[${row.index}]`,
    );
  }
}

async function readelfBuildId(path: string): Promise<string | undefined> {
  return (await readelf("-n", path)).match(/Build ID: ([0-9a-f]+)/)?.[1];
}

/** File offset of `vaddr` computed from readelf -lW's LOAD lines. */
async function readelfOffset(path: string, vaddr: number): Promise<number | undefined> {
  for (const line of (await readelf("-lW", path)).split("\n")) {
    const m = line.match(/^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+\S+\s+(0x[0-9a-f]+)/);
    if (!m) continue;
    const [offset, start, filesz] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (vaddr >= start && vaddr < start + filesz) return vaddr - start + offset;
  }
  return undefined;
}

async function mustOpen(path: string): Promise<ElfFile> {
  const opened = await openElf(path);
  if (!opened.ok) throw new Error(opened.error);
  return opened.elf;
}

function mustParse(bytes: Uint8Array): ElfFile {
  const parsed = parseElf(bytes);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.elf;
}

async function withTempFile<T>(bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ prefix: "upspan_elf_test_" });
  try {
    await Deno.writeFile(path, bytes);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

function setU16(bytes: Uint8Array, at: number, value: number) {
  new DataView(bytes.buffer, bytes.byteOffset).setUint16(at, value, true);
}

function setU64(bytes: Uint8Array, at: number, value: number) {
  new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(at, BigInt(value), true);
}

// --- real files against readelf -------------------------------------------------------

Deno.test({
  name: "libssl: every .dynsym entry matches readelf, with versioned names",
  ignore: needs(LIBSSL),
  async fn() {
    using elf = await mustOpen(LIBSSL);
    const { rows, counts } = parseReadelfSymbols(await readelf("-W", "--dyn-syms", LIBSSL));
    assert.equal(elf.symbols("dynsym").length, counts.get("dynsym"));
    assertTableMatches(elf, "dynsym", rows.get("dynsym") ?? []);
    assert.deepEqual(elf.symbols("symtab"), []); // stripped
    assert.deepEqual(elf.warnings, []);
  },
});

Deno.test({
  name: "libssl: SSL_read/SSL_write(_ex) resolve by bare and versioned names",
  ignore: needs(LIBSSL),
  async fn() {
    using elf = await mustOpen(LIBSSL);
    const { rows } = parseReadelfSymbols(await readelf("-W", "--dyn-syms", LIBSSL));
    for (const bare of ["SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"]) {
      const row = rows.get("dynsym")?.find((r) => r.name.startsWith(`${bare}@@`));
      assert.ok(row, `readelf lists ${bare}@@…`);
      const version = row.name.slice(bare.length + 2);
      assert.match(version, /^OPENSSL_/);
      const sym = elf.findSymbol(bare);
      assert.ok(sym, bare);
      assert.equal(sym.versionedName, row.name);
      assert.equal(sym.name, bare);
      assert.equal(sym.version, version);
      assert.equal(sym.defaultVersion, true);
      assert.equal(sym.value, row.value);
      assert.equal(sym.size, row.size);
      assert.equal(sym.type, "FUNC");
      assert.equal(sym.binding, "GLOBAL");
      assert.ok(sym.defined);
      assert.equal(sym.table, "dynsym");
      assert.deepEqual(elf.findSymbol(`${bare}@@${version}`), sym);
      assert.deepEqual(elf.findSymbol(`${bare}@${version}`), sym);
      assert.equal(elf.findSymbol(`${bare}@@OPENSSL_0.0.0`), undefined);
    }
    assert.equal(elf.findSymbol("SSL_no_such_function"), undefined);
    assert.equal(elf.findSymbol(""), undefined);
  },
});

Deno.test({
  name: "libssl: build id and SSL_write's file offset match readelf -n and -lW",
  ignore: needs(LIBSSL),
  async fn() {
    using elf = await mustOpen(LIBSSL);
    const id = elf.buildId();
    assert.match(id ?? "", /^[0-9a-f]{40}$/);
    assert.equal(id, await readelfBuildId(LIBSSL));
    const sym = elf.findSymbol("SSL_write");
    assert.ok(sym);
    const expected = await readelfOffset(LIBSSL, sym.value);
    assert.ok(expected !== undefined);
    assert.equal(elf.vaddrToOffset(sym.value), expected);
    // The offset really holds the function: its bytes equal those at readelf's offset.
    assert.deepEqual(
      elf.read(expected, 16),
      (await Deno.readFile(LIBSSL)).slice(expected, expected + 16),
    );
  },
});

Deno.test({
  name: "libc: .dynsym matches readelf; hidden and default versions are told apart",
  ignore: needs(LIBC),
  async fn() {
    using elf = await mustOpen(LIBC);
    const { rows, counts } = parseReadelfSymbols(await readelf("-W", "--dyn-syms", LIBC));
    assert.equal(elf.symbols("dynsym").length, counts.get("dynsym"));
    assertTableMatches(elf, "dynsym", rows.get("dynsym") ?? []);
    assert.equal(elf.buildId(), await readelfBuildId(LIBC));

    const malloc = elf.findSymbol("malloc");
    assert.equal(
      malloc?.versionedName,
      rows.get("dynsym")?.find((r) => r.name.startsWith("malloc@@"))?.name,
    );

    // A name with an old hidden version and a newer default one (memcpy on x86-64).
    const memcpys = (rows.get("dynsym") ?? []).filter((r) => /^memcpy@/.test(r.name));
    const hidden = memcpys.find((r) => !r.name.includes("@@"));
    const current = memcpys.find((r) => r.name.includes("@@"));
    if (hidden && current) {
      // The bare name binds to the default version, as the linker does, even an IFUNC.
      assert.equal(elf.findSymbol("memcpy")?.versionedName, current.name);
      assert.equal(elf.findSymbol("memcpy")?.type, current.type);
      const old = elf.findSymbol(hidden.name);
      assert.equal(old?.versionedName, hidden.name);
      assert.equal(old?.defaultVersion, false);
      assert.equal(old?.value, hidden.value);
      assert.equal(elf.findSymbol(hidden.name.replace("@", "@@")), undefined);
    }
  },
});

Deno.test({
  name: "node: symbol counts, both tables and SSL_write match readelf",
  ignore: needs(NODE),
  async fn() {
    using elf = await mustOpen(NODE);
    const { rows, counts } = parseReadelfSymbols(await readelf("-W", "-s", NODE));
    for (const table of ["dynsym", "symtab"] as const) {
      assert.equal(elf.symbols(table).length, counts.get(table), table);
      assertTableMatches(elf, table, rows.get(table) ?? []);
    }
    assert.equal(elf.buildId(), await readelfBuildId(NODE));
    const sym = elf.findSymbol("SSL_write");
    assert.ok(sym?.defined);
    assert.equal(sym.type, "FUNC");
    const row = rows.get("dynsym")?.find((r) => r.name === "SSL_write");
    assert.equal(sym.value, row?.value);
    assert.equal(elf.vaddrToOffset(sym.value), await readelfOffset(NODE, sym.value));
  },
});

Deno.test({
  name: "node: opening and resolving SSL_write reads a small part of the file",
  ignore: !exists(NODE),
  async fn() {
    const size = (await Deno.stat(NODE)).size;
    using elf = await mustOpen(NODE);
    assert.ok(elf.bytesRead < 64 * 1024, `opening read ${elf.bytesRead} bytes`);
    const sym = elf.findSymbol("SSL_write");
    assert.ok(sym);
    const offset = elf.vaddrToOffset(sym.value);
    assert.ok(offset !== undefined && offset > 0);
    elf.buildId();
    assert.ok(elf.bytesRead < 20 * 1024 * 1024, `read ${elf.bytesRead} of ${size} bytes`);
    assert.ok(elf.bytesRead < size / 5);
    // Cached: a second lookup reads nothing more.
    const before = elf.bytesRead;
    elf.findSymbol("SSL_read");
    assert.equal(elf.bytesRead, before);
  },
});

Deno.test({
  name: "parseElf and openElf read the same file the same way",
  ignore: !exists(TRUE),
  async fn() {
    using fromFile = await mustOpen(TRUE);
    const bytes = await Deno.readFile(TRUE);
    using fromMemory = mustParse(bytes);
    assert.deepEqual(fromMemory.header, fromFile.header);
    assert.deepEqual(fromMemory.sections, fromFile.sections);
    assert.deepEqual(fromMemory.programHeaders, fromFile.programHeaders);
    assert.deepEqual(fromMemory.symbols("dynsym"), fromFile.symbols("dynsym"));
    assert.equal(fromMemory.buildId(), fromFile.buildId());
    assert.equal(fromFile.header.machine, 62);
  },
});

Deno.test({
  name: "vaddrToOffset maps only file-backed bytes of PT_LOAD segments",
  ignore: !exists(TRUE),
  async fn() {
    using elf = mustParse(await Deno.readFile(TRUE));
    const text = elf.section(".text");
    assert.ok(text);
    assert.equal(elf.vaddrToOffset(text.addr), text.offset);
    const bss = elf.section(".bss");
    if (bss && bss.size > 0) assert.equal(elf.vaddrToOffset(bss.addr + bss.size - 1), undefined);
    assert.equal(elf.vaddrToOffset(-1), undefined);
    assert.equal(elf.vaddrToOffset(2 ** 60), undefined);
    assert.equal(elf.vaddrToOffset(0.5), undefined);
  },
});

Deno.test({
  name: "buildId falls back to PT_NOTE, and is undefined without a GNU build-id note",
  ignore: !exists(TRUE),
  async fn() {
    const bytes = await Deno.readFile(TRUE);
    const expected = mustParse(bytes).buildId();
    assert.match(expected ?? "", /^[0-9a-f]+$/);

    const elf = mustParse(bytes);
    const note = elf.section(".note.gnu.build-id");
    assert.ok(note);
    // Hide the section by giving it no name: the PT_NOTE segment still has the note.
    const renamed = bytes.slice();
    const sh = elf.header.shoff + note.index * elf.header.shentsize;
    renamed.fill(0, sh, sh + 4);
    using viaSegment = mustParse(renamed);
    assert.equal(viaSegment.section(".note.gnu.build-id"), undefined);
    assert.equal(viaSegment.buildId(), expected);

    // Change the note's type (n_type at +8): no build id anywhere.
    const retyped = bytes.slice();
    retyped[note.offset + 8] = 0x7e;
    using none = mustParse(retyped);
    assert.equal(none.buildId(), undefined);
  },
});

Deno.test({
  name: "readSection reads a section's bytes",
  ignore: !exists(TRUE),
  async fn() {
    using elf = await mustOpen(TRUE);
    const interp = elf.readSection(".interp");
    assert.ok(interp);
    assert.match(new TextDecoder().decode(interp), /^\/lib.*ld-linux.*\0$/);
    assert.equal(elf.readSection(".bss"), undefined);
    assert.equal(elf.readSection(".no-such-section"), undefined);
    assert.equal(elf.read(0, 2 ** 40), undefined);
  },
});

// --- bad input ------------------------------------------------------------------------

Deno.test("a missing path gives a sentence, not an exception", async () => {
  const result = await openElf("/nonexistent/upspan/libx.so");
  assert.deepEqual(result, { ok: false, error: "/nonexistent/upspan/libx.so does not exist" });
});

Deno.test("a directory is not an ELF file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await openElf(dir), {
      ok: false,
      error: `${dir} is a directory, not an ELF file`,
    });
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("a text file is not an ELF file", async () => {
  const text = new TextEncoder().encode("#!/bin/sh\necho hello, this is long enough\n");
  await withTempFile(text, async (path) => {
    assert.deepEqual(await openElf(path), { ok: false, error: `${path} is not an ELF file` });
  });
  assert.deepEqual(parseElf(text), { ok: false, error: "the input is not an ELF file" });
});

Deno.test("an empty file is rejected", async () => {
  await withTempFile(new Uint8Array(0), async (path) => {
    assert.deepEqual(await openElf(path), {
      ok: false,
      error: `${path} is empty, not an ELF file`,
    });
  });
});

Deno.test({
  name: "truncated headers are rejected with what is missing",
  ignore: !exists(TRUE),
  async fn() {
    const bytes = await Deno.readFile(TRUE);
    await withTempFile(bytes.slice(0, 40), async (path) => {
      assert.deepEqual(await openElf(path), {
        ok: false,
        error: `${path} is truncated: its ELF header needs 64 bytes but the file has 40`,
      });
    });
    const short = parseElf(bytes.slice(0, 10), { name: "/bin/x" });
    assert.deepEqual(short, {
      ok: false,
      error: "/bin/x is truncated: it ends inside the ELF identification, at 10 bytes",
    });
    // Headers intact, section header table cut off.
    const cut = parseElf(bytes.slice(0, bytes.length - 100), { name: "/bin/x" });
    assert.equal(cut.ok, false);
    if (!cut.ok) {
      assert.match(cut.error, /^\/bin\/x is truncated or corrupt: its section header table/);
    }
  },
});

Deno.test({
  name: "a 32-bit or big-endian ELF file is rejected by name",
  ignore: !exists(TRUE),
  async fn() {
    const bytes = await Deno.readFile(TRUE);
    const elf32 = bytes.slice();
    elf32[4] = 1; // EI_CLASS = ELFCLASS32
    await withTempFile(elf32, async (path) => {
      assert.deepEqual(await openElf(path), {
        ok: false,
        error: `${path} is a 32-bit ELF file; only 64-bit is supported`,
      });
    });
    const big = bytes.slice();
    big[5] = 2; // EI_DATA = ELFDATA2MSB
    assert.deepEqual(parseElf(big, { name: "/bin/x" }), {
      ok: false,
      error: "/bin/x is a big-endian ELF file; only little-endian is supported",
    });
    const odd = bytes.slice();
    odd[4] = 9;
    assert.deepEqual(parseElf(odd, { name: "/bin/x" }), {
      ok: false,
      error: "/bin/x has an invalid ELF class (9); only 64-bit is supported",
    });
  },
});

Deno.test({
  name: "out-of-range header tables are rejected",
  ignore: !exists(TRUE),
  async fn() {
    const bytes = await Deno.readFile(TRUE);
    const shoff = bytes.slice();
    setU64(shoff, 40, 2 ** 40); // e_shoff
    const a = parseElf(shoff, { name: "/bin/x" });
    assert.equal(a.ok, false);
    if (!a.ok) {
      assert.equal(
        a.error,
        `/bin/x is truncated or corrupt: its section header table at offset 0x10000000000 is past the end of the file (${bytes.length} bytes)`,
      );
    }
    const phoff = bytes.slice();
    setU64(phoff, 32, bytes.length - 8); // e_phoff
    const b = parseElf(phoff, { name: "/bin/x" });
    assert.equal(b.ok, false);
    if (!b.ok) {
      assert.match(
        b.error,
        /its program header table \(\d+ entries at offset 0x[0-9a-f]+\) runs past the end/,
      );
    }
    const shstrndx = bytes.slice();
    setU16(shstrndx, 62, 500); // e_shstrndx
    const c = parseElf(shstrndx, { name: "/bin/x" });
    assert.equal(c.ok, false);
    if (!c.ok) assert.match(c.error, /section name table index 500 is out of range/);
    const shentsize = bytes.slice();
    setU16(shentsize, 58, 10);
    const d = parseElf(shentsize, { name: "/bin/x" });
    assert.equal(d.ok, false);
    if (!d.ok) assert.match(d.error, /section header size is 10, expected 64/);
  },
});

Deno.test({
  name: "a symbol table outside the file gives no symbols and a warning, not an exception",
  ignore: !exists(TRUE),
  async fn() {
    const bytes = await Deno.readFile(TRUE);
    const good = mustParse(bytes);
    const dynsym = good.section(".dynsym");
    assert.ok(dynsym);
    const patched = bytes.slice();
    const sh = good.header.shoff + dynsym.index * good.header.shentsize;
    setU64(patched, sh + 24, 2 ** 50); // sh_offset
    using elf = mustParse(patched);
    assert.deepEqual(elf.symbols("dynsym"), []);
    assert.equal(elf.findSymbol("malloc"), undefined);
    assert.equal(elf.warnings.length, 1);
    assert.match(
      elf.warnings[0] ?? "",
      /^the input: section \d+ \(\.dynsym\) .* lies outside the file/,
    );

    // A string table out of range: symbols keep their values, names become "".
    const dynstr = good.sections[dynsym.link];
    assert.ok(dynstr);
    const noNames = bytes.slice();
    setU64(noNames, good.header.shoff + dynstr.index * good.header.shentsize + 32, 2 ** 40);
    using nameless = mustParse(noNames);
    const symbols = nameless.symbols("dynsym");
    assert.equal(symbols.length, good.symbols("dynsym").length);
    assert.ok(symbols.every((s) => s.name === ""));
    good.close();
  },
});

// --- handles --------------------------------------------------------------------------

Deno.test({
  name: "close releases the file; loaded data stays usable and new reads return nothing",
  ignore: !exists(TRUE),
  async fn() {
    const elf = await mustOpen(TRUE);
    const symbols = elf.symbols("dynsym");
    elf.close();
    elf.close();
    assert.deepEqual(elf.symbols("dynsym"), symbols);
    assert.equal(elf.read(0, 4), undefined);
    assert.equal(elf.buildId(), undefined); // not loaded before close
    assert.match(elf.warnings.join("\n"), /could not be read: the file is closed/);
  },
});

Deno.test("readers return undefined for ranges outside the source", async () => {
  const memory = new MemoryReader(new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(memory.readAt(1, 2), new Uint8Array([2, 3]));
  assert.equal(memory.readAt(3, 2), undefined);
  assert.equal(memory.readAt(-1, 1), undefined);
  assert.equal(memory.readAt(0, Number.MAX_SAFE_INTEGER + 2), undefined);
  assert.equal(memory.bytesRead, 2);
  await withTempFile(new Uint8Array([9, 8, 7]), async (path) => {
    const file = await Deno.open(path);
    const reader = new FileReader(file, 3);
    assert.deepEqual(reader.readAt(1, 2), new Uint8Array([8, 7]));
    assert.equal(reader.readAt(2, 2), undefined);
    assert.equal(reader.bytesRead, 2);
    reader.close();
    reader.close();
    assert.equal(reader.readAt(0, 1), undefined);
  });
});
