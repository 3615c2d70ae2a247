/**
 * PostgreSQL's own load generator under upspan: pgbench's select-only transactions per
 * second against a throwaway server, untraced and traced (upspan watching `--exe pgbench`,
 * so each run is traced from its exec through libpq's probes), alternated; plus the probe
 * hits per statement.
 *
 *   deno run -A scripts/bench_pgbench.ts [--seconds 5]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { PG_BIN, startPostgres } from "../tests/targets/sql_servers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seconds: { type: "string", default: "5" } },
});
const MOD = new URL("../mod.ts", import.meta.url).pathname;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

await using pg = await startPostgres();
const conn = ["-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres"];

async function pgbench(args: string[]): Promise<{ tps: number; transactions: number }> {
  const out = await new Deno.Command(`${PG_BIN}/pgbench`, {
    args: [...conn, ...args, "postgres"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`pgbench failed:\n${text}`);
  return {
    tps: Number(/tps = ([\d.]+)/.exec(text)?.[1] ?? NaN),
    transactions: Number(/number of transactions actually processed: (\d+)/.exec(text)?.[1] ?? 0),
  };
}

await pgbench(["-i", "-q", "-s", "1"]);
const run = ["-S", "-n", "-c", "2", "-T", values.seconds];
await pgbench(run); // warm-up

const plain: number[] = [];
const traced: number[] = [];
let statements = 0;
let spans = 0;
let hits = 0;
for (let round = 0; round < 3; round++) {
  plain.push((await pgbench(run)).tps);
  const agent = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, "--exe", "pgbench", "--format", "json"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  const errs = (async () => {
    for await (const t of agent.stderr.pipeThrough(new TextDecoderStream())) err += t;
  })();
  const lines = (async () => {
    for await (const chunk of agent.stdout) for (const b of chunk) if (b === 10) spans++;
  })();
  while (!/^ready/m.test(err)) await new Promise((r) => setTimeout(r, 10));
  const r = await pgbench(run);
  traced.push(r.tps);
  statements += r.transactions; // select-only: one statement per transaction
  await new Promise((r) => setTimeout(r, 500));
  agent.kill("SIGINT");
  await agent.status;
  await errs;
  await lines;
  hits += Number(/(\d+) Go and SQL library/.exec(err)?.[1] ?? 0);
}
console.log("## pgbench -S (select-only), 2 clients, traced through libpq's probes");
console.log(`without upspan   ${median(plain).toFixed(0)} tps (${plain.map((x) => x.toFixed(0))})`);
console.log(
  `with upspan      ${median(traced).toFixed(0)} tps (${traced.map((x) => x.toFixed(0))})`,
);
console.log(`ratio            ${(median(traced) / median(plain)).toFixed(3)}`);
console.log(`probe hits       ${(hits / statements).toFixed(2)} per statement`);
console.log(`spans            ${spans} for ${statements} statements`);
