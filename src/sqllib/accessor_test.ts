import assert from "node:assert/strict";
import { decodeAccessor } from "./accessor.ts";
import { readLibrary } from "./locate.ts";
import { SQL_ACCESSORS } from "./probes.ts";
import { openElf } from "../symbols/mod.ts";

const b = (...x: number[]) => new Uint8Array(x);

Deno.test("decodeAccessor: the forms accessors compile to", () => {
  // PQresultStatus: test %rdi,%rdi; je; mov 0x28(%rdi),%eax
  assert.deepEqual(decodeAccessor(b(0x48, 0x85, 0xff, 0x74, 0x0b, 0x8b, 0x47, 0x28, 0xc3)), {
    kind: "load",
    offset: 0x28,
    size: 4,
  });
  // PQcmdStatus: xor %edx,%edx; lea 0x2c(%rdi),%rax
  assert.deepEqual(decodeAccessor(b(0x31, 0xd2, 0x48, 0x8d, 0x47, 0x2c)), {
    kind: "lea",
    offset: 0x2c,
  });
  // PQntuples: mov (%rdi),%eax
  assert.deepEqual(decodeAccessor(b(0x8b, 0x07, 0xc3)), { kind: "load", offset: 0, size: 4 });
  // endbr64; mov 0xa8(%rdi),%rax
  assert.deepEqual(decodeAccessor(b(0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x8b, 0x87, 0xa8, 0, 0, 0)), {
    kind: "load",
    offset: 0xa8,
    size: 8,
  });
  // sqlite3_stmt_busy: cmpb $0x2,0xc5(%rdi)
  assert.deepEqual(
    decodeAccessor(
      b(0x31, 0xc0, 0x48, 0x85, 0xff, 0x74, 0x0c, 0x31, 0xc0, 0x80, 0xbf, 0xc5, 0, 0, 0, 2),
    ),
    {
      kind: "cmp",
      offset: 0xc5,
      size: 1,
      immediate: 2,
    },
  );
});

Deno.test("decodeAccessor: anything else is not guessed", () => {
  assert.equal(decodeAccessor(b()), undefined);
  assert.equal(decodeAccessor(b(0x55, 0x48, 0x89, 0xe5)), undefined); // push %rbp: a real function
  assert.equal(decodeAccessor(b(0x8b, 0x46, 0x28)), undefined); // relative to %rsi
  assert.equal(decodeAccessor(b(0x8b, 0x4f, 0x28)), undefined); // into %ecx
  assert.equal(decodeAccessor(b(0x8b, 0x87, 0x90)), undefined); // cut displacement
  assert.equal(
    decodeAccessor(
      b(
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x74,
        0x00,
        0x8b,
        0x07,
      ),
    ),
    undefined,
  );
});

/** The file `ldconfig -p` names for a soname, "" if none. */
function librarySo(soname: string): string {
  const out = new Deno.Command("ldconfig", { args: ["-p"], stdout: "piped" }).outputSync();
  const line = new TextDecoder().decode(out.stdout).split("\n")
    .find((l) => l.trim().startsWith(`${soname} (libc6,x86-64)`));
  return line?.split(" => ")[1]?.trim() ?? "";
}

function run(cmd: string, args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/**
 * What objdump makes of an accessor's first instructions: the displacement from %rdi of
 * the member it loads (`mov 0x28(%rdi),%eax`), addresses (`lea 0x2c(%rdi),%rax`) or compares
 * (`cmpb $0x2,0xc5(%rdi)`, with the immediate).
 */
function objdumpAccessor(
  path: string,
  address: number,
  kind: "load" | "lea" | "cmp",
): { offset: number; immediate?: number } | undefined {
  const text = run("objdump", [
    "-d",
    "--no-show-raw-insn",
    `--start-address=${address}`,
    `--stop-address=${address + 32}`,
    path,
  ]);
  const disp = (d: string | undefined) => d === undefined ? 0 : parseInt(d, 16);
  for (const line of text.split("\n")) {
    const ins = line.split("\t").slice(1).join(" ").trim();
    let m;
    if (kind === "load" && (m = /^mov[lq]?\s+(?:0x([0-9a-f]+))?\(%rdi\),%[er]ax$/.exec(ins))) {
      return { offset: disp(m[1]) };
    }
    if (kind === "lea" && (m = /^lea\s+(?:0x([0-9a-f]+))?\(%rdi\),%rax$/.exec(ins))) {
      return { offset: disp(m[1]) };
    }
    if (kind === "cmp" && (m = /^cmpb\s+\$0x([0-9a-f]+),(?:0x([0-9a-f]+))?\(%rdi\)$/.exec(ins))) {
      return { offset: disp(m[2]), immediate: parseInt(m[1]!, 16) };
    }
  }
  return undefined;
}

// The installed libraries: each member offset readLibrary decodes, checked against objdump's
// reading of the same accessor (found by objdump's own dynamic symbol table).
for (
  const [soname, library] of [
    ["libpq.so.5", "libpq"],
    ["libmariadb.so.3", "mysql"],
    ["libsqlite3.so.0", "sqlite"],
  ] as const
) {
  const path = librarySo(soname);
  Deno.test({
    name: `readLibrary: ${library} offsets from ${path || soname} agree with objdump`,
    ignore: path === "",
    fn: async () => {
      const dynsym = run("objdump", ["-T", path]);
      const opened = await openElf(path);
      assert.ok(opened.ok);
      try {
        const facts = readLibrary(opened.elf, library, path);
        assert.ok(typeof facts !== "string", String(facts));
        for (const spec of SQL_ACCESSORS[library]) {
          const sym = new RegExp(
            `^([0-9a-f]+) g\\s+DF \\.text\\s+\\S+\\s+\\S+\\s+${spec.symbol}$`,
            "m",
          )
            .exec(dynsym);
          assert.ok(sym, `${spec.symbol} in objdump -T`);
          const seen = objdumpAccessor(path, parseInt(sym[1]!, 16), spec.kind);
          assert.ok(seen, `objdump: no ${spec.kind} from %rdi in ${spec.symbol}`);
          assert.equal(facts.offsets[spec.field], seen.offset, spec.field);
          if (spec.field === "lite_state") {
            assert.equal(facts.offsets.lite_run_state, seen.immediate);
          }
        }
        assert.ok(facts.sites.every((s) => s.offset > 0));
      } finally {
        opened.elf.close();
      }
    },
  });
}
