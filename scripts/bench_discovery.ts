/**
 * How fast process discovery is on a busy host: starts N `sleep` processes (default
 * 1,000; `--processes N`) and one TCP listener, then times each selector, one poll of the
 * process watcher, how soon an exec is noticed, and the memory used.
 *
 *   deno run -A scripts/bench_discovery.ts [--processes 1000] [--rounds 10]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Selectors, selectProcesses } from "../src/discovery/selectors.ts";
import { watchProcesses } from "../src/discovery/watch.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    processes: { type: "string", default: "1000" },
    rounds: { type: "string", default: "10" },
  },
});
const count = Number(values.processes);
const rounds = Number(values.rounds);

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const cpuTicks = () => {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (1/100 s)
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// N sleeps, children of one shell so that they end together.
const shell = new Deno.Command("sh", {
  args: [
    "-c",
    `i=0; while [ $i -lt ${count} ]; do sleep 600 & i=$((i+1)); done; echo started; wait`,
  ],
  stdout: "piped",
}).spawn();
await shell.stdout.pipeThrough(new TextDecoderStream()).getReader().read();
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = (listener.addr as Deno.NetAddr).port;
const total = [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).length;
console.log(`${count} sleeps started; ${total} processes on the host (2 shared cores)`);

const rss0 = Deno.memoryUsage().rss;
async function time(name: string, selectors: Selectors) {
  const ms: number[] = [];
  let matched = 0;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const r = await selectProcesses(selectors);
    ms.push(performance.now() - t0);
    matched = r.matched.length;
  }
  console.log(
    `${name.padEnd(28)} median ${median(ms).toFixed(1)} ms, max ${
      Math.max(...ms).toFixed(1)
    } ms (${matched} matched)`,
  );
}
await time("--all", { all: true });
await time("--exe sleep", { exes: ["sleep"] });
await time("--exe /usr/**/python3*", { exes: ["/usr/**/python3*"] });
await time(`--port ${port} (self excluded)`, { ports: [port] });
await time("--container abc", { containers: ["abc"] });
await time("--all --exe --port --container", {
  all: true,
  exes: ["sleep"],
  ports: [port],
  containers: ["abc"],
});

// The watcher: CPU spent polling at its default interval, and how soon an exec is seen.
for (const intervalMs of [250, 500, 1000]) {
  const ac = new AbortController();
  const ticks0 = cpuTicks();
  const t0 = performance.now();
  const watching = watchProcesses({ intervalMs, signal: ac.signal });
  await new Promise((r) => setTimeout(r, 5000));
  ac.abort();
  await watching;
  const cpu = (cpuTicks() - ticks0) * 10 / (performance.now() - t0);
  console.log(`watch every ${intervalMs} ms: ${(cpu * 100).toFixed(1)}% of one core`);
}
{
  const lags: number[] = [];
  let startedAt = 0;
  let seen: (() => void) | undefined;
  const ac = new AbortController();
  const mine = new Set<number>();
  const watching = watchProcesses({
    intervalMs: 500,
    signal: ac.signal,
    filter: (p) => mine.has(p.pid) && p.comm === "sleep",
    onExec: () => {
      lags.push(performance.now() - startedAt);
      seen?.();
    },
  });
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 10; i++) {
    const child = new Deno.Command("sh", { args: ["-c", "read x; exec sleep 5"], stdin: "piped" })
      .spawn();
    mine.add(child.pid);
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 250));
    const done = new Promise<void>((r) => (seen = r));
    const w = child.stdin.getWriter();
    startedAt = performance.now();
    await w.write(new TextEncoder().encode("go\n"));
    await w.close();
    await done;
    child.kill("SIGKILL");
    await child.status;
  }
  ac.abort();
  await watching;
  console.log(
    `exec noticed after (500 ms interval, the default): median ${median(lags).toFixed(0)} ms, max ${
      Math.max(...lags).toFixed(0)
    } ms`,
  );
}
console.log(
  `RSS: ${mb(Deno.memoryUsage().rss)} (${
    mb(Deno.memoryUsage().rss - rss0)
  } more than before selecting)`,
);

listener.close();
const kids = Deno.readTextFileSync(`/proc/${shell.pid}/task/${shell.pid}/children`).trim().split(
  /\s+/,
);
for (const pid of kids) {
  try {
    Deno.kill(Number(pid), "SIGKILL");
  } catch { /* gone */ }
}
await shell.status;
