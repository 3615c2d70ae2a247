/**
 * What each of upspan's Go probe sites costs the Go fixture server, in its own CPU time per
 * request under `wrk -t1 -c4`: counting-only programs (the bench's floor) on one group of
 * sites at a time, alternated with no probes, round after round. Shows what placing probes on
 * instructions the kernel emulates saves (see src/symbols/entry_site.ts): the sites upspan
 * used before are measured too — ServeHTTP's entry at its first instruction, its `RET`s and
 * `runtime.newproc1`'s `RET`s.
 *
 *   deno run -A scripts/bench_go_sites.ts [--rounds 3] [--seconds 2] [--toolchain go1.26.8]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { buildGoServer, startGoServer } from "../tests/targets/go/build.ts";
import { type FloorSite, startFloor } from "./bench/floor.ts";
import { cpuSeconds, median, wrk } from "./bench/measure.ts";
import { type GoProbeSite, locateGo } from "../src/golang/mod.ts";
import { openGoBinary } from "../src/symbols/go/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "2" },
    toolchain: { type: "string", default: "go1.26.8" },
  },
});

const built = await buildGoServer(values.toolchain);
if (!built.ok) throw new Error(built.error);
const server = await startGoServer(built.path);
try {
  const url = `http://127.0.0.1:${server.backendPort}/backend/1`;
  const located = await locateGo({ pid: server.pid });
  if (!located.ok) throw new Error(located.error);
  const { path, sites } = located.location;
  const floorSites = (xs: GoProbeSite[], atEntry = false): FloorSite[] =>
    xs.map((s) => ({
      path,
      offset: atEntry ? s.fileOffset - s.shift : s.fileOffset,
      pid: server.pid,
    }));
  const serveEntry = sites.filter((s) => s.group === "http.server" && s.at === "entry").slice(0, 1);
  const opened = await openGoBinary(path);
  if (!opened.ok) throw new Error(opened.error);
  const rets = (name: string): FloorSite[] => {
    const r = opened.binary.retOffsets(name);
    if (!r.ok) throw new Error(r.error);
    return r.fileOffsets.map((offset) => ({ path, offset, pid: server.pid }));
  };
  const serveRets = rets("net/http.serverHandler.ServeHTTP");
  const newprocRets = rets("runtime.newproc1");
  opened.binary.close();
  const before = [...floorSites(serveEntry, true), ...serveRets, ...newprocRets];
  const configs: [string, FloorSite[] | undefined][] = [
    ["no probes", undefined],
    ["ServeHTTP entry, at its first instruction", floorSites(serveEntry, true)],
    ["ServeHTTP entry, where upspan puts it", floorSites(serveEntry)],
    ...[...new Set(sites.map((s) => `${s.symbol} ${s.at}`))].map((
      what,
    ): [string, FloorSite[]] => [
      what,
      floorSites(sites.filter((s) => `${s.symbol} ${s.at}` === what)),
    ]),
    ["ServeHTTP's RETs (before)", serveRets],
    ["runtime.newproc1's RETs (before)", newprocRets],
    ["ServeHTTP's entry and RETs, newproc1's RETs (before)", before],
    ["all of upspan's sites", floorSites(sites)],
  ];
  await wrk(url, 1);
  const cpu = new Map<string, number[]>();
  const hits = new Map<string, number>();
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const [what, uprobes] of configs) {
      const floor = uprobes ? startFloor({ uprobes }) : undefined;
      const c0 = cpuSeconds(server.pid);
      const w = await wrk(url, Number(values.seconds));
      const us = (cpuSeconds(server.pid) - c0) * 1e6 / w.requests;
      const n = floor ? (await floor.stop()).uprobes : 0;
      cpu.set(what, [...(cpu.get(what) ?? []), us]);
      hits.set(what, n / w.requests);
    }
  }
  const base = median(cpu.get("no probes")!);
  console.log(`| sites | hits/request | server µs CPU/request | added | rounds |`);
  console.log(`| --- | --- | --- | --- | --- |`);
  for (const [what] of configs) {
    const xs = cpu.get(what)!;
    const m = median(xs);
    console.log(
      `| ${what} | ${hits.get(what)!.toFixed(2)} | ${m.toFixed(1)} | ${
        what === "no probes" ? "—" : `${m - base >= 0 ? "+" : ""}${(m - base).toFixed(1)}`
      } | ${xs.map((x) => x.toFixed(1)).join(", ")} |`,
    );
  }
} finally {
  await server.stop();
}
