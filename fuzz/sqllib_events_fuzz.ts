/**
 * Seeded fuzzing of {@linkcode sqlLibEventDecoder} and {@linkcode SqlLibStatements}: the
 * records carry texts copied from the target's memory, so damaged records must give error
 * results, never a throw. Real-shaped records of every kind are mutated (bytes flipped,
 * lengths changed, records cut or extended) and fed through decoding and pairing.
 *
 * @module
 */
import { mulberry32 } from "../src/prng.ts";
import { sqlLibEventDecoder, type SqlLibEventTypes } from "../src/sqllib/events.ts";
import { SqlLibStatements } from "../src/sqllib/statements.ts";
import { sampleRecords, sqllibTestTypes } from "../src/sqllib/_test_events.ts";

/** What a fuzz run did. */
export interface SqlLibEventFuzzResult {
  inputs: number;
  decoded: number;
  rejected: number;
  statements: number;
}

/**
 * Runs `iterations` mutated records through the decoder and the pairing.
 *
 * @example
 * ```ts
 * import { fuzzSqlLibEvents } from "./sqllib_events_fuzz.ts";
 * const r = fuzzSqlLibEvents(1000, 1);
 * r.inputs; // 1000
 * ```
 */
export function fuzzSqlLibEvents(
  iterations: number,
  seed: number,
  types: SqlLibEventTypes = sqllibTestTypes(),
): SqlLibEventFuzzResult {
  const rand = mulberry32(seed);
  const decode = sqlLibEventDecoder(types);
  const samples = sampleRecords(types);
  let decoded = 0, rejected = 0, statements = 0;
  const pairing = new SqlLibStatements(() => statements++, { maxEntries: 64 });
  for (let i = 0; i < iterations; i++) {
    const base = samples[Math.floor(rand() * samples.length)]!;
    let bytes = base.slice();
    const mutations = 1 + Math.floor(rand() * 4);
    for (let m = 0; m < mutations; m++) {
      const what = rand();
      if (what < 0.5 && bytes.length > 0) {
        bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      } else if (what < 0.7) {
        bytes = bytes.slice(0, Math.floor(rand() * (bytes.length + 1)));
      } else if (what < 0.85) {
        const extra = new Uint8Array(Math.floor(rand() * 64));
        for (let k = 0; k < extra.length; k++) extra[k] = Math.floor(rand() * 256);
        const grown = new Uint8Array(bytes.length + extra.length);
        grown.set(bytes);
        grown.set(extra, bytes.length);
        bytes = grown;
      } else if (bytes.length >= 4) {
        // a plausible but wrong 32-bit field (text_len, kind, code…)
        const at = Math.floor(rand() * (bytes.length - 3)) & ~3;
        new DataView(bytes.buffer).setUint32(at, Math.floor(rand() * 2 ** 32), true);
      }
    }
    const r = decode(bytes, new DataView(bytes.buffer), 0, bytes.length);
    if (r.ok) {
      decoded++;
      pairing.push(r.event);
    } else rejected++;
  }
  return { inputs: iterations, decoded, rejected, statements };
}
