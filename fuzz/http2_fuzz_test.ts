import assert from "node:assert/strict";
import { fuzzHttp2 } from "./http2_fuzz.ts";

Deno.test("fuzzHttp2: 3,000 mutated, cut, gapped and mid-way replays, no throw, no invented field", () => {
  const r = fuzzHttp2(3000, 0x5eed);
  assert.deepEqual(r.problems, []);
  // Mostly real captures: plenty of exchanges and spans must still come out, and the
  // honest (unmutated) replays must have checked many decoded fields.
  assert.ok(r.exchanges > 1000, `only ${r.exchanges} exchanges`);
  assert.ok(r.spans > 500, `only ${r.spans} spans`);
  assert.ok(r.fieldsChecked > 5000, `only ${r.fieldsChecked} fields checked`);
});

Deno.test("fuzzHttp2: deterministic for a seed", () => {
  assert.deepEqual(fuzzHttp2(150, 7), fuzzHttp2(150, 7));
});
