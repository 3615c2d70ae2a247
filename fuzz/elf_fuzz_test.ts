import assert from "node:assert/strict";
import { DEFAULT_FUZZ_INPUTS, fuzzElf } from "./elf_fuzz.ts";

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

Deno.test({
  name: "fuzz: 2,000 mutated ELF files never make the reader throw",
  ignore: !DEFAULT_FUZZ_INPUTS.some(exists),
  fn() {
    const report = fuzzElf(2000, 0x5eed);
    assert.deepEqual(report.failures.map((f) => `#${f.iteration}: ${f.message}`), []);
    assert.equal(report.iterations, 2000);
    assert.equal(report.opened + report.rejected, 2000);
    // The mutants reach past the headers: some open and yield symbols, some are rejected.
    assert.ok(report.opened > 100, `${report.opened} opened`);
    assert.ok(report.rejected > 10, `${report.rejected} rejected`);
    assert.ok(report.symbols > 1000, `${report.symbols} symbols`);
  },
});

Deno.test({
  name: "fuzz: the same seed gives the same run",
  ignore: !exists("/bin/true"),
  fn() {
    const inputs = [Deno.readFileSync("/bin/true")];
    // Everything but the timing of the slowest iteration.
    const run = (seed: number) => {
      const { slowest: _, ...rest } = fuzzElf(200, seed, { inputs });
      return rest;
    };
    const a = run(7);
    assert.deepEqual(run(7), a);
    // Another seed mutates differently (compared without the seed itself).
    assert.notDeepEqual({ ...run(8), seed: 0 }, { ...a, seed: 0 });
  },
});

Deno.test("fuzz: inputs that are not ELF at all are rejected, never thrown", () => {
  const report = fuzzElf(300, 3, { inputs: [new Uint8Array(100), new Uint8Array([0x7f, 0x45])] });
  assert.deepEqual(report.failures, []);
  assert.equal(report.rejected, 300);
});
