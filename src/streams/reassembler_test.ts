import assert from "node:assert/strict";
import { type StreamPart, StreamReassembler } from "./reassembler.ts";

type Piece = { bytes: string; monoNs: bigint } | { gap: number; lost: boolean; monoNs: bigint } | {
  reset: true;
};

function setup(options: ConstructorParameters<typeof StreamReassembler>[1] = {}) {
  const pieces: Piece[] = [];
  const counters = { duplicateChunks: 0, outOfOrderChunks: 0 };
  const r = new StreamReassembler({
    data: (b, monoNs) => pieces.push({ bytes: new TextDecoder().decode(b), monoNs }),
    gap: (gap, monoNs, lost) => pieces.push({ gap, lost, monoNs }),
    reset: () => pieces.push({ reset: true }),
  }, { counters, ...options });
  return { r, pieces, counters };
}

function chunk(pos: number, text: string, monoNs = 1n, callEnd?: number, last = true): StreamPart {
  const data = new TextEncoder().encode(text);
  return { pos, data, callEnd: callEnd ?? pos + data.length, last, monoNs, tid: 1 };
}

/** Text with gaps shown as <gap N>. */
function flat(pieces: Piece[]): string {
  return pieces.map((p) =>
    "bytes" in p ? p.bytes : "gap" in p ? `<${p.lost ? "lost" : "gap"} ${p.gap}>` : "<reset>"
  ).join("");
}

Deno.test("stream: in-order chunks pass straight through", () => {
  const { r, pieces, counters } = setup();
  r.push(chunk(0, "abc", 5n));
  r.push(chunk(3, "def", 6n));
  assert.deepEqual(pieces, [{ bytes: "abc", monoNs: 5n }, { bytes: "def", monoNs: 6n }]);
  assert.equal(r.position, 6);
  assert.deepEqual(counters, { duplicateChunks: 0, outOfOrderChunks: 0 });
});

Deno.test("stream: a known truncation is a gap right after the captured bytes", () => {
  const { r, pieces } = setup();
  r.push(chunk(0, "HTTP", 1n, 1_000_000));
  assert.deepEqual(pieces, [{ bytes: "HTTP", monoNs: 1n }, {
    gap: 999_996,
    lost: false,
    monoNs: 1n,
  }]);
  r.push(chunk(1_000_000, "next", 2n));
  assert.equal(flat(pieces), "HTTP<gap 999996>next");
});

Deno.test("stream: callEnd on a chunk that is not the call's last is not a gap yet", () => {
  const { r, pieces } = setup();
  r.push(chunk(0, "ab", 1n, 10, false));
  r.push(chunk(2, "cd", 1n, 10, true));
  assert.equal(flat(pieces), "abcd<gap 6>");
});

Deno.test("stream: an empty chunk that skips bytes is a pure gap", () => {
  const { r, pieces } = setup();
  r.push(chunk(0, "", 1n, 40));
  assert.equal(flat(pieces), "<gap 40>");
});

Deno.test("stream: duplicates and overlaps are trimmed", () => {
  const { r, pieces, counters } = setup();
  r.push(chunk(0, "abcdef"));
  r.push(chunk(2, "cd")); // fully seen
  r.push(chunk(4, "efgh")); // half seen
  r.push(chunk(0, "abc", 0n)); // late duplicate of the first chunk (older): not a reset
  assert.equal(flat(pieces), "abcdefgh");
  assert.equal(counters.duplicateChunks, 3);
});

Deno.test("stream: out-of-order chunks are held and released in order", () => {
  const { r, pieces, counters } = setup();
  r.push(chunk(6, "ghi", 3n));
  r.push(chunk(3, "def", 2n));
  assert.equal(pieces.length, 0);
  assert.equal(r.pendingChunks, 2);
  assert.equal(r.pendingBytes, 6);
  r.push(chunk(0, "abc", 1n));
  assert.deepEqual(pieces, [
    { bytes: "abc", monoNs: 1n },
    { bytes: "def", monoNs: 2n },
    { bytes: "ghi", monoNs: 3n },
  ]);
  assert.equal(counters.outOfOrderChunks, 2);
  assert.equal(r.pendingChunks, 0);
  assert.equal(r.pendingBytes, 0);
});

Deno.test("stream: held chunks that overlap each other are trimmed on release", () => {
  const { r, pieces } = setup();
  r.push(chunk(4, "efgh"));
  r.push(chunk(2, "cdef"));
  r.push(chunk(4, "ef")); // same start, shorter: a duplicate
  r.push(chunk(0, "ab"));
  assert.equal(flat(pieces), "abcdefgh");
});

Deno.test("stream: a held chunk with a known truncation keeps its gap", () => {
  const { r, pieces } = setup();
  r.push(chunk(3, "def", 2n, 100));
  r.push(chunk(0, "abc", 1n));
  assert.equal(flat(pieces), "abcdef<gap 94>");
});

Deno.test("stream: a hole becomes a lost gap after maxWaitNs", () => {
  const { r, pieces } = setup({ maxWaitNs: 50n });
  r.push(chunk(0, "abc", 100n));
  r.push(chunk(10, "klm", 110n)); // bytes 3..9 lost
  r.tick(140n);
  assert.equal(flat(pieces), "abc");
  r.tick(160n);
  assert.equal(flat(pieces), "abc<lost 7>klm");
  assert.deepEqual(pieces[1], { gap: 7, lost: true, monoNs: 110n });
  // the hole's late bytes are now duplicates
  r.push(chunk(3, "defghij", 111n));
  r.push(chunk(13, "n", 120n));
  assert.equal(flat(pieces), "abc<lost 7>klmn");
});

Deno.test("stream: waiting is measured from arrival, not from the call's time", () => {
  const { r, pieces } = setup({ maxWaitNs: 50n });
  r.tick(1000n); // the consumer is running 900 ns behind the calls
  r.push(chunk(0, "a", 100n));
  r.push(chunk(5, "f", 101n));
  r.tick(1020n);
  assert.equal(flat(pieces), "a");
  r.tick(1050n);
  assert.equal(flat(pieces), "a<lost 4>f");
});

Deno.test("stream: too many held chunks or bytes release the first hole", () => {
  const byCount = setup({ maxPendingChunks: 2 });
  byCount.r.push(chunk(0, "a"));
  byCount.r.push(chunk(2, "c"));
  byCount.r.push(chunk(4, "e"));
  assert.equal(flat(byCount.pieces), "a");
  byCount.r.push(chunk(6, "g"));
  assert.equal(flat(byCount.pieces), "a<lost 1>c");
  assert.equal(byCount.r.pendingChunks, 2);

  const byBytes = setup({ maxPendingBytes: 5 });
  byBytes.r.push(chunk(10, "abc"));
  byBytes.r.push(chunk(20, "def"));
  assert.equal(flat(byBytes.pieces), "<lost 10>abc");
  assert.equal(byBytes.r.pendingBytes, 3);
});

Deno.test("stream: flush gives up every hole", () => {
  const { r, pieces } = setup();
  r.push(chunk(2, "c"));
  r.push(chunk(5, "f"));
  r.flush();
  assert.equal(flat(pieces), "<lost 2>c<lost 2>f");
  assert.equal(r.position, 6);
});

Deno.test("stream: pos 0 again on a used stream is a new connection", () => {
  const { r, pieces } = setup();
  r.push(chunk(0, "old", 1n));
  r.push(chunk(10, "held", 2n));
  r.push(chunk(0, "new", 3n));
  assert.equal(flat(pieces), "old<reset>new");
  assert.equal(r.pendingChunks, 0);
  assert.equal(r.position, 3);
  r.push(chunk(3, "er", 4n));
  assert.equal(flat(pieces), "old<reset>newer");
});

Deno.test("stream: the first chunk may arrive after later ones without a reset", () => {
  const { r, pieces } = setup();
  r.push(chunk(3, "def", 2n));
  r.push(chunk(0, "abc", 1n));
  assert.equal(flat(pieces), "abcdef");
});

Deno.test("stream: a held chunk's bytes are copied", () => {
  const { r, pieces } = setup();
  const c = chunk(3, "def");
  r.push(c);
  c.data.fill(0x78); // the caller reuses its buffer
  r.push(chunk(0, "abc"));
  assert.equal(flat(pieces), "abcdef");
});
