import assert from "node:assert/strict";
import { ReceivedHeaders } from "./received_headers.ts";

const T = "4bf92f3577b34da6a3ce929d0e0e4736";
const server = { traceId: T, spanId: "1111111111111111", parentSpanId: "00f067aa0ba902b7" };

Deno.test("ReceivedHeaders: a header is known in the process that received it, nowhere else", () => {
  const h = new ReceivedHeaders();
  h.received(10, T, "00f067aa0ba902b7", server);
  assert.equal(h.receivedBy(10, T, "00f067aa0ba902b7"), server);
  assert.equal(h.receivedBy(11, T, "00f067aa0ba902b7"), undefined);
  assert.equal(h.receivedBy(10, T, "00f067aa0ba902b8"), undefined);
});

Deno.test("ReceivedHeaders: bounded, the oldest forgotten first", () => {
  const h = new ReceivedHeaders();
  for (let i = 0; i < 10_001; i++) h.received(i, T, "00f067aa0ba902b7", server);
  assert.equal(h.receivedBy(0, T, "00f067aa0ba902b7"), undefined);
  assert.equal(h.receivedBy(10_000, T, "00f067aa0ba902b7"), server);
});
