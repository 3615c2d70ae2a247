import assert from "node:assert/strict";
import { formatTraceparent, parseTraceparent } from "./traceparent.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";

Deno.test("traceparent: a valid header", () => {
  assert.deepEqual(parseTraceparent(`00-${TRACE}-${PARENT}-01`), {
    traceId: TRACE,
    parentId: PARENT,
    flags: 1,
  });
  assert.deepEqual(parseTraceparent(` 00-${TRACE}-${PARENT}-00 `)?.flags, 0);
});

Deno.test("traceparent: invalid headers", () => {
  const bad = [
    "",
    `01-${TRACE}-${PARENT}-01`, // only version 00
    `ff-${TRACE}-${PARENT}-01`,
    `00-${"0".repeat(32)}-${PARENT}-01`, // all-zero trace id
    `00-${TRACE}-${"0".repeat(16)}-01`, // all-zero parent id
    `00-${TRACE.toUpperCase()}-${PARENT}-01`, // upper-case hex
    `00-${TRACE.slice(1)}-${PARENT}-01`, // short trace id
    `00-${TRACE}-${PARENT}0-01`, // long parent id
    `00-${TRACE}-${PARENT}-01-extra`, // version 00 has exactly four fields
    `00_${TRACE}_${PARENT}_01`,
    `00-${TRACE.slice(0, 31)}g-${PARENT}-01`,
    `00-${TRACE}-${PARENT}-0x`,
  ];
  for (const v of bad) assert.equal(parseTraceparent(v), undefined, v);
});

Deno.test("traceparent: format round-trips", () => {
  const v = formatTraceparent(TRACE, PARENT);
  assert.equal(v, `00-${TRACE}-${PARENT}-01`);
  assert.equal(parseTraceparent(v)?.parentId, PARENT);
});
