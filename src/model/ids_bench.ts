/**
 * Cost of a span's two new ids as printed (the JSON line flattens them), against building
 * each id from two-digit strings, the way ids were made before.
 * Run with `deno bench src/model/ids_bench.ts`.
 *
 * @module
 */
import { RandomIdGenerator } from "./ids.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const random = new Uint8Array(4096);
let at = random.length;
/** The baseline: one two-digit string per byte, joined. */
function joined(bytes: number): string {
  if (at + bytes > random.length) {
    crypto.getRandomValues(random);
    at = 0;
  }
  let s = "";
  for (let i = at; i < at + bytes; i++) s += HEX[random[i]!]!;
  at += bytes;
  return s;
}

const ids = new RandomIdGenerator();
let printed = 0;

Deno.bench("trace id + span id, printed: joined two-digit strings", { baseline: true }, () => {
  for (let i = 0; i < 1000; i++) printed += JSON.stringify(joined(16) + joined(8)).length;
});

Deno.bench("trace id + span id, printed: slices of one hex string", () => {
  for (let i = 0; i < 1000; i++) printed += JSON.stringify(ids.traceId() + ids.spanId()).length;
});
