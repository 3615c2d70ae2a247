import assert from "node:assert/strict";
import { RandomIdGenerator } from "./ids.ts";

Deno.test("ids: lower-case hex of the right length, not repeating", () => {
  const ids = new RandomIdGenerator();
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) { // crosses several refills of the pool
    const t = ids.traceId();
    const s = ids.spanId();
    assert.match(t, /^[0-9a-f]{32}$/);
    assert.match(s, /^[0-9a-f]{16}$/);
    assert.notEqual(t, "0".repeat(32));
    assert.notEqual(s, "0".repeat(16));
    seen.add(t).add(s);
  }
  assert.equal(seen.size, 4000);
});
