import assert from "node:assert/strict";
import { fuzzSqlText } from "./sql_text_fuzz.ts";

Deno.test("fuzzSqlText: 5,000 random statements, no throw, sanitizer idempotent and bounded", () => {
  const result = fuzzSqlText(5000, 0x5eed);
  assert.equal(result.iterations, 5000);
  assert.ok(result.operations > 1000, `only ${result.operations} operations`);
  assert.ok(result.collections > 50, `only ${result.collections} collections`);
});

Deno.test("fuzzSqlText: deterministic for a seed", () => {
  assert.deepEqual(fuzzSqlText(200, 7), fuzzSqlText(200, 7));
});
