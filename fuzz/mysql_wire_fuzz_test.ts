import assert from "node:assert/strict";
import { fuzzMysqlWire } from "./mysql_wire_fuzz.ts";

Deno.test("fuzzMysqlWire: 5,000 mutated captures, random splits, gaps and orders, no throw", () => {
  const result = fuzzMysqlWire(5000, 0x5eed);
  assert.equal(result.iterations, 5000);
  assert.ok(result.exchanges > 3000, `only ${result.exchanges} exchanges`);
  assert.ok(result.problems > 1000, `only ${result.problems} problems`);
});

Deno.test("fuzzMysqlWire: deterministic for a seed", () => {
  assert.deepEqual(fuzzMysqlWire(200, 7), fuzzMysqlWire(200, 7));
});
