import assert from "node:assert/strict";
import { fuzzPostgresWire } from "./postgres_wire_fuzz.ts";

Deno.test("fuzzPostgresWire: 5,000 mutated captures, random splits, gaps and orders, no throw", () => {
  const result = fuzzPostgresWire(5000, 0x5eed);
  assert.equal(result.iterations, 5000);
  // Most pieces stay intact: plenty of exchanges must still come out, and the mutations
  // must have exercised the error paths too.
  assert.ok(result.exchanges > 5000, `only ${result.exchanges} exchanges`);
  assert.ok(result.problems > 1000, `only ${result.problems} problems`);
});

Deno.test("fuzzPostgresWire: deterministic for a seed", () => {
  assert.deepEqual(fuzzPostgresWire(200, 7), fuzzPostgresWire(200, 7));
});
