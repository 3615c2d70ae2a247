/**
 * Runs every fuzz harness of a parser of untrusted bytes at full count (deterministic
 * seeds): `deno task fuzz [ITERATIONS] [SEED] [NAME,…]`. Exits non-zero on any failure.
 * The test suite runs the same harnesses at a reduced count.
 *
 * @module
 */
import { fuzzElf } from "../fuzz/elf_fuzz.ts";
import { fuzzHttp1 } from "../fuzz/http1_fuzz.ts";
import { fuzzHttp2 } from "../fuzz/http2_fuzz.ts";
import { fuzzPostgresWire } from "../fuzz/postgres_wire_fuzz.ts";
import { fuzzMysqlWire } from "../fuzz/mysql_wire_fuzz.ts";
import { fuzzRegistry } from "../fuzz/registry_fuzz.ts";
import { fuzzSqlText } from "../fuzz/sql_text_fuzz.ts";
import { fuzzGoBinary, goFuzzSamples } from "../fuzz/go_binary_fuzz.ts";
import { fuzzProcText } from "../fuzz/proc_text_fuzz.ts";
import { fuzzResource } from "../fuzz/resource_fuzz.ts";
import { fuzzGoEvents } from "../fuzz/go_events_fuzz.ts";
import { fuzzSqlLibEvents } from "../fuzz/sqllib_events_fuzz.ts";

const iterations = Number(Deno.args[0] ?? 1_000_000);
const seed = Number(Deno.args[1] ?? 1);
const only = Deno.args[2]?.split(",");

/** One harness: runs `n` inputs and says what it saw; a failure is a thrown error or a list. */
type Harness = (n: number, seed: number) => Promise<{ summary: string; failures: string[] }>;

const HARNESSES: Record<string, Harness> = {
  "elf": (n, s) => {
    const r = fuzzElf(n, s);
    return Promise.resolve({
      summary: `${r.opened} opened, ${r.rejected} rejected, slowest ${r.slowest.ms.toFixed(1)} ms`,
      failures: r.failures.map((f) => `iteration ${f.iteration}: ${f.message}`),
    });
  },
  "http1": (n, s) => {
    const r = fuzzHttp1(n, s);
    return Promise.resolve({
      summary: `${r.messages} messages, ${r.problems} problems reported`,
      failures: [],
    });
  },
  "http2": (n, s) => {
    const r = fuzzHttp2(n, s);
    return Promise.resolve({
      summary: `${r.exchanges} exchanges, ${r.spans} spans, ${r.fieldsChecked} fields checked`,
      failures: r.problems,
    });
  },
  "postgres-wire": (n, s) => {
    const r = fuzzPostgresWire(n, s);
    return Promise.resolve({
      summary: `${r.exchanges} exchanges, ${r.problems} problems reported`,
      failures: [],
    });
  },
  "registry": (n, s) => {
    const r = fuzzRegistry(n, s);
    return Promise.resolve({
      summary: `${r.spans} spans, ${r.givenUp} connections given up`,
      failures: [],
    });
  },
  "mysql-wire": (n, s) => {
    const r = fuzzMysqlWire(n, s);
    return Promise.resolve({
      summary: `${r.exchanges} exchanges, ${r.problems} problems reported`,
      failures: [],
    });
  },
  "sql-text": (n, s) => {
    const r = fuzzSqlText(n, s);
    return Promise.resolve({
      summary: `${r.operations} operations, ${r.collections} collections named`,
      failures: [],
    });
  },
  "go-binary": async (n, s) => {
    const r = fuzzGoBinary(n, s, await goFuzzSamples());
    return {
      summary: `buildinfo ${r.buildInfo.ok} ok/${r.buildInfo.rejected} rejected, pclntab ` +
        `${r.pclntab.ok}/${r.pclntab.rejected}, DWARF ${r.dwarf.ok}/${r.dwarf.rejected}`,
      failures: r.failures,
    };
  },
  "go-events": (n, s) => {
    const r = fuzzGoEvents(n, s);
    return Promise.resolve({
      summary: `${r.events} events decoded, ${r.rejected} rejected`,
      failures: r.problems > 0 ? [`${r.problems} malformed results`] : [],
    });
  },
  "sqllib-events": (n, s) => {
    const r = fuzzSqlLibEvents(n, s);
    return Promise.resolve({
      summary: `${r.decoded} decoded, ${r.rejected} rejected, ${r.statements} statements`,
      failures: [],
    });
  },
  "proc-text": (n, s) => {
    const r = fuzzProcText(n, s);
    return Promise.resolve({
      summary: `${r.containers} container ids, ${r.sockets} sockets`,
      failures: [],
    });
  },
  "resource": (n, s) => {
    const r = fuzzResource(n, s);
    return Promise.resolve({
      summary: `${r.attributes} attributes, ${r.containerIds} container ids`,
      failures: r.problems > 0 ? [`${r.problems} malformed results`] : [],
    });
  },
};

let failed = false;
for (const [name, run] of Object.entries(HARNESSES)) {
  if (only && !only.includes(name)) continue;
  const t0 = performance.now();
  let line: string;
  try {
    const r = await run(iterations, seed);
    failed ||= r.failures.length > 0;
    line = `${r.summary}, ${r.failures.length} failures`;
    for (const f of r.failures) line += `\n  ${f}`;
  } catch (e) {
    failed = true;
    line = `failure: ${(e as Error).message}`;
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(0);
  const rss = (Deno.memoryUsage().rss / 2 ** 20).toFixed(0);
  console.log(
    `${name.padEnd(14)} ${iterations} inputs, seed ${seed}, ${seconds} s, rss ${rss} MiB: ${line}`,
  );
}
Deno.exit(failed ? 1 : 0);
