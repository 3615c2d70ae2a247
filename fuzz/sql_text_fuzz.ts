/**
 * A seeded fuzzer for the SQL text functions: random statements built from SQL fragments
 * (quotes of every kind, comments, dollar quotes, numbers, parameters) and random bytes,
 * checked for no throw, bounded output, and a sanitizer that is idempotent and never
 * lengthens its input.
 *
 * @module
 */
import { sanitizeSql, type SqlDialect, summarizeSql } from "../src/protocols/sql/sql_text.ts";
import { mulberry32 } from "../src/prng.ts";

/** What a fuzz run saw. */
export interface FuzzSqlTextResult {
  iterations: number;
  /** Inputs whose operation was recognised. */
  operations: number;
  /** Inputs whose main table was recognised. */
  collections: number;
}

const FRAGMENTS = [
  "SELECT ",
  "INSERT INTO ",
  "UPDATE ",
  "DELETE FROM ",
  "WITH x AS (",
  ")",
  "(",
  " FROM ",
  "users",
  '"Quoted ""id"',
  "`bt`",
  "public.",
  ".",
  ",",
  " WHERE a = ",
  "'str'",
  "'it''s'",
  "E'\\''",
  "$$dollar$$",
  "$tag$ in $tag$",
  "$1",
  "?",
  ":name",
  "12",
  "3.5e-2",
  "0xFF",
  "X'0A'",
  "-- line\n",
  "/* block /* nested */ */",
  "#hash\n",
  " ",
  "\n",
  ";",
  "'",
  '"',
  "$",
  "/*",
  "--",
  "\\",
  "TRUE",
  "NULL",
  "é",
  "\u{1F600}",
];
const DIALECTS: SqlDialect[] = ["postgresql", "mysql", "generic"];

/**
 * Runs `iterations` random cases from `seed`; throws on the first failure, naming the
 * iteration and seed.
 *
 * @example
 * ```ts
 * import { fuzzSqlText } from "./sql_text_fuzz.ts";
 * fuzzSqlText(100, 1).iterations; // 100
 * ```
 */
export function fuzzSqlText(iterations: number, seed: number): FuzzSqlTextResult {
  const rand = mulberry32(seed);
  let operations = 0;
  let collections = 0;
  for (let it = 0; it < iterations; it++) {
    let text = "";
    const parts = 1 + Math.floor(rand() * 20);
    for (let k = 0; k < parts; k++) {
      if (rand() < 0.15) text += String.fromCharCode(Math.floor(rand() * 256));
      else text += FRAGMENTS[Math.floor(rand() * FRAGMENTS.length)];
    }
    const dialect = DIALECTS[Math.floor(rand() * DIALECTS.length)]!;
    const maxLength = rand() < 0.3 ? 1 + Math.floor(rand() * 40) : 32768;
    try {
      const once = sanitizeSql(text, { dialect, maxLength });
      if (once.length > Math.min(text.length, maxLength)) {
        throw new Error(`fuzz: sanitized text grew: ${JSON.stringify(once)}`);
      }
      const twice = sanitizeSql(once, { dialect, maxLength });
      if (twice !== once) {
        throw new Error(`fuzz: not idempotent: ${JSON.stringify(once)} → ${JSON.stringify(twice)}`);
      }
      const s = summarizeSql(text, { dialect, maxLength });
      if (s.operation !== undefined) {
        if (s.operation !== s.operation.toUpperCase() || s.operation === "") {
          throw new Error(`fuzz: bad operation ${JSON.stringify(s.operation)}`);
        }
        operations++;
      }
      if (s.collection !== undefined) collections++;
    } catch (e) {
      throw new Error(
        `fuzzSqlText: iteration ${it} (seed ${seed}, ${dialect}) failed on ${JSON.stringify(text)}`,
        { cause: e },
      );
    }
  }
  return { iterations, operations, collections };
}
