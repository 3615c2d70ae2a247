/**
 * The agent under a flood, traced by this checkout's agent and, alternated in the same run,
 * by another's (`--against DIR`, a checkout with its BPF objects built). Prints per run the
 * agent's CPU per span, spans per request, the rings' drops and the RSS of its BPF rings
 * (`bpf-map`), then each checkout's medians.
 *
 *   deno task bench:flood [--target go|h2|nginx|python] [--rounds 3] [--seconds 2] [--against DIR]
 *     [--nice N] [--programs] [--warm S] [--split] [--v8-flags FLAGS]
 *
 * `go` (the default; `deno task bench:go-flood`): `wrk -t1 -c4` for `--seconds` against the Go
 * fixture's trivial handler (go1.26.8). `h2`: the bench's `h2load -n60000 -c60 -m10` against
 * nginx over TLS and HTTP/2, a burst of about a second met by an agent just ready. `nginx`:
 * `wrk -t1 -c4` for `--seconds` against nginx on plain HTTP, as the bench's `nginx` row.
 * `python`: the same against the Python HTTPS server (OpenSSL), as the bench's `https` row.
 * `--nice -10` runs the agent's threads at that priority: on a machine shared with other work,
 * what it loses when it has the CPU. `--programs`: also each BPF program's runs and run time
 * per request during the flood, as the kernel counts them (`kernel.bpf_stats_enabled`): what
 * the probes' own code costs the target, besides the traps. `--warm S`: a flood of S seconds
 * after `ready` before the measured one (V8 has compiled the span path by then: the agent as it
 * runs for hours, not as it starts). `--split`: each round also floods the target untraced,
 * and traced by an agent stopped (SIGSTOP) for the flood: its probes' programs run and the
 * ring fills, then refuses their records. The target's rate in each, against untraced, splits
 * what tracing costs it between the kernel's side (the traps and programs, less the ring's
 * copy) and the agent's CPU beside it. `--v8-flags`: the agent's V8 flags (default: V8's own, as
 * `deno run -A mod.ts` runs; `./upspan` gives its own).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { buildGoServer, startGoServer } from "../tests/targets/go/build.ts";
import { startNginx } from "../tests/targets/nginx.ts";
import { makeCert } from "../tests/targets/certs.ts";
import { startPythonServer } from "../tests/targets/targets.ts";
import type * as Measure from "./bench/measure.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    target: { type: "string", default: "go" },
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "2" },
    against: { type: "string" },
    nice: { type: "string" },
    programs: { type: "boolean", default: false },
    warm: { type: "string", default: "0" },
    split: { type: "boolean", default: false },
    "v8-flags": { type: "string" },
  },
});
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const trees = values.against ? [values.against.replace(/\/$/, ""), here] : [here];

/** The RSS of the agent's BPF map mappings (its rings), KiB. */
function ringsKb(pid: number): number {
  let kb = 0, mapping = "";
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) mapping = line;
    else if (line.startsWith("Rss:") && mapping.includes("bpf-map")) {
      kb += Number(line.split(/\s+/)[1]);
    }
  }
  return kb;
}

/** Every loaded BPF program's runs and run time so far (counted while bpf_stats is on), by id. */
function programRuns(): Map<number, { name: string; runs: number; ns: number }> {
  const out = new Deno.Command("bpftool", { args: ["-j", "prog", "show"] }).outputSync();
  const runs = new Map<number, { name: string; runs: number; ns: number }>();
  for (const p of JSON.parse(new TextDecoder().decode(out.stdout))) {
    runs.set(p.id, { name: p.name, runs: p.run_cnt ?? 0, ns: p.run_time_ns ?? 0 });
  }
  return runs;
}

/** The programs that ran at least once every 10 requests between two counts, per request. */
function perRequest(
  before: ReturnType<typeof programRuns>,
  after: ReturnType<typeof programRuns>,
  requests: number,
): string {
  const lines: string[] = [];
  for (const [id, a] of after) {
    const b = before.get(id) ?? { runs: 0, ns: 0 };
    if (a.runs - b.runs < requests / 10) continue;
    lines.push(
      `  ${a.name.padEnd(24)} ${((a.runs - b.runs) / requests).toFixed(2)} runs/request, ${
        ((a.ns - b.ns) / (a.runs - b.runs)).toFixed(0)
      } ns/run, ${((a.ns - b.ns) / requests).toFixed(0)} ns/request`,
    );
  }
  return lines.join("\n");
}

/** A target under its flood: the agent's arguments and one flood, as wrk or h2load reports it. */
interface Flooded extends AsyncDisposable {
  args: string[];
  flood(m: typeof Measure): Promise<Measure.WrkResult>;
}

async function goTarget(): Promise<Flooded> {
  const built = await buildGoServer("go1.26.8");
  if (!built.ok) throw new Error(built.error);
  const server = await startGoServer(built.path);
  const url = `http://127.0.0.1:${server.backendPort}/backend/1`;
  return {
    args: ["--pid", String(server.pid)],
    flood: (m) => m.wrk(url, Number(values.seconds)),
    [Symbol.asyncDispose]: server.stop,
  };
}

async function h2Target(): Promise<Flooded> {
  const tls = await makeCert(await Deno.makeTempDir());
  const server = await startNginx({ "hello.txt": "hello\n" }, { tls, http2: true });
  const url = `https://127.0.0.1:${server.port}/hello.txt`;
  return {
    args: server.pids.flatMap((p) => ["--pid", String(p)]),
    flood: (m) => m.h2load(url),
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

async function nginxTarget(): Promise<Flooded> {
  const server = await startNginx({ "hello.txt": "hello\n" });
  const url = `http://127.0.0.1:${server.port}/hello.txt`;
  return {
    args: server.pids.flatMap((p) => ["--pid", String(p)]),
    flood: (m) => m.wrk(url, Number(values.seconds)),
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

async function pythonTarget(): Promise<Flooded> {
  const server = await startPythonServer(await makeCert(await Deno.makeTempDir()));
  const url = `https://127.0.0.1:${server.port}/hello`;
  return {
    args: ["--pid", String(server.pid)],
    flood: (m) => m.wrk(url, Number(values.seconds)),
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

const targets: Record<string, () => Promise<Flooded>> = {
  go: goTarget,
  h2: h2Target,
  nginx: nginxTarget,
  python: pythonTarget,
};
const start = targets[values.target];
if (start === undefined) {
  throw new Error(`--target is go, h2, nginx or python, not ${values.target}`);
}
await using target = await start();
const figures = new Map(trees.map((t) => [t, {
  cpu: [] as number[],
  spans: [] as number[],
  /** Rates against untraced (`--split`): the agent stopped, the agent running. */
  stopped: [] as number[],
  running: [] as number[],
}]));
const warm = Number(values.warm);
const denoFlags = values["v8-flags"] ? [`--v8-flags=${values["v8-flags"]}`] : [];
const measure: typeof Measure = await import(`${here}/scripts/bench/measure.ts`);
for (let r = 0; r < Number(values.rounds); r++) {
  const untraced = values.split ? (await target.flood(measure)).rps : undefined;
  if (untraced !== undefined) console.log(`untraced: ${untraced.toFixed(0)} req/s`);
  for (const tree of trees) {
    const m: typeof Measure = await import(`${tree}/scripts/bench/measure.ts`);
    if (untraced !== undefined) {
      const agent = await m.startUpspan(target.args, {}, denoFlags);
      if (warm > 0) await target.flood(m);
      Deno.kill(agent.pid, "SIGSTOP");
      const w = await target.flood(m).finally(() => Deno.kill(agent.pid, "SIGCONT"));
      await agent.stop();
      figures.get(tree)!.stopped.push(w.rps / untraced);
      console.log(
        `${tree}: agent stopped: ${w.rps.toFixed(0)} req/s, ${
          (w.rps / untraced).toFixed(2)
        } × untraced`,
      );
    }
    const agent = await m.startUpspan(target.args, {}, denoFlags);
    let base = { spans: 0, cpuSeconds: 0 };
    if (warm > 0) {
      await target.flood(m);
      await new Promise((r) => setTimeout(r, 500)); // the warm flood's last spans are printed
      base = agent.sample();
    }
    if (values.nice !== undefined) {
      for (const t of Deno.readDirSync(`/proc/${agent.pid}/task`)) {
        await new Deno.Command("renice", {
          args: ["-n", values.nice, "-p", t.name],
          stdout: "null",
        })
          .output();
      }
    }
    const stats = "/proc/sys/kernel/bpf_stats_enabled";
    if (values.programs) Deno.writeTextFileSync(stats, "1");
    let w: Measure.WrkResult, programs: string | undefined;
    try {
      const before = values.programs ? programRuns() : undefined;
      w = await target.flood(m);
      programs = before && perRequest(before, programRuns(), w.requests);
    } finally {
      if (values.programs) Deno.writeTextFileSync(stats, "0");
    }
    await new Promise((r) => setTimeout(r, 500));
    const rings = ringsKb(agent.pid);
    const rep = await agent.stop();
    const cpu = (rep.cpuSeconds - base.cpuSeconds) * 1e6 / (rep.spans - base.spans),
      spans = (rep.spans - base.spans) / w.requests;
    if (untraced !== undefined) figures.get(tree)!.running.push(w.rps / untraced);
    figures.get(tree)!.cpu.push(cpu);
    figures.get(tree)!.spans.push(spans);
    console.log(
      `${tree}: ${w.rps.toFixed(0)} req/s, ${cpu.toFixed(1)} µs CPU/span, ${
        spans.toFixed(3)
      } spans/request${
        untraced === undefined ? "" : `, ${(w.rps / untraced).toFixed(2)} × untraced`
      }, ${m.agentCounters(rep.stderr).dropped} dropped, rings ${(rings / 1024).toFixed(1)} MB RSS`,
    );
    if (programs) console.log(programs);
  }
}
const { median } = measure;
for (const [tree, f] of figures) {
  console.log(
    `${tree}: median ${median(f.cpu).toFixed(1)} µs CPU/span, ${
      median(f.spans).toFixed(3)
    } spans/request (ranges ${Math.min(...f.cpu).toFixed(1)}–${Math.max(...f.cpu).toFixed(1)}, ${
      Math.min(...f.spans).toFixed(3)
    }–${Math.max(...f.spans).toFixed(3)})`,
  );
  const ratio = (a: number[]) =>
    `${median(a).toFixed(2)} (${Math.min(...a).toFixed(2)}–${Math.max(...a).toFixed(2)})`;
  if (values.split) {
    console.log(
      `${tree}: × untraced, agent stopped ${ratio(f.stopped)}, agent running ${ratio(f.running)}`,
    );
  }
}
