import assert from "node:assert/strict";
import { decodeLength, findRets, walkInstructions } from "./x86_ret.ts";
import { openGoBinary } from "./go_binary.ts";
import { buildGoFixture, TEST_TOOLCHAINS } from "../../../tests/go_fixtures.ts";

const hex = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean), (h) => parseInt(h, 16));

Deno.test("decodeLength: encodings Go emits, checked against objdump by hand", () => {
  const cases: [string, number][] = [
    ["c3", 1], // ret
    ["f3 c3", 2], // rep ret
    ["c2 08 00", 3], // ret $8
    ["48 89 e5", 3], // mov %rsp,%rbp
    ["48 8b 44 24 08", 5], // mov 0x8(%rsp),%rax
    ["48 8b 84 24 c3 00 00 00", 8], // mov 0xc3(%rsp),%rax: disp32 holds C3
    ["b8 c3 00 00 00", 5], // mov $0xc3,%eax
    ["48 b8 c3 c3 c3 c3 c3 c3 c3 c3", 10], // movabs $…,%rax
    ["66 b8 c3 00", 4], // mov $0xc3,%ax
    ["48 c7 44 24 10 c3 00 00 00", 9], // movq $0xc3,0x10(%rsp)
    ["f6 c3 01", 3], // test $1,%bl: modrm is C3
    ["f7 c3 01 00 00 00", 6], // test $1,%ebx
    ["f6 d3", 2], // not %bl (no immediate)
    ["48 8d 05 c3 00 00 00", 7], // lea 0xc3(%rip),%rax
    ["e8 c3 00 00 00", 5], // call
    ["0f 84 c3 00 00 00", 6], // je rel32
    ["74 c3", 2], // je rel8
    ["65 48 8b 04 25 f8 ff ff ff", 9], // mov %gs:-8,%rax (SIB, no base)
    ["66 0f 1f 84 00 00 00 00 00", 9], // nopw 0x0(%rax,%rax,1)
    ["f3 0f 1e fa", 4], // endbr64
    ["c5 fe 6f 06", 4], // vmovdqu (%rsi),%ymm0
    ["c4 e3 7d 39 c1 01", 6], // vextracti128 $1,%ymm0,%xmm1
    ["62 f1 fe 48 6f 06", 6], // vmovdqu64 (%rsi),%zmm0
    ["66 0f 3a 0f c1 08", 6], // palignr $8,%xmm1,%xmm0
    ["66 0f 38 00 c1", 5], // pshufb %xmm1,%xmm0
    ["66 0f 70 c0 1b", 5], // pshufd $0x1b,%xmm0,%xmm0
    ["0f 05", 2], // syscall
    ["a1 00 00 00 00 00 00 00 00", 9], // movabs 0x0,%eax (moffs64)
    ["cc", 1], // int3
    ["c8 10 00 00", 4], // enter
  ];
  for (const [bytes, length] of cases) {
    assert.equal(decodeLength(hex(bytes), 0), length, bytes);
  }
  assert.equal(decodeLength(hex("06"), 0), 0, "push %es is invalid in 64-bit mode");
  assert.equal(decodeLength(hex("48 8b 84 24"), 0), 0, "truncated");
  assert.equal(decodeLength(hex("48 48 c3"), 0), 0, "two REX prefixes");
  assert.equal(decodeLength(new Uint8Array(0), 0), 0);
});

Deno.test("findRets: RET bytes inside other instructions are not returns", () => {
  // mov $0xc3,%eax; mov 0xc3(%rsp),%rax; test $1,%bl; rep ret; ret $8; int3
  const code = hex("b8 c3 00 00 00  48 8b 84 24 c3 00 00 00  f6 c3 01  f3 c3  c2 08 00  cc");
  const result = findRets(code);
  assert.ok(result.ok);
  assert.deepEqual(result.offsets, [16, 18]);
  assert.equal(result.instructions, 6);
  const bad = findRets(hex("c3 06 c3"));
  assert.ok(!bad.ok);
  assert.deepEqual(bad.offsets, [0]);
  assert.equal(bad.at, 1);
});

/** objdump's view of `.text`: every instruction address, and the addresses of RETs. */
async function objdump(path: string): Promise<{ starts: Set<number>; rets: Set<number> }> {
  const out = await new Deno.Command("objdump", {
    args: ["-d", "--no-show-raw-insn", "-j", ".text", path],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.ok(out.success, "objdump failed");
  const starts = new Set<number>();
  const rets = new Set<number>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^ +([0-9a-f]+):\t(.*)$/.exec(line);
    if (m === null) continue;
    const addr = parseInt(m[1]!, 16);
    starts.add(addr);
    if (/^((rep[a-z]*|bnd|data16|[a-z]s) )*ret[qw]?\b/.test(m[2]!)) rets.add(addr);
  }
  return { starts, rets };
}

/** Functions whose "code" is data (boringcrypto's signature markers): objdump guesses. */
const DATA_FUNCTIONS = /^crypto\/internal\/boring\/sig\./;

for (const toolchain of [...TEST_TOOLCHAINS, "go1.26.8-stripped"]) {
  Deno.test(`findRets ${toolchain}: every function's boundaries and RETs as objdump`, async () => {
    const [version, stripped] = toolchain.split("-");
    const built = buildGoFixture(version!, { stripped: stripped !== undefined });
    assert.ok(built.ok, built.ok ? "" : built.error);
    const opened = await openGoBinary(built.path);
    assert.ok(opened.ok);
    using bin = opened.binary;
    const pcln = bin.pclntab();
    assert.ok(pcln.ok);
    const dump = await objdump(built.path);
    let functions = 0;
    let rets = 0;
    const ours = new Set<number>();
    for (const fn of pcln.table.functions()) {
      const code = bin.code(fn);
      assert.ok(code !== undefined, fn.name);
      if (DATA_FUNCTIONS.test(fn.name)) continue;
      functions++;
      const stop = walkInstructions(code, (offset) => {
        assert.ok(dump.starts.has(fn.entry + offset), `${fn.name}+0x${offset.toString(16)}`);
      });
      assert.equal(stop, code.length, `${fn.name}: stopped at ${stop}`);
      const found = bin.retOffsets({ ...fn, fileOffset: bin.elf.vaddrToOffset(fn.entry)! });
      assert.ok(found.ok, found.ok ? "" : found.error);
      for (const offset of found.offsets) ours.add(fn.entry + offset);
      rets += found.offsets.length;
    }
    // The complete sets agree: no RET missed, none invented.
    const expected = [...dump.rets].filter((a) => {
      const fn = pcln.table.functionAt(a);
      return fn !== undefined && !DATA_FUNCTIONS.test(fn.name);
    });
    assert.equal(ours.size, rets);
    assert.deepEqual([...ours].sort(), expected.sort());
    assert.ok(functions > 3000 && rets > 5000, `${functions} functions, ${rets} RETs`);
  });
}

Deno.test("retOffsets: a probe function's RETs are file offsets of C3 bytes", async () => {
  const built = buildGoFixture("go1.22.12", { stripped: true });
  assert.ok(built.ok);
  const opened = await openGoBinary(built.path);
  assert.ok(opened.ok);
  using bin = opened.binary;
  const r = bin.retOffsets("net/http.serverHandler.ServeHTTP");
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.ok(r.offsets.length >= 1);
  const file = await Deno.readFile(built.path);
  for (const off of r.fileOffsets) assert.ok(file[off] === 0xc3 || file[off + 1] === 0xc3);
  const missing = bin.retOffsets("no.such.function");
  assert.ok(!missing.ok && /has no function no\.such\.function/.test(missing.error));
});
