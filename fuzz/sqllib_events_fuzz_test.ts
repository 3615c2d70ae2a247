import assert from "node:assert/strict";
import { fuzzSqlLibEvents } from "./sqllib_events_fuzz.ts";

Deno.test("fuzzSqlLibEvents: 5,000 mutated records decode or are rejected, never throw", () => {
  const r = fuzzSqlLibEvents(5000, 0x5eed);
  assert.equal(r.inputs, 5000);
  assert.equal(r.decoded + r.rejected, 5000);
  assert.ok(r.decoded > 0 && r.rejected > 0, JSON.stringify(r));
});
