import assert from "node:assert/strict";
import { importCalls } from "./elf_plt.ts";
import { openElf } from "./elf.ts";

const SOURCE = `#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) { puts(argv[0]); return abs(argc); }
`;

/** Builds the program with `flags`; the addresses objdump labels `name@plt`. */
async function build(dir: string, flags: string[]): Promise<string> {
  const exe = `${dir}/p${flags.join("").replaceAll(/\W/g, "")}`;
  const r = await new Deno.Command("gcc", {
    args: ["-O1", "-x", "c", "-", "-o", exe, ...flags],
    stdin: "piped",
    stderr: "piped",
  }).spawn();
  const w = r.stdin.getWriter();
  await w.write(new TextEncoder().encode(SOURCE));
  await w.close();
  const out = await r.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return exe;
}

async function objdumpPlt(exe: string, name: string): Promise<number[]> {
  const out = await new Deno.Command("objdump", { args: ["-d", exe], stdout: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  return [...text.matchAll(new RegExp(`^([0-9a-f]+) <${name}@plt>:`, "gm"))].map((m) =>
    parseInt(m[1]!, 16)
  );
}

const have = (cmd: string) =>
  ["/usr/bin/", "/bin/"].some((d) => {
    try {
      return Deno.statSync(d + cmd).isFile;
    } catch {
      return false;
    }
  });

Deno.test({
  name: "importCalls: each import's PLT stub, as objdump labels it, with and without IBT",
  ignore: !have("gcc") || !have("objdump"),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "upspan-plt-" });
    try {
      for (const flags of [["-fcf-protection=none"], ["-fcf-protection=full"], ["-Wl,-z,now"]]) {
        const exe = await build(dir, flags);
        const opened = await openElf(exe);
        if (!opened.ok) throw new Error(opened.error);
        using elf = opened.elf;
        const calls = importCalls(elf, ["puts", "not_imported"]);
        assert.ok(!calls.has("not_imported"));
        const labels = await objdumpPlt(exe, "puts");
        const puts = calls.get("puts")!;
        assert.equal(puts.direct, false, flags.join(" "));
        assert.equal(puts.stubs.length, 1, flags.join(" "));
        // The stub's `jmp *slot(%rip)`: its first instruction, or the one after endbr64.
        const stub = puts.stubs[0]!;
        assert.ok(labels.some((l) => stub === l || stub === l + 4), `${flags}: ${stub}`);
        const bytes = elf.read(elf.vaddrToOffset(stub)!, 3)!;
        assert.ok(
          (bytes[0] === 0xff && bytes[1] === 0x25) ||
            (bytes[0] === 0xf2 && bytes[1] === 0xff && bytes[2] === 0x25),
          `${flags}: ${bytes}`,
        );
      }
      // -fno-plt: called through its GOT slot, no stub sees every call.
      const exe = await build(dir, ["-fno-plt"]);
      const opened = await openElf(exe);
      if (!opened.ok) throw new Error(opened.error);
      using elf = opened.elf;
      assert.equal(importCalls(elf, ["puts"]).get("puts")?.direct, true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
