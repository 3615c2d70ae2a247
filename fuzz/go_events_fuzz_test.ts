import assert from "node:assert/strict";
import { fuzzGoEvents } from "./go_events_fuzz.ts";

Deno.test("fuzzGoEvents: 5,000 mutated records, no throw, no overlong text", () => {
  const result = fuzzGoEvents(5000, 0x5eed);
  assert.equal(result.iterations, 5000);
  assert.equal(result.problems, 0);
  assert.ok(result.events > 1000, `only ${result.events} events decoded`);
  assert.ok(result.rejected > 100, `only ${result.rejected} records rejected`);
});

Deno.test("fuzzGoEvents: deterministic for a seed", () => {
  assert.deepEqual(fuzzGoEvents(200, 7), fuzzGoEvents(200, 7));
});
