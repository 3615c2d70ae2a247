import assert from "node:assert/strict";
import { type Frame, type FrameFormat, LengthPrefixedFramer } from "./length_prefixed.ts";

/** A 3-byte header: type, 2-byte big-endian length; length 0xffff continues; `!` is single. */
function setup(keep = 64) {
  const got: Frame[] = [];
  const singles: number[] = [];
  let lost = 0;
  const format: FrameFormat = {
    headerSize: () => 3,
    start: (b) => {
      if (b !== 0x21) return false;
      singles.push(b);
      return true;
    },
    decode: (h) => {
      if (h[0] === 0) return null;
      const length = (h[1]! << 8) | h[2]!;
      return { type: h[0]!, seq: 0, length, keep, continues: length === 0xffff };
    },
    plausible: (b) => b[0] === 0x41,
  };
  const framer = new LengthPrefixedFramer(format, {
    onMessage: (f) => got.push({ ...f, body: f.body.slice() }),
    onLostFraming: () => lost++,
  });
  return { framer, got, singles, lost: () => lost };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("length-prefixed: headers and bodies split anywhere, times of first and last piece", () => {
  const { framer, got } = setup();
  const bytes = Uint8Array.of(0x41, 0, 2, 104, 105, 0x42, 0, 0);
  for (let i = 0; i < bytes.length; i++) framer.data(bytes.subarray(i, i + 1), BigInt(i), 7);
  assert.deepEqual(got.map((f) => [f.type, text(f.body), f.monoNs, f.endMonoNs]), [
    [0x41, "hi", 0n, 4n],
    [0x42, "", 5n, 7n],
  ]);
});

Deno.test("length-prefixed: a body longer than kept is truncated, its length whole", () => {
  const { framer, got } = setup(2);
  framer.data(Uint8Array.of(0x41, 0, 5, 1, 2, 3, 4, 5), 1n, 1);
  assert.equal(got[0]!.length, 5);
  assert.deepEqual([...got[0]!.body], [1, 2]);
  assert.equal(got[0]!.truncated, true);
});

Deno.test("length-prefixed: a gap inside a body truncates; one past it loses framing", () => {
  const { framer, got, lost } = setup();
  framer.data(Uint8Array.of(0x41, 0, 4, 1), 1n, 1);
  framer.gap(2, 2n);
  framer.data(Uint8Array.of(4), 3n, 1);
  assert.equal(got[0]!.truncated, true);
  assert.equal(lost(), 0);
  framer.data(Uint8Array.of(0x41, 0, 4, 1), 4n, 1);
  framer.gap(10, 5n);
  assert.equal(got.length, 2);
  assert.equal(lost(), 1);
  assert.equal(framer.resyncing, true);
  framer.data(Uint8Array.of(0x42, 0, 0), 6n, 1); // not plausible: skipped
  framer.data(Uint8Array.of(0x41, 0, 0), 7n, 1);
  assert.deepEqual(got.map((f) => f.monoNs), [1n, 4n, 7n]);
});

Deno.test("length-prefixed: a bad header resynchronises; a single byte is taken whole", () => {
  const { framer, got, singles } = setup();
  framer.data(Uint8Array.of(0x21, 0x41, 0, 0), 1n, 1);
  assert.deepEqual(singles, [0x21]);
  framer.data(Uint8Array.of(0, 0, 0, 0x41, 0, 0), 2n, 1);
  assert.equal(framer.resyncing, true);
  framer.data(Uint8Array.of(0x41, 0, 1, 9), 3n, 1);
  assert.deepEqual(got.map((f) => f.monoNs), [1n, 3n]);
});

Deno.test("length-prefixed: a continued payload is one message", () => {
  const { framer, got } = setup(4);
  framer.data(Uint8Array.of(0x41, 0xff, 0xff), 1n, 1);
  framer.data(new Uint8Array(0xffff).fill(7), 2n, 1);
  framer.data(Uint8Array.of(0x41, 0, 1, 8), 3n, 1);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.length, 0x10000);
  assert.deepEqual([got[0]!.monoNs, got[0]!.endMonoNs], [1n, 3n]);
});

Deno.test("length-prefixed: stopped parses nothing more", () => {
  const { framer, got } = setup();
  framer.stop();
  framer.data(Uint8Array.of(0x41, 0, 0), 1n, 1);
  assert.deepEqual(got, []);
  framer.reset();
  framer.data(Uint8Array.of(0x41, 0, 0), 2n, 1);
  assert.equal(got.length, 1);
});
