import assert from "node:assert/strict";
import { fuzzProcText } from "./proc_text_fuzz.ts";

Deno.test("fuzzProcText: 5,000 mutated /proc samples, no throw, well-formed results", () => {
  const r = fuzzProcText(5000, 0x5eed);
  assert.equal(r.iterations, 5000);
  // Most mutations leave a sample recognisable: ids and sockets must still come out.
  assert.ok(r.containers > 1000, `only ${r.containers} containers`);
  assert.ok(r.sockets > 200, `only ${r.sockets} sockets`);
});

Deno.test("fuzzProcText: deterministic for a seed", () => {
  assert.deepEqual(fuzzProcText(300, 7), fuzzProcText(300, 7));
});
