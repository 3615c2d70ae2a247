/**
 * What an agent tracing a whole host costs while nothing happens: `--all` beside `--processes`
 * idle `sleep`s (dynamically linked, no OpenSSL), the agent's CPU (all threads, from
 * `schedstat`) over 10 s once it has been ready for 5 s. Its own wake-ups and the once-a-second
 * work per traced process are what it spends. `--against DIR` runs another checkout (its BPF
 * objects built) the same way, alternated.
 *
 *   deno task bench:idle [--processes 100] [--rounds 2] [--against DIR]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { schedCpuSeconds } from "./bench/measure.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    processes: { type: "string", default: "100" },
    rounds: { type: "string", default: "2" },
    against: { type: "string" },
  },
});
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const trees = values.against ? [values.against.replace(/\/$/, ""), here] : [here];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sleepers = Array.from(
  { length: Number(values.processes) },
  () => new Deno.Command("sleep", { args: ["3600"], stdout: "null" }).spawn(),
);
try {
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const tree of trees) {
      const agent = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${tree}/mod.ts`, "--all", "--format", "json"],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const lines = agent.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let err = "";
      while (!/^ready/m.test(err)) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`the agent ended before ready:\n${err}`);
        err += value;
      }
      await sleep(5000);
      const c0 = schedCpuSeconds(agent.pid);
      await sleep(10_000);
      const used = (schedCpuSeconds(agent.pid) - c0) * 1000 / 10;
      console.log(`${tree}: ${/^ready[^\n]*/m.exec(err)![0]}; idle CPU ${used.toFixed(1)} ms/s`);
      agent.kill("SIGINT");
      await agent.status;
      await lines.cancel();
    }
  }
} finally {
  for (const s of sleepers) s.kill();
  await Promise.all(sleepers.map((s) => s.status));
}
