/**
 * A small, fast, seedable pseudo-random generator (mulberry32) for fuzz harnesses and
 * randomised tests, so that a failing seed replays exactly.
 *
 * @example
 * ```ts
 * const random = mulberry32(42);
 * const byte = Math.floor(random() * 256);
 * ```
 *
 * @module
 */

/** Returns a generator of floats in [0, 1) determined by `seed`. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
