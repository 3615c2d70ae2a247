import assert from "node:assert/strict";
import { entryShift, isEmulated } from "./entry_site.ts";
import { walkInstructions } from "./go/x86_ret.ts";
import { openGoBinary } from "./go/go_binary.ts";
import { buildGoFixture, TEST_TOOLCHAINS } from "../../tests/go_fixtures.ts";

const bytes = (hex: string) => new Uint8Array(hex.split(" ").map((h) => parseInt(h, 16)));

Deno.test("entryShift: where the kernel emulates the probed instruction", () => {
  const cases: [string, string, number][] = [
    ["push rbp", "55 48 89 e5", 0],
    ["push r15", "41 57 41 56", 0],
    ["jmp", "e9 00 00 00 00", 0],
    ["endbr64; push rbp", "f3 0f 1e fa 55 48 89 e5", 4],
    ["endbr64; sub rsp", "f3 0f 1e fa 48 83 ec 18", 0],
    ["Go: cmp rsp, [r14+16]; jbe rel8", "49 3b 66 10 76 3a 55", 4],
    ["Go: cmp rsp, [r14+16]; jbe rel32", "49 3b 66 10 0f 86 10 01 00 00", 4],
    ["Go: lea r12, [rsp-0x58]; cmp r12, [r14+16]; jbe", "4c 8d 64 24 a8 4d 3b 66 10 0f 86", 9],
    ["Go: lea r12, [rsp-0x1000]; cmp; jbe", "4c 8d a4 24 00 f0 ff ff 4d 3b 66 10 76 05", 12],
    ["Go: cmp rsp, [r14+16] then no jump", "49 3b 66 10 48 89 c3", 0],
    ["sub rsp (OpenSSL's SSL_read)", "48 83 ec 18 64 48 8b 04 25", 0],
    ["lea r12 without the check", "4c 8d 64 24 a8 48 89 c3", 0],
    ["cut short", "49 3b 66", 0],
    ["empty", "", 0],
  ];
  for (const [what, code, shift] of cases) {
    assert.equal(entryShift(code ? bytes(code) : new Uint8Array()), shift, what);
  }
  assert.ok(!isEmulated(bytes("c3"), 0), "ret is stepped");
  assert.ok(!isEmulated(bytes("41 5f"), 0), "pop r15 is stepped");
});

for (const toolchain of TEST_TOOLCHAINS) {
  Deno.test(`entryShift: on every function of a ${toolchain} binary, an instruction boundary`, async () => {
    const built = buildGoFixture(toolchain, { stripped: true });
    assert.ok(built.ok, built.ok ? "" : built.error);
    const opened = await openGoBinary(built.path);
    assert.ok(opened.ok);
    using bin = opened.binary;
    const pcln = bin.pclntab();
    assert.ok(pcln.ok);
    let shifted = 0, functions = 0;
    for (const fn of pcln.table.functions()) {
      const code = bin.code(fn);
      if (code === undefined || code.length < 16) continue;
      functions++;
      const shift = entryShift(code);
      if (shift === 0) continue;
      shifted++;
      const starts = new Set<number>();
      walkInstructions(code.subarray(0, 32), (offset) => starts.add(offset));
      assert.ok(starts.has(shift), `${fn.name}: +${shift} is inside an instruction`);
      assert.ok(isEmulated(code, shift), fn.name);
    }
    // Go checks the stack bound first in all but its small leaf functions.
    assert.ok(shifted > functions / 2, `${shifted} of ${functions} functions shifted`);
    const serve = bin.findFunction("net/http.serverHandler.ServeHTTP");
    assert.ok(serve !== undefined);
    assert.ok(entryShift(bin.code(serve)!) > 0, "ServeHTTP's probe on its stack check's jump");
  });
}
