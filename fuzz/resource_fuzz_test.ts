import assert from "node:assert/strict";
import { fuzzResource } from "./resource_fuzz.ts";

Deno.test("fuzzResource: 5,000 mutated inputs, no throw, well-formed output", () => {
  const r = fuzzResource(5000, 0x5eed);
  assert.equal(r.iterations, 5000);
  assert.equal(r.problems, 0);
  assert.ok(r.attributes > 1000, `only ${r.attributes} attributes`);
  assert.ok(r.skipped > 100, `only ${r.skipped} skipped`);
  assert.ok(r.containerIds > 100, `only ${r.containerIds} container ids`);
});

Deno.test("fuzzResource: deterministic for a seed", () => {
  assert.deepEqual(fuzzResource(200, 7), fuzzResource(200, 7));
});
