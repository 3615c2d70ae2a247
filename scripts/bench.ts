/**
 * What upspan costs the processes it traces and the host, as one table. Every scenario
 * runs its configurations back to back in each round, alternated round after round
 * (this machine's speed drifts), all in this run:
 *
 * - untraced: no probes at all;
 * - floor: counting-only programs where upspan attaches its own (`scripts/bench/floor.ts`)
 *   — what the traps alone cost;
 * - peer: OpenTelemetry Go auto-instrumentation on the same Go binary and load;
 * - upspan: the agent, `--format json` to a pipe.
 *
 * Each ratio is taken per round (configuration / untraced) and reported as the median
 * with its range over the rounds.
 *
 *   deno task bench [--seconds 5] [--rounds 3] [--only nginx,untraced,https,h2,go,pgbench,pq-sync,rate]
 *
 * Not a test: nothing here passes or fails on a figure.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { makeCert } from "../tests/targets/certs.ts";
import { startPythonServer } from "../tests/targets/targets.ts";
import { startNginx } from "../tests/targets/nginx.ts";
import { buildGoServer, startGoServer } from "../tests/targets/go/build.ts";
import { PG_BIN, startPostgres } from "../tests/targets/sql_servers.ts";
import { locateGo } from "../src/golang/mod.ts";
import { readLibrary } from "../src/sqllib/locate.ts";
import { openElf } from "../src/symbols/mod.ts";
import type { SyscallAttach } from "../src/capture/mod.ts";
import { type FloorSite, opensslSites, startFloor } from "./bench/floor.ts";
import {
  agentCounters,
  type AgentReport,
  agentV8Flags,
  cpuSeconds,
  h2load,
  median,
  rssKb,
  schedCpuSeconds,
  startUpspan,
  wrk,
} from "./bench/measure.ts";
import { buildOtelGo, OTEL_GO_VERSION, otlpSink, startOtelGo } from "./bench/otel_go.ts";
import { pacedLoad } from "./bench/paced_load.ts";
import { syscallLoop } from "./bench/syscall_loop.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    only: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const only = values.only?.split(",");
const wanted = (name: string) => only === undefined || only.includes(name);
const log = (line: string) => console.error(`bench: ${line}`);

/** One line of the table: a figure per configuration and round. */
interface Row {
  scenario: string;
  unit: string;
  untraced?: number[];
  floor?: number[];
  peer?: number[];
  upspan: number[];
  /** Ratios are configuration / untraced; for a time per operation, the added time. */
  compare: "ratio" | "added" | "none";
  notes: string;
}
const rows: Row[] = [];
/** The syscall-hook methods, upspan's default first. */
const METHODS = ["socket", "tp_btf", "tracepoint"] as const;

const fmt = (x: number) =>
  !Number.isFinite(x)
    ? "—"
    : Math.abs(x) >= 100
    ? x.toFixed(0)
    : Math.abs(x) >= 10
    ? x.toFixed(1)
    : x.toFixed(2);

/** "median (min–max)" of a configuration's per-round comparison against untraced. */
function compared(row: Row, xs: number[] | undefined): string {
  if (!xs || xs.length === 0 || row.compare === "none" || !row.untraced) return "—";
  const per = xs.map((x, i) =>
    row.compare === "ratio" ? x / row.untraced![i]! : x - row.untraced![i]!
  );
  const m = median(per);
  const lo = Math.min(...per), hi = Math.max(...per);
  const f = (x: number) => row.compare === "ratio" ? x.toFixed(2) : `${x >= 0 ? "+" : ""}${fmt(x)}`;
  return per.length > 1 ? `**${f(m)}** (${f(lo)}–${f(hi)})` : `**${f(m)}**`;
}

function printTable() {
  const head = [
    "scenario",
    "unit",
    "untraced",
    "floor",
    "peer",
    "upspan",
    "floor vs untraced",
    "peer vs untraced",
    "upspan vs untraced",
    "notes",
  ];
  const cell = (xs: number[] | undefined) => xs && xs.length ? fmt(median(xs)) : "—";
  console.log(`| ${head.join(" | ")} |`);
  console.log(`| ${head.map(() => "---").join(" | ")} |`);
  for (const r of rows) {
    console.log(
      `| ${
        [
          r.scenario,
          r.unit,
          cell(r.untraced),
          cell(r.floor),
          cell(r.peer),
          cell(r.upspan),
          compared(r, r.floor),
          compared(r, r.peer),
          compared(r, r.upspan),
          r.notes,
        ].join(" | ")
      } |`,
    );
  }
  console.log(
    `\n${rounds} round(s) of ${seconds} s per configuration, alternated; medians, ranges over ` +
      `the rounds in parentheses; ${navigator.hardwareConcurrency} CPUs; ${
        new Date().toISOString()
      }`,
  );
}

const per = (n: number, d: number) => (d > 0 ? n / d : NaN);

/** Runs a load with an agent; returns the load's figure and the agent's report. */
async function underAgent<T>(
  args: string[],
  env: Record<string, string>,
  load: () => Promise<T>,
): Promise<{ load: T; agent: AgentReport }> {
  const agent = await startUpspan(args, env);
  try {
    const result = await load();
    return { load: result, agent: await agent.stop() };
  } catch (e) {
    await agent.stop();
    throw e;
  }
}

/** Runs a load with the floor's programs attached. */
async function underFloor<T>(
  opts: { syscalls?: SyscallAttach; uprobes?: FloorSite[] },
  load: () => Promise<T>,
): Promise<{ load: T; hits: number; uprobeHits: number }> {
  const floor = startFloor(opts);
  try {
    const result = await load();
    const hits = await floor.stop();
    return { load: result, hits: hits.all, uprobeHits: hits.uprobes };
  } catch (e) {
    await floor.stop();
    throw e;
  }
}

/**
 * Runs a load and adds the CPU time the target's processes used per request, in µs: on
 * this shared machine a steadier figure than requests per second (the probes' programs
 * run, and are counted, in the target's own time).
 */
async function targetCpu<T extends { requests: number }>(
  pids: number[],
  load: () => Promise<T>,
): Promise<T & { cpuUs: number }> {
  const used = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const c0 = used();
  const result = await load();
  return { ...result, cpuUs: per((used() - c0) * 1e6, result.requests) };
}

/** Agent figures summed over rounds. */
class AgentTotals {
  spans = 0;
  cpu = 0;
  units = 0;
  hits = { tls: 0, library: 0, syscalls: 0, dropped: 0 };
  ready = "";
  add(units: number, a: AgentReport) {
    this.units += units;
    this.spans += a.spans;
    this.cpu += a.cpuSeconds;
    const c = agentCounters(a.stderr);
    this.hits.tls += c.write + c.read + c.readReturn;
    this.hits.library += c.library;
    this.hits.syscalls += c.syscalls;
    this.hits.dropped += c.dropped;
    this.ready = a.ready;
  }
  get spansPer() {
    return per(this.spans, this.units);
  }
  get cpuUsPerSpan() {
    return per(this.cpu * 1e6, this.spans);
  }
}

// ---- nginx on plain HTTP, and the syscall-hook methods side by side ----
async function nginx() {
  await using server = await startNginx({ "hello.txt": "hello\n" });
  const url = `http://127.0.0.1:${server.port}/hello.txt`;
  const args = server.pids.flatMap((p) => ["--pid", String(p)]);
  await wrk(url, 1); // warm-up
  const figures = {
    untraced: [] as number[],
    floor: { socket: [] as number[], tp_btf: [] as number[], tracepoint: [] as number[] },
    upspan: { socket: [] as number[], tp_btf: [] as number[], tracepoint: [] as number[] },
  };
  // nginx's CPU µs per request, beside the rates.
  const cpu = {
    untraced: [] as number[],
    floor: { socket: [] as number[], tp_btf: [] as number[], tracepoint: [] as number[] },
    upspan: { socket: [] as number[], tp_btf: [] as number[], tracepoint: [] as number[] },
  };
  const load = () => targetCpu(server.pids, () => wrk(url, seconds));
  const totals = {
    socket: new AgentTotals(),
    tp_btf: new AgentTotals(),
    tracepoint: new AgentTotals(),
  };
  for (let r = 0; r < rounds; r++) {
    const u = await load();
    figures.untraced.push(u.rps);
    cpu.untraced.push(u.cpuUs);
    for (const method of METHODS) {
      const f = (await underFloor({ syscalls: method }, load)).load;
      figures.floor[method].push(f.rps);
      cpu.floor[method].push(f.cpuUs);
      const t = await underAgent(args, { UPSPAN_SYSCALL_ATTACH: method }, load);
      figures.upspan[method].push(t.load.rps);
      cpu.upspan[method].push(t.load.cpuUs);
      totals[method].add(t.load.requests, t.agent);
    }
    log(`nginx round ${r + 1}/${rounds}`);
  }
  for (const method of METHODS) {
    const t = totals[method];
    rows.push({
      scenario: `nginx plain HTTP, wrk -t1 -c4 (syscalls via ${method})`,
      unit: "req/s",
      untraced: figures.untraced,
      floor: figures.floor[method],
      upspan: figures.upspan[method],
      compare: "ratio",
      notes:
        `${t.spansPer.toFixed(3)} spans/request, ${per(t.hits.syscalls, t.units).toFixed(2)} ` +
        `socket syscalls/request, ${t.hits.dropped} events dropped, agent ${
          t.cpuUsPerSpan.toFixed(1)
        } µs CPU/span; nginx CPU/request ${fmt(median(cpu.untraced))} µs untraced, ${
          fmt(median(cpu.floor[method]))
        } floor, ${fmt(median(cpu.upspan[method]))} upspan`,
    });
  }
}

// ---- what a process upspan does not trace pays per read/write ----
async function untraced() {
  const sleeper = new Deno.Command("sleep", { args: ["3600"] }).spawn();
  // Batches of 20,000 syscalls, as many as take about --seconds; the fastest batch counts.
  const batches = Math.max(5, Math.round(seconds * 50));
  const loops = [
    { name: "dd bs=1 loop (file reads and writes)", run: () => syscallLoop("file", batches) },
    { name: "1-byte socketpair write+read", run: () => syscallLoop("socket", batches) },
  ];
  try {
    for (const loop of loops) {
      await loop.run();
      const none: number[] = [];
      const floor = { socket: [] as number[], tp_btf: [] as number[], tracepoint: [] as number[] };
      const upspan = { socket: [] as number[], tp_btf: [] as number[], tracepoint: [] as number[] };
      for (let r = 0; r < rounds; r++) {
        none.push(await loop.run());
        for (const method of METHODS) {
          floor[method].push((await underFloor({ syscalls: method }, loop.run)).load);
          const env = { UPSPAN_SYSCALL_ATTACH: method };
          upspan[method].push(
            (await underAgent(["--pid", String(sleeper.pid)], env, loop.run)).load,
          );
        }
        log(`untraced ${loop.name} round ${r + 1}/${rounds}`);
      }
      for (const method of METHODS) {
        rows.push({
          scenario: `untraced process, ${loop.name} (syscalls via ${method})`,
          unit: "ns/syscall",
          untraced: none,
          floor: floor[method],
          upspan: upspan[method],
          compare: "added",
          notes: `thread CPU time, fastest of ${batches} batches of 20,000 syscalls per run; ` +
            `the agent traces an unrelated sleep`,
        });
      }
    }
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
}

// ---- Python HTTPS server (OpenSSL uprobes) ----
async function https() {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  const url = `https://127.0.0.1:${server.port}/hello`;
  const sites = await opensslSites(server.pid);
  await wrk(url, 1);
  const untraced: number[] = [], floor: number[] = [], upspan: number[] = [];
  const totals = new AgentTotals();
  let floorHits = 0, floorRequests = 0;
  const cpu = { untraced: [] as number[], floor: [] as number[], upspan: [] as number[] };
  const load = () => targetCpu([server.pid], () => wrk(url, seconds));
  for (let r = 0; r < rounds; r++) {
    const u = await load();
    untraced.push(u.rps);
    cpu.untraced.push(u.cpuUs);
    const f = await underFloor({ syscalls: "socket", uprobes: sites }, load);
    floor.push(f.load.rps);
    cpu.floor.push(f.load.cpuUs);
    const t = await underAgent(["--pid", String(server.pid)], {}, load);
    upspan.push(t.load.rps);
    cpu.upspan.push(t.load.cpuUs);
    totals.add(t.load.requests, t.agent);
    floorRequests += f.load.requests;
    floorHits += f.hits;
    log(`https round ${r + 1}/${rounds}`);
  }
  rows.push({
    scenario: "Python HTTPS server (OpenSSL), wrk -t1 -c4",
    unit: "req/s",
    untraced,
    floor,
    upspan,
    compare: "ratio",
    notes:
      `${totals.spansPer.toFixed(3)} spans/request, ${
        per(totals.hits.tls, totals.units).toFixed(2)
      } ` +
      `SSL probe hits/request, agent ${
        totals.cpuUsPerSpan.toFixed(1)
      } µs CPU/span; floor: ${sites.length} ` +
      `uprobes + syscall hooks, ${
        per(floorHits, floorRequests).toFixed(1)
      } program runs/request; server CPU/request ${fmt(median(cpu.untraced))} µs untraced, ${
        fmt(median(cpu.floor))
      } floor, ${fmt(median(cpu.upspan))} upspan`,
  });
}

// ---- nginx serving HTTP/2 over TLS (OpenSSL linked into nginx) ----
async function h2() {
  const tls = await makeCert(await Deno.makeTempDir());
  await using server = await startNginx({ "hello.txt": "hello\n" }, { tls, http2: true });
  const url = `https://127.0.0.1:${server.port}/hello.txt`;
  const args = server.pids.flatMap((p) => ["--pid", String(p)]);
  const sites = (await Promise.all(server.pids.map(opensslSites))).flat();
  await h2load(url);
  const untraced: number[] = [], floor: number[] = [], upspan: number[] = [];
  const totals = new AgentTotals();
  for (let r = 0; r < rounds; r++) {
    untraced.push((await h2load(url)).rps);
    floor.push(
      (await underFloor({ syscalls: "socket", uprobes: sites }, () => h2load(url))).load.rps,
    );
    const t = await underAgent(args, {}, () => h2load(url));
    upspan.push(t.load.rps);
    totals.add(t.load.requests, t.agent);
    log(`h2 round ${r + 1}/${rounds}`);
  }
  rows.push({
    scenario: "nginx HTTP/2 over TLS, h2load -n60000 -c60 -m10",
    unit: "req/s",
    untraced,
    floor,
    upspan,
    compare: "ratio",
    notes:
      `${totals.spansPer.toFixed(3)} spans/request, ${
        per(totals.hits.tls, totals.units).toFixed(2)
      } ` +
      `SSL probe hits/request, agent ${
        totals.cpuUsPerSpan.toFixed(1)
      } µs CPU/span (fixed request count, not --seconds)`,
  });
}

// ---- Go net/http trivial handler, beside OpenTelemetry Go auto-instrumentation ----
async function go() {
  const built = await buildGoServer("go1.26.8");
  if (!built.ok) throw new Error(built.error);
  log(
    `building OpenTelemetry Go auto-instrumentation ${OTEL_GO_VERSION} (cached after the first run)`,
  );
  const peerBinary = await buildOtelGo();
  const server = await startGoServer(built.path);
  const sink = otlpSink();
  try {
    const url = `http://127.0.0.1:${server.backendPort}/backend/1`;
    const located = await locateGo({ pid: server.pid });
    if (!located.ok) throw new Error(located.error);
    const sites: FloorSite[] = located.location.sites.map((s) => ({
      path: located.location.path,
      offset: s.fileOffset,
      pid: server.pid,
    }));
    await wrk(url, 1);
    const untraced: number[] = [], floor: number[] = [], peer: number[] = [], upspan: number[] = [];
    const totals = new AgentTotals();
    let peerSpans = 0, peerRequests = 0;
    const cpu = {
      untraced: [] as number[],
      floor: [] as number[],
      peer: [] as number[],
      upspan: [] as number[],
    };
    const load = () => targetCpu([server.pid], () => wrk(url, seconds));
    for (let r = 0; r < rounds; r++) {
      const u = await load();
      untraced.push(u.rps);
      cpu.untraced.push(u.cpuUs);
      const f = (await underFloor({ syscalls: "socket", uprobes: sites }, load)).load;
      floor.push(f.rps);
      cpu.floor.push(f.cpuUs);
      const before = sink.spans();
      const p = await startOtelGo(peerBinary, server.pid, sink.url);
      const w = await load();
      await new Promise((r) => setTimeout(r, 500)); // its batch exporter's last send
      await p.stop();
      peer.push(w.rps);
      cpu.peer.push(w.cpuUs);
      peerSpans += sink.spans() - before;
      peerRequests += w.requests;
      const t = await underAgent(["--pid", String(server.pid)], {}, load);
      upspan.push(t.load.rps);
      cpu.upspan.push(t.load.cpuUs);
      totals.add(t.load.requests, t.agent);
      log(`go round ${r + 1}/${rounds}`);
    }
    const ratio = (xs: number[]) => median(xs.map((x, i) => x / untraced[i]!));
    const overhead = (1 - ratio(upspan)) / (1 - ratio(peer));
    rows.push({
      scenario: "Go net/http trivial handler (go1.26.8), wrk -t1 -c4",
      unit: "req/s",
      untraced,
      floor,
      peer,
      upspan,
      compare: "ratio",
      notes:
        `upspan ${totals.spansPer.toFixed(3)} spans/request, ${
          per(totals.hits.library, totals.units).toFixed(2)
        } ` +
        `Go probe hits/request; peer (OTel Go auto ${OTEL_GO_VERSION}) ${
          per(peerSpans, peerRequests).toFixed(3)
        } ` +
        `spans/request; upspan's overhead ${
          overhead.toFixed(2)
        }× the peer's; floor: ${sites.length} uprobes + syscall hooks; server CPU/request ${
          fmt(median(cpu.untraced))
        } µs untraced, ${fmt(median(cpu.floor))} floor, ${fmt(median(cpu.peer))} peer, ${
          fmt(median(cpu.upspan))
        } upspan`,
    });
  } finally {
    await server.stop();
    await sink.close();
  }
}

// ---- pgbench -S through libpq ----
async function pgbench() {
  await using pg = await startPostgres();
  const conn = ["-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres"];
  const bench = async (args: string[]) => {
    const out = await new Deno.Command(`${PG_BIN}/pgbench`, {
      args: [...conn, ...args, "postgres"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    if (!out.success) throw new Error(`pgbench failed:\n${text}`);
    return {
      tps: Number(/tps = ([\d.]+)/.exec(text)?.[1] ?? NaN),
      statements: Number(/number of transactions actually processed: (\d+)/.exec(text)?.[1] ?? 0),
    };
  };
  await bench(["-i", "-q", "-s", "1"]);
  const run = ["-S", "-n", "-c", "2", "-T", String(seconds)];
  await bench(run);
  // The floor's libpq sites: the same functions upspan probes, in pgbench's libpq.
  const ldd = new TextDecoder().decode(
    (await new Deno.Command("ldd", { args: [`${PG_BIN}/pgbench`] }).output()).stdout,
  );
  const libpq = /libpq\.so\.5 => (\S+)/.exec(ldd)?.[1];
  if (!libpq) throw new Error("pgbench links no libpq");
  const opened = await openElf(libpq);
  if (!opened.ok) throw new Error(opened.error);
  // pgbench is an asynchronous client: its libpq stays in that mode.
  const sites = await libpqSites(libpq, "async");
  const untraced: number[] = [], floor: number[] = [], upspan: number[] = [];
  const totals = new AgentTotals();
  let floorHits = 0, floorUprobeHits = 0, floorStatements = 0;
  for (let r = 0; r < rounds; r++) {
    untraced.push((await bench(run)).tps);
    const f = await underFloor({ syscalls: "socket", uprobes: sites }, () => bench(run));
    floor.push(f.load.tps);
    floorHits += f.hits;
    floorUprobeHits += f.uprobeHits;
    floorStatements += f.load.statements;
    const t = await underAgent(["--exe", "pgbench"], {}, () => bench(run));
    upspan.push(t.load.tps);
    totals.add(t.load.statements, t.agent);
    log(`pgbench round ${r + 1}/${rounds}`);
  }
  rows.push({
    scenario: "pgbench -S -c 2 through libpq",
    unit: "tps",
    untraced,
    floor,
    upspan,
    compare: "ratio",
    notes: `${per(totals.hits.library, totals.units).toFixed(2)} libpq probe hits/statement ` +
      `(${per(totals.hits.library, totals.spans).toFixed(2)}/span), ${
        totals.spansPer.toFixed(3)
      } spans/statement, ${totals.hits.dropped} events dropped, agent ${
        fmt(totals.cpuUsPerSpan)
      } µs CPU/span; floor: ${sites.length} uprobes on libpq + syscall hooks, ` +
      `${per(floorHits, floorStatements).toFixed(1)} program runs/statement, of them ` +
      `${per(floorUprobeHits, floorStatements).toFixed(2)} uprobe hits`,
  });
}

/** The floor's sites in a libpq file: those upspan attaches there in `mode`. */
async function libpqSites(libpq: string, mode: "sync" | "async"): Promise<FloorSite[]> {
  const opened = await openElf(libpq);
  if (!opened.ok) throw new Error(opened.error);
  const facts = readLibrary(opened.elf, "libpq", libpq);
  opened.elf.close();
  if (typeof facts === "string") throw new Error(facts);
  return facts.sites.filter((s) => s.mode === mode).map((s) => ({
    path: libpq,
    offset: s.offset,
    retprobe: s.retprobe,
  }));
}

// ---- a synchronous libpq client: PQexec in a loop ----
async function pqSync() {
  await using pg = await startPostgres();
  const conninfo = `host=127.0.0.1 port=${pg.port} user=postgres dbname=postgres`;
  const init = await new Deno.Command(`${PG_BIN}/pgbench`, {
    args: [
      "-h",
      "127.0.0.1",
      "-p",
      String(pg.port),
      "-U",
      "postgres",
      "-i",
      "-q",
      "-s",
      "1",
      "postgres",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!init.success) throw new Error(`pgbench -i: ${new TextDecoder().decode(init.stderr)}`);
  const dir = await Deno.makeTempDir({ prefix: "upspan-bench-pq-" });
  try {
    const exe = `${dir}/pq_sync_loop`;
    const cc = await new Deno.Command("gcc", {
      args: [
        "-O2",
        "-o",
        exe,
        new URL("./bench/pq_sync_loop.c", import.meta.url).pathname,
        "-I/usr/include/postgresql",
        "-lpq",
      ],
      stderr: "piped",
    }).output();
    if (!cc.success) throw new Error(`gcc: ${new TextDecoder().decode(cc.stderr)}`);
    const run = async () => {
      const out = await new Deno.Command(exe, {
        args: [conninfo, String(seconds)],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      if (!out.success) throw new Error(`pq_sync_loop: ${new TextDecoder().decode(out.stderr)}`);
      return {
        perSecond: Number(/per_second ([\d.]+)/.exec(text)?.[1] ?? NaN),
        statements: Number(/statements (\d+)/.exec(text)?.[1] ?? 0),
        cpuUs: Number(/cpu_us_per_statement ([\d.]+)/.exec(text)?.[1] ?? NaN),
      };
    };
    await run();
    const ldd = new TextDecoder().decode(
      (await new Deno.Command("ldd", { args: [exe] }).output()).stdout,
    );
    const libpq = /libpq\.so\.5 => (\S+)/.exec(ldd)?.[1];
    if (!libpq) throw new Error("pq_sync_loop links no libpq");
    // What a synchronous client is probed at once it has turned: PQexec* alone; and, for
    // comparison, the asynchronous mode's sites it is probed at until then.
    const sites = await libpqSites(libpq, "sync");
    const asyncSites = await libpqSites(libpq, "async");
    const untraced: number[] = [], floor: number[] = [], upspan: number[] = [];
    const asyncFloor: number[] = [];
    const cpu = { untraced: [] as number[], floor: [] as number[], upspan: [] as number[] };
    const asyncCpu: number[] = [];
    let asyncHits = 0, asyncStatements = 0;
    const totals = new AgentTotals();
    let floorHits = 0, floorUprobeHits = 0, floorStatements = 0;
    for (let r = 0; r < rounds; r++) {
      const u = await run();
      untraced.push(u.perSecond);
      cpu.untraced.push(u.cpuUs);
      const f = await underFloor({ syscalls: "socket", uprobes: sites }, run);
      floor.push(f.load.perSecond);
      cpu.floor.push(f.load.cpuUs);
      floorHits += f.hits;
      floorUprobeHits += f.uprobeHits;
      floorStatements += f.load.statements;
      const a = await underFloor({ syscalls: "socket", uprobes: asyncSites }, run);
      asyncFloor.push(a.load.perSecond / untraced.at(-1)!);
      asyncHits += a.uprobeHits;
      asyncCpu.push(a.load.cpuUs - u.cpuUs);
      asyncStatements += a.load.statements;
      const t = await underAgent(["--exe", "pq_sync_loop"], {}, run);
      upspan.push(t.load.perSecond);
      cpu.upspan.push(t.load.cpuUs);
      totals.add(t.load.statements, t.agent);
      log(`pq-sync round ${r + 1}/${rounds}`);
    }
    rows.push({
      scenario: "PQexec loop (pgbench -S's SELECT), 1 connection, through libpq",
      unit: "statements/s",
      untraced,
      floor,
      upspan,
      compare: "ratio",
      notes: `${per(totals.hits.library, totals.units).toFixed(2)} libpq probe hits/statement ` +
        `(${per(totals.hits.library, totals.spans).toFixed(2)}/span), ${
          totals.spansPer.toFixed(3)
        } spans/statement, ${totals.hits.dropped} events dropped, agent ${
          fmt(totals.cpuUsPerSpan)
        } µs CPU/span; floor: ${sites.length} uprobes on libpq's PQexec* + syscall hooks, ` +
        `${per(floorHits, floorStatements).toFixed(1)} program runs/statement, of them ` +
        `${per(floorUprobeHits, floorStatements).toFixed(2)} uprobe hits; the same floor at ` +
        `the asynchronous mode's ${asyncSites.length} sites (PQsend*, PQgetResult): ` +
        `${per(asyncHits, asyncStatements).toFixed(2)} uprobe hits/statement, ` +
        `${median(asyncFloor).toFixed(2)} vs untraced`,
    });
    rows.push({
      scenario: "the same PQexec loop: the client's CPU per statement",
      unit: "µs",
      ...cpu,
      compare: "added",
      notes: `the probes' traps and programs run in the client's time; the floor at the ` +
        `asynchronous mode's sites adds ${fmt(median(asyncCpu))} µs (${
          fmt(Math.min(...asyncCpu))
        } to ${fmt(Math.max(...asyncCpu))})`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---- the agent itself at a steady 1,000 requests per second ----
/** Load before the settled figure is taken. */
const WARM_SECONDS = 20;
async function rate() {
  await using server = await startPythonServer({});
  await pacedLoad(server.port, 1000, 1);
  const cpuPerSpan: number[] = [], steady: number[] = [], rss: number[] = [], anon: number[] = [];
  const warm: number[] = [];
  const serverCpu = { untraced: [] as number[], upspan: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    let c0 = cpuSeconds(server.pid);
    await pacedLoad(server.port, 1000, seconds);
    serverCpu.untraced.push(cpuSeconds(server.pid) - c0);
    c0 = cpuSeconds(server.pid);
    // As ./upspan and the image run it: its memory is what this row is for.
    const agent = await startUpspan(["--pid", String(server.pid)], {}, [
      `--v8-flags=${agentV8Flags()}`,
    ]);
    try {
      // The scheduler's run time of the agent's threads: `stat`'s 10 ms ticks are 5 µs per
      // span over a window of 2,000 spans, as large as the differences looked for.
      const sample = () => ({ cpu: schedCpuSeconds(agent.pid), spans: agent.sample().spans });
      const window = (a: ReturnType<typeof sample>, b: ReturnType<typeof sample>) =>
        per((b.cpu - a.cpu) * 1e6, b.spans - a.spans);
      // From `ready` (V8 compiling the hot path on the way), then as long again after it.
      const ready = sample();
      await pacedLoad(server.port, 1000, seconds);
      serverCpu.upspan.push(cpuSeconds(server.pid) - c0);
      const first = sample();
      cpuPerSpan.push(window(ready, first));
      await pacedLoad(server.port, 1000, seconds);
      steady.push(window(first, sample()));
      // As an agent runs for hours: V8 done compiling the hot path, caches settled.
      await pacedLoad(server.port, 1000, WARM_SECONDS);
      const settled = sample();
      await pacedLoad(server.port, 1000, seconds);
      warm.push(window(settled, sample()));
    } finally {
      const report = await agent.stop();
      rss.push(report.rssKb / 1024);
      anon.push(report.anonKb / 1024);
    }
    log(`rate round ${r + 1}/${rounds}`);
  }
  const noop = new Deno.Command(Deno.execPath(), {
    args: ["eval", "await new Promise((r) => setTimeout(r, 1500))"],
  }).spawn();
  await new Promise((r) => setTimeout(r, 1000));
  const emptyDeno = rssKb(noop.pid) / 1024;
  await noop.status;
  rows.push({
    scenario: "agent CPU per span, HTTP/1 at 1,000 req/s, JSON out",
    unit: "µs",
    upspan: cpuPerSpan,
    compare: "none",
    notes:
      `./upspan's V8 flags; from \`ready\` over the first ${seconds} s; over the next ${seconds} s ${
        fmt(median(steady))
      } (${fmt(Math.min(...steady))}–${fmt(Math.max(...steady))}); server CPU per run: ${
        fmt(median(serverCpu.untraced))
      } s untraced, ${fmt(median(serverCpu.upspan))} s traced`,
  });
  rows.push({
    scenario: `the same after ${WARM_SECONDS} s more at that rate`,
    unit: "µs",
    upspan: warm,
    compare: "none",
    notes: `over ${seconds} s, after ${2 * seconds + WARM_SECONDS} s of load since \`ready\``,
  });
  rows.push({
    scenario: "agent RSS at 1,000 req/s",
    unit: "MB",
    upspan: rss,
    compare: "none",
    notes: `peak over the run, the agent run with ./upspan's V8 flags (${agentV8Flags()}); ` +
      `of it the agent's own (anonymous) pages ${fmt(median(anon))} MB (${fmt(Math.min(...anon))}–${
        fmt(Math.max(...anon))
      }), the rest the Deno ` +
      `executable's; an idle Deno process is ${emptyDeno.toFixed(0)} MB`,
  });
}

const scenarios: [string, () => Promise<void>][] = [
  ["nginx", nginx],
  ["untraced", untraced],
  ["https", https],
  ["h2", h2],
  ["go", go],
  ["pgbench", pgbench],
  ["pq-sync", pqSync],
  ["rate", rate],
];
// The objects as the sources say: a checkout whose bpf/out is older than its sources would
// measure programs that are not the ones it claims (or none, where they no longer load).
const build = await new Deno.Command("bash", {
  args: [new URL("./build_bpf.sh", import.meta.url).pathname],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!build.success) throw new Error("the BPF objects did not build; see above");

for (const [name, run] of scenarios) {
  if (!wanted(name)) continue;
  try {
    await run();
  } catch (e) {
    log(`${name}: ${(e as Error).message}`);
    rows.push({
      scenario: name,
      unit: "",
      upspan: [],
      compare: "none",
      notes: `failed: ${(e as Error).message.split("\n")[0]}`,
    });
  }
}
printTable();
