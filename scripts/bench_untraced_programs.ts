/**
 * What the capture's programs cost a process it does not trace, measured by the kernel: the
 * run time per run of each program (`kernel.bpf_stats_enabled`) while a socketpair loop of
 * 1-byte writes and reads runs beside an agent that traces an unrelated `sleep`, and beside the
 * floor's counting-only programs at the same hooks, alternated. The kernel's clock reads around
 * each run are in every figure (the floor's is mostly them), so what a program adds is its
 * figure less the floor's. The loop's own ns per syscall is printed too, but on a shared
 * machine it varies by tens of ns from run to run; the programs' run time is the precise one.
 *
 *   deno task bench:untraced [--rounds 3] [--against DIR]
 *     [--method socket|tp_btf|tracepoint]
 *
 * `--against DIR`: another checkout (its BPF objects built), alternated with this one.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { syscallLoop } from "./bench/syscall_loop.ts";
import { startFloor } from "./bench/floor.ts";
import type { SyscallAttach } from "../src/capture/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    against: { type: "string" },
    method: { type: "string", default: "socket" },
  },
});
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const trees = values.against ? [values.against.replace(/\/$/, ""), here] : [here];

interface ProgStat {
  name: string;
  run_cnt?: number;
  run_time_ns?: number;
}

/** Run count and run time of the loaded programs, by name, summed. */
function programStats(): Map<string, { runs: number; ns: number }> {
  const out = new Deno.Command("bpftool", { args: ["-j", "prog", "show"] }).outputSync();
  const stats = new Map<string, { runs: number; ns: number }>();
  for (const p of JSON.parse(new TextDecoder().decode(out.stdout)) as ProgStat[]) {
    const s = stats.get(p.name) ?? { runs: 0, ns: 0 };
    s.runs += p.run_cnt ?? 0;
    s.ns += p.run_time_ns ?? 0;
    stats.set(p.name, s);
  }
  return stats;
}

const sysctl = (v: number) =>
  new Deno.Command("sysctl", { args: ["-qw", `kernel.bpf_stats_enabled=${v}`] }).outputSync();

/** Runs the loop with the kernel's program statistics on; prints what the programs took. */
async function measure(label: string): Promise<void> {
  sysctl(1);
  try {
    const before = programStats();
    const loop = await syscallLoop("socket", 100);
    const after = programStats();
    const rows: string[] = [];
    for (const [name, s] of after) {
      const b = before.get(name) ?? { runs: 0, ns: 0 };
      const runs = s.runs - b.runs;
      if (runs < 100_000) continue; // the loop's programs, not the rare ones
      rows.push(`${name} ${((s.ns - b.ns) / runs).toFixed(1)} ns/run`);
    }
    console.log(`${label}: loop ${loop.toFixed(1)} ns/syscall; ${rows.join(", ")}`);
  } finally {
    sysctl(0);
  }
}

const sleeper = new Deno.Command("sleep", { args: ["3600"] }).spawn();
await syscallLoop("socket", 20);
try {
  for (let r = 0; r < Number(values.rounds); r++) {
    const floor = startFloor({ syscalls: values.method as SyscallAttach });
    try {
      await measure("floor");
    } finally {
      await floor.stop();
    }
    for (const tree of trees) {
      const { startUpspan } = await import(`${tree}/scripts/bench/measure.ts`);
      const agent = await startUpspan(["--pid", String(sleeper.pid)], {
        UPSPAN_SYSCALL_ATTACH: values.method!,
      });
      try {
        await measure(tree);
      } finally {
        await agent.stop();
      }
    }
  }
} finally {
  sleeper.kill();
  await sleeper.status;
}
