/**
 * What the floor of the Python HTTPS row is made of: the Python target's own CPU time per
 * request under `wrk -t1 -c4`, with counting-only programs at the socket hooks, at
 * OpenSSL's sites (entries and returns, or entries alone), or both, alternated with none,
 * round after round.
 *
 *   deno run -A scripts/bench_tls_sites.ts [--rounds 4] [--seconds 2]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startPythonServer } from "../tests/targets/targets.ts";
import { makeCert } from "../tests/targets/certs.ts";
import { type FloorOptions, opensslSites, startFloor } from "./bench/floor.ts";
import { cpuSeconds, median, wrk } from "./bench/measure.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "4" }, seconds: { type: "string", default: "2" } },
});

const { cert, key } = await makeCert(await Deno.makeTempDir());
await using server = await startPythonServer({ cert, key });
const url = `https://127.0.0.1:${server.port}/hello`;
const sites = await opensslSites(server.pid);
const configs: [string, FloorOptions | undefined][] = [
  ["no programs", undefined],
  ["socket hooks", { syscalls: "socket" }],
  [`OpenSSL's ${sites.length} sites`, { uprobes: sites }],
  ["OpenSSL's entries alone", { uprobes: sites.filter((s) => !s.retprobe) }],
  ["socket hooks and OpenSSL's sites (the floor)", { syscalls: "socket", uprobes: sites }],
];
await wrk(url, 1);
const cpu = new Map<string, number[]>();
for (let r = 0; r < Number(values.rounds); r++) {
  for (const [what, opts] of configs) {
    const floor = opts ? startFloor(opts) : undefined;
    const c0 = cpuSeconds(server.pid);
    const w = await wrk(url, Number(values.seconds));
    cpu.set(what, [...(cpu.get(what) ?? []), (cpuSeconds(server.pid) - c0) * 1e6 / w.requests]);
    await floor?.stop();
  }
}
console.log("| programs | server µs CPU/request | rounds |\n| --- | --- | --- |");
for (const [what] of configs) {
  const xs = cpu.get(what)!;
  console.log(`| ${what} | ${median(xs).toFixed(1)} | ${xs.map((x) => x.toFixed(0)).join(", ")} |`);
}
