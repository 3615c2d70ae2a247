/**
 * What the Go probes cost a Go server: the fixture server's requests per second under
 * wrk without probes and with them, in one run, as a ratio, and the probe hits per
 * request (from the BPF counters). Two endpoints: `/users/{id}` (a backend HTTP call, two
 * SQL calls, one from a new goroutine) on the front listener, and the trivial
 * `/backend/{id}` handler on the backend listener. Needs root and wrk.
 *
 *   deno run -A scripts/bench_go.ts [--toolchain go1.26.8] [--duration 5] [--rounds 3]
 *     [--connections 16]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { probeHits, runGoTrace } from "../src/golang/mod.ts";
import type { GoTraceResult } from "../src/golang/mod.ts";
import { buildGoServer, startGoServer } from "../tests/targets/go/build.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    toolchain: { type: "string", default: "go1.26.8" },
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "16" },
    threads: { type: "string", default: "1" },
    rounds: { type: "string", default: "3" },
  },
});

interface WrkResult {
  requests: number;
  rps: number;
}

async function wrk(url: string): Promise<WrkResult> {
  const out = await new Deno.Command("wrk", {
    args: [`-t${values.threads}`, `-c${values.connections}`, `-d${values.duration}s`, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const requests = /(\d+) requests in/.exec(text)?.[1];
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text)?.[1];
  if (!out.success || requests === undefined || rps === undefined) {
    throw new Error(`wrk failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  }
  if (/Non-2xx/.test(text)) throw new Error(`wrk saw errors: ${text}`);
  return { requests: Number(requests), rps: Number(rps) };
}

/** Runs wrk on `url` while `pid` is traced; returns wrk's figures and the counters. */
async function traced(pid: number, url: string, followGoroutines: boolean) {
  const stop = new AbortController();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => ready = r);
  let spans = 0;
  const done = runGoTrace({
    pid,
    signal: stop.signal,
    onSpan: () => spans++,
    onReady: () => ready(),
    locate: { followGoroutines },
  });
  const first = await Promise.race([isReady.then(() => undefined), done]);
  if (first !== undefined) throw new Error(first.ok ? "session ended" : first.error);
  const w = await wrk(url);
  stop.abort();
  const result: GoTraceResult = await done;
  if (!result.ok) throw new Error(result.error);
  return { w, result, spans };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const built = await buildGoServer(values.toolchain);
if (!built.ok) throw new Error(built.error);
const server = await startGoServer(built.path);
const rounds = Number(values.rounds);
try {
  const endpoints = [
    { name: "/users/{id}", url: `http://127.0.0.1:${server.port}/users/1` },
    { name: "/backend/{id}", url: `http://127.0.0.1:${server.backendPort}/backend/1` },
  ];
  console.log(
    `Go fixture server built by ${values.toolchain}; wrk -t${values.threads} ` +
      `-c${values.connections} -d${values.duration}s; ${navigator.hardwareConcurrency} CPUs; ` +
      `median of ${rounds} alternating rounds`,
  );
  console.log("endpoint        probes          req/s   ratio  hits/req  spans/req");
  await wrk(endpoints[0]!.url); // warm up: connections, caches, the Go heap
  for (const e of endpoints) {
    const base: number[] = [];
    const runs = { all: [] as number[], "no newproc1": [] as number[] };
    const hits = { all: 0, "no newproc1": 0 };
    const spans = { all: 0, "no newproc1": 0 };
    // Alternate the configurations so drift in the machine's load hits each alike.
    for (let r = 0; r < rounds; r++) {
      base.push((await wrk(e.url)).rps);
      for (const label of ["all", "no newproc1"] as const) {
        const t = await traced(server.pid, e.url, label === "all");
        runs[label].push(t.w.rps);
        hits[label] = probeHits(t.result.stats) / t.w.requests;
        spans[label] = t.spans / t.w.requests;
      }
    }
    const b = median(base);
    console.log(`${e.name.padEnd(15)} none       ${b.toFixed(0).padStart(9)}   1.000`);
    for (const label of ["all", "no newproc1"] as const) {
      const m = median(runs[label]);
      console.log(
        `${e.name.padEnd(15)} ${label.padEnd(11)}${m.toFixed(0).padStart(9)}   ` +
          `${(m / b).toFixed(3)}  ${hits[label].toFixed(2).padStart(8)}  ` +
          `${spans[label].toFixed(2).padStart(9)}`,
      );
    }
  }
} finally {
  await server.stop();
}
