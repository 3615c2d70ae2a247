/**
 * Benchmark of the SQLite probes: Python's sqlite3 module runs N small statements
 * (`SELECT ?` with a fetch) untraced, then traced by the SQL library instrumentation; prints the cost per
 * statement both ways and the probe hits per statement.
 *
 * Usage: deno run -A tests/targets/sqllib/bench.ts [N=100000]
 *
 * @module
 */
import { runTraced } from "./run_traced.ts";

const n = Number(Deno.args[0] ?? 100_000);
const script = new URL("./sqlite_client.py", import.meta.url).pathname;

function nsPer(stdout: string): number {
  const m = /^ns_per_statement (\S+)$/m.exec(stdout);
  if (!m) throw new Error(`no figure in ${stdout}`);
  return Number(m[1]);
}

const plain = await new Deno.Command("python3", {
  args: [script, String(n)],
  stdin: "piped",
  stdout: "piped",
}).spawn();
const w = plain.stdin.getWriter();
await w.write(new TextEncoder().encode("go\ngo\n"));
await w.close();
const untraced = nsPer(new TextDecoder().decode((await plain.output()).stdout));

const run = await runTraced({
  cmd: "python3",
  args: [script, String(n)],
  input: "go\ngo\n",
  readyLine: true,
});
if (!run.result.ok) throw new Error(run.result.error);
const traced = nsPer(run.stdout);
const hits = run.result.stats.sqliteHits;
console.log(JSON.stringify({
  statements: n,
  untracedNsPerStatement: Math.round(untraced),
  tracedNsPerStatement: Math.round(traced),
  overheadNsPerStatement: Math.round(traced - untraced),
  spans: run.spans.length,
  probeHits: hits,
  hitsPerSpan: +(hits / run.spans.length).toFixed(2),
  drops: run.result.stats.drops,
}));
