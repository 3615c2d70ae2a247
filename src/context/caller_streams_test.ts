import assert from "node:assert/strict";
import { CallerStreams } from "./caller_streams.ts";

const CONN = "127.0.0.1:50000>127.0.0.1:50051";
const ctx = (n: number) => ({ traceId: "a".repeat(31) + n, spanId: "b".repeat(15) + n });

Deno.test("CallerStreams: a call's head takes the caller of its stream, once", () => {
  const callers = new CallerStreams();
  callers.caller(7, CONN, 1, () => ctx(1));
  callers.caller(7, CONN, 3, () => ctx(3));
  assert.deepEqual(callers.callerOf(7, CONN, 3), ctx(3));
  assert.deepEqual(callers.callerOf(7, CONN, 1), ctx(1));
  assert.equal(callers.callerOf(7, CONN, 1), undefined, "taken");
  assert.equal(callers.size, 0);
});

Deno.test("CallerStreams: another stream, connection or process is not the same call", () => {
  const callers = new CallerStreams();
  callers.caller(7, CONN, 1, () => ctx(1));
  assert.equal(callers.callerOf(7, CONN, 3), undefined);
  assert.equal(callers.callerOf(8, CONN, 1), undefined);
  assert.equal(callers.callerOf(7, "127.0.0.1:50001>127.0.0.1:50051", 1), undefined);
  assert.equal(callers.size, 1);
});

Deno.test("CallerStreams: a head that finds nothing reads Go's ring once, then goes on", () => {
  const callers = new CallerStreams();
  let reads = 0;
  callers.refresh = () => {
    reads++;
    if (reads === 1) callers.caller(7, CONN, 1, () => ctx(1));
  };
  assert.deepEqual(callers.callerOf(7, CONN, 1), ctx(1), "told by the read");
  assert.equal(callers.callerOf(7, CONN, 3), undefined);
  assert.equal(reads, 2);
});

Deno.test("CallerStreams: a caller not yet settled, or too old, gives no parent", () => {
  let now = 0;
  const callers = new CallerStreams({ maxAgeMs: 2000, now: () => now });
  callers.caller(7, CONN, 1, () => undefined);
  assert.equal(callers.callerOf(7, CONN, 1), undefined);
  callers.caller(7, CONN, 3, () => ctx(3));
  now = 2001;
  assert.equal(callers.callerOf(7, CONN, 3), undefined);
  callers.caller(7, CONN, 5, () => ctx(5)); // the old one is dropped as this one waits
  assert.equal(callers.size, 1);
});
