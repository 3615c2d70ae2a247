import assert from "node:assert/strict";
import { fuzzRegistry } from "./registry_fuzz.ts";

Deno.test("fuzzRegistry: 1,000 mutated conversations of every protocol through the registry, no throw", () => {
  const result = fuzzRegistry(1000, 0x5eed);
  assert.equal(result.iterations, 1000);
  // Most pieces stay intact: more than a span per conversation must still come out.
  assert.ok(result.spans > result.iterations, `only ${result.spans} spans`);
});

Deno.test("fuzzRegistry: deterministic for a seed", () => {
  assert.deepEqual(fuzzRegistry(100, 7), fuzzRegistry(100, 7));
});
