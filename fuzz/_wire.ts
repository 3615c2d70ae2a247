/**
 * Shared by the SQL wire fuzz harnesses: mutations of captured connections and a feeder
 * that replays them with random piece boundaries, gaps and direction interleavings.
 *
 * @module
 */
import type { StreamSink } from "../src/streams/reassembler.ts";
import type { CapturedPiece } from "../src/protocols/_testdata.ts";

/** A random source returning floats in [0, 1). */
export type Rand = () => number;

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

/** Mutates one piece's bytes. */
function mutateBytes(input: Uint8Array, rand: Rand, tokens: readonly Uint8Array[]): Uint8Array {
  const b = Array.from(input);
  const rounds = 1 + Math.floor(rand() * 3);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 7)) {
      case 0:
        if (b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(rand() * 256);
        break;
      case 1:
        b.splice(at, Math.floor(rand() * 16));
        break;
      case 2:
        b.splice(at, 0, ...b.slice(at, at + Math.floor(rand() * 32)));
        break;
      case 3:
        b.splice(at, 0, ...pick(rand, tokens));
        break;
      case 4:
        for (let k = Math.floor(rand() * 8); k > 0; k--) b.splice(at, 0, Math.floor(rand() * 256));
        break;
      case 5:
        b.length = Math.min(b.length, at);
        break;
      default: // a length field's high byte: implausible sizes
        if (b.length > 4) b[Math.min(at, b.length - 1)] = 0xff;
        break;
    }
  }
  return Uint8Array.from(b);
}

/** A mutated copy of a connection: some pieces changed, dropped, repeated or swapped. */
export function mutateConnection(
  conn: readonly CapturedPiece[],
  rand: Rand,
  tokens: readonly Uint8Array[],
): CapturedPiece[] {
  const out: CapturedPiece[] = [];
  for (const p of conn) {
    const r = rand();
    if (r < 0.04) continue; // vanished without a gap: what a wrong pairing would look like
    if (r < 0.2) out.push({ ...p, bytes: mutateBytes(p.bytes, rand, tokens) });
    else out.push(p);
    if (rand() < 0.03) out.push(p); // repeated
  }
  for (let k = 0; k < 2; k++) {
    if (rand() < 0.2 && out.length > 1) {
      const i = Math.floor(rand() * (out.length - 1));
      [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
    }
  }
  return out;
}

/**
 * Feeds pieces to two sinks with random sub-splits and gaps (known and lost); sometimes a
 * whole direction goes first. Times go up by piece.
 */
export function feed(
  conn: readonly CapturedPiece[],
  client: StreamSink,
  server: StreamSink,
  rand: Rand,
): void {
  const order = rand() < 0.15
    ? [...conn.filter((p) => p.dir === "s2c"), ...conn.filter((p) => p.dir === "c2s")]
    : conn;
  let t = 1n;
  for (const p of order) {
    const sink = p.dir === "c2s" ? client : server;
    const tid = p.dir === "c2s" ? 1 : 2;
    let pos = 0;
    const n = p.bytes.length;
    while (pos < n) {
      const len = 1 + Math.floor(rand() * Math.min(n - pos, rand() < 0.3 ? 4 : 256));
      if (rand() < 0.04) sink.gap(len, t, rand() < 0.5);
      else sink.data(p.bytes.subarray(pos, pos + len), t, tid);
      pos += len;
    }
    if (rand() < 0.005) sink.reset();
    t += BigInt(1 + Math.floor(rand() * 1000));
  }
}
