import assert from "node:assert/strict";
import { keepTraceId, ParentBasedRatioSampler, ratioThreshold } from "./sampling.ts";
import { mulberry32 } from "./prng.ts";

function randomTraceId(rand: () => number): string {
  let s = "";
  for (let i = 0; i < 32; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

Deno.test("sampling: ratio 1 keeps all, 0 keeps none", () => {
  const rand = mulberry32(1);
  for (let i = 0; i < 100; i++) {
    const id = randomTraceId(rand);
    assert.equal(keepTraceId(id, 1), true);
    assert.equal(keepTraceId(id, 0), false);
  }
  assert.equal(ratioThreshold(1), 0n);
  assert.equal(ratioThreshold(0), 2n ** 56n);
  assert.equal(ratioThreshold(0.5), 2n ** 55n);
});

Deno.test("sampling: the decision reads the rightmost 56 bits, deterministically", () => {
  // randomness 0x80000000000000 = 2^55 sits exactly on the 0.5 threshold: kept.
  assert.equal(keepTraceId("ffffffffffffffffff80000000000000", 0.5), true);
  assert.equal(keepTraceId("ffffffffffffffffff7fffffffffffff", 0.5), false);
  // The leftmost 72 bits do not matter.
  assert.equal(keepTraceId("000000000000000000ffffffffffffff", 0.01), true);
  // Not a trace id: kept.
  assert.equal(keepTraceId("xyz", 0.5), true);
});

Deno.test("sampling: about the ratio of random trace ids are kept, and subsets nest", () => {
  const rand = mulberry32(42);
  const ids = Array.from({ length: 20_000 }, () => randomTraceId(rand));
  const at = (r: number) => ids.filter((id) => keepTraceId(id, r));
  const quarter = at(0.25);
  const half = at(0.5);
  assert.ok(Math.abs(quarter.length / ids.length - 0.25) < 0.02, `${quarter.length}`);
  assert.ok(Math.abs(half.length / ids.length - 0.5) < 0.02, `${half.length}`);
  // Consistent sampling: what a lower ratio keeps, a higher ratio keeps too.
  const halfSet = new Set(half);
  assert.ok(quarter.every((id) => halfSet.has(id)));
});

Deno.test("sampling: a remote parent's flag wins over the ratio", () => {
  const never = new ParentBasedRatioSampler(0);
  const always = new ParentBasedRatioSampler(1);
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  assert.equal(
    never.sample({ traceId, parentSpanId: "00f067aa0ba902b7", parentSampled: true }),
    true,
  );
  assert.equal(
    always.sample({ traceId, parentSpanId: "00f067aa0ba902b7", parentSampled: false }),
    false,
  );
  // Root, or parent flag unknown: by trace id.
  assert.equal(never.sample({ traceId, parentSpanId: "" }), false);
  assert.equal(never.sample({ traceId, parentSpanId: "00f067aa0ba902b7" }), false);
  assert.equal(always.sample({ traceId, parentSpanId: "" }), true);
  assert.deepEqual(never.counts, { kept: 1, dropped: 2 });
  assert.equal(new ParentBasedRatioSampler(7).ratio, 1);
  assert.equal(new ParentBasedRatioSampler(-1).ratio, 0);
});
