import assert from "node:assert/strict";
import { fuzzGoBinary, goFuzzSamples } from "./go_binary_fuzz.ts";

const samples = await goFuzzSamples();

Deno.test("fuzzGoBinary: 5,000 mutated build infos, function tables and DWARF units", () => {
  const report = fuzzGoBinary(5000, 0x5eed, samples);
  assert.deepEqual(report.failures, []);
  // Every parser saw both outcomes: the mutations reach past the header checks.
  for (const part of [report.buildInfo, report.pclntab, report.dwarf]) {
    assert.ok(part.ok > 100, JSON.stringify(report));
    assert.ok(part.rejected > 20, JSON.stringify(report));
  }
  assert.ok(report.pclntab.functions > 10_000);
  assert.ok(report.dwarf.members > 100);
});

Deno.test("fuzzGoBinary: deterministic for a seed", () => {
  const a = fuzzGoBinary(300, 7, samples);
  const b = fuzzGoBinary(300, 7, samples);
  assert.deepEqual(a, b);
});
