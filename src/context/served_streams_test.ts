import assert from "node:assert/strict";
import { ServedStreams, type StandIn } from "./served_streams.ts";
import type { TraceContext } from "../model/trace_context.ts";

const CONN = "127.0.0.1:50000>127.0.0.1:50051";
const standIn = (n: number): StandIn => ({
  traceId: "a".repeat(31) + n,
  spanId: "b".repeat(15) + n,
});
const call = (n: number): TraceContext => ({
  traceId: "c".repeat(31) + n,
  spanId: "d".repeat(15) + n,
  parentSpanId: "",
});

function joins(streams: ServedStreams): [StandIn, TraceContext][] {
  const out: [StandIn, TraceContext][] = [];
  streams.onJoin = (s, c) => out.push([s, c]);
  return out;
}

Deno.test("ServedStreams: joins a handler and its call, whichever comes first", () => {
  const streams = new ServedStreams();
  const seen = joins(streams);
  streams.handler(7, CONN, 1, standIn(1));
  streams.served(7, CONN, 1, call(1));
  streams.served(7, CONN, 3, call(3));
  streams.handler(7, CONN, 3, standIn(3));
  assert.deepEqual(seen, [[standIn(1), call(1)], [standIn(3), call(3)]]);
  assert.equal(streams.size, 0);
});

Deno.test("ServedStreams: another stream, connection or process is not the same call", () => {
  const streams = new ServedStreams();
  const seen = joins(streams);
  streams.handler(7, CONN, 1, standIn(1));
  streams.served(7, CONN, 3, call(3));
  streams.served(8, CONN, 1, call(1));
  streams.served(7, "127.0.0.1:50001>127.0.0.1:50051", 1, call(1));
  assert.deepEqual(seen, []);
  assert.equal(streams.size, 4);
});

Deno.test("ServedStreams: what waited too long is not joined, and is dropped", () => {
  let now = 0;
  const streams = new ServedStreams({ maxAgeMs: 1000, now: () => now });
  const seen = joins(streams);
  streams.handler(7, CONN, 1, standIn(1));
  now = 1500;
  streams.served(7, CONN, 1, call(1)); // the handler's side is too old: this one waits
  assert.deepEqual(seen, []);
  streams.handler(7, CONN, 3, standIn(3)); // waiting drops what is too old
  now = 3000;
  streams.handler(7, CONN, 1, standIn(1)); // the call waited too long: not joined either
  assert.deepEqual(seen, []);
  assert.equal(streams.size, 1);
});

Deno.test("ServedStreams: a stream seen to carry no call lets its handler go, whichever comes first", () => {
  const streams = new ServedStreams();
  const seen = joins(streams);
  const gone: StandIn[] = [];
  streams.onNotServed = (s) => gone.push(s);
  streams.handler(7, CONN, 1, standIn(1));
  streams.notServed(7, CONN, 1);
  streams.notServed(7, CONN, 3);
  streams.handler(7, CONN, 3, standIn(3));
  streams.notServed(7, CONN, 5); // no handler waits on it: it is dropped in time
  assert.deepEqual(gone, [standIn(1), standIn(3)]);
  assert.deepEqual(seen, []);
  assert.equal(streams.size, 1);
});
