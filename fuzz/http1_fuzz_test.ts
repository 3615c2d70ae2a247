import assert from "node:assert/strict";
import { fuzzHttp1 } from "./http1_fuzz.ts";

Deno.test("fuzzHttp1: 5,000 mutated inputs, random splits and gaps, no throw", () => {
  const result = fuzzHttp1(5000, 0x5eed);
  assert.equal(result.iterations, 5000);
  // The corpus is mostly valid HTTP: plenty of messages must still come out, and the
  // mutations must have exercised the error paths too.
  assert.ok(result.messages > 1000, `only ${result.messages} messages`);
  assert.ok(result.problems > 100, `only ${result.problems} problems`);
});

Deno.test("fuzzHttp1: deterministic for a seed", () => {
  assert.deepEqual(fuzzHttp1(200, 7), fuzzHttp1(200, 7));
});
