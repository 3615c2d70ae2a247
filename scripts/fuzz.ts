/**
 * Runs every fuzz harness of a parser of untrusted bytes at full count (deterministic
 * seeds): `deno task fuzz [ITERATIONS] [SEED]`. Exits non-zero on any failure. The test
 * suite runs the same harnesses at a reduced count.
 *
 * @module
 */
import { fuzzElf } from "../src/symbols/elf_fuzz.ts";
import { fuzzHttp1 } from "../src/spans/http1_fuzz.ts";

const iterations = Number(Deno.args[0] ?? 1_000_000);
const seed = Number(Deno.args[1] ?? 1);
let failed = false;

let t0 = performance.now();
const elf = fuzzElf(iterations, seed);
console.log(
  `ELF:    ${elf.iterations} inputs, seed ${seed}, ${elf.opened} opened, ${elf.rejected} rejected, ` +
    `${elf.failures.length} failures, slowest ${elf.slowest.ms.toFixed(1)} ms, ` +
    `${((performance.now() - t0) / 1000).toFixed(0)} s, rss ${
      (Deno.memoryUsage().rss / 2 ** 20).toFixed(0)
    } MiB`,
);
for (const f of elf.failures) console.log(`  iteration ${f.iteration}: ${f.message}`);
failed ||= elf.failures.length > 0;

t0 = performance.now();
try {
  const http = fuzzHttp1(iterations, seed);
  console.log(
    `HTTP/1: ${http.iterations} inputs, seed ${seed}, ${http.messages} messages, ` +
      `${http.problems} problems reported, 0 failures, ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s, ` +
      `rss ${(Deno.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
} catch (e) {
  console.log(`HTTP/1: failure: ${(e as Error).message}`);
  failed = true;
}
Deno.exit(failed ? 1 : 0);
