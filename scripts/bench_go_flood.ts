/**
 * The agent under a Go flood: `wrk -t1 -c4` for 2 s against the Go fixture's trivial handler
 * (go1.26.8), traced by this checkout's agent and, alternated in the same run, by another's
 * (`--against DIR`, a checkout with its BPF objects built). Prints per run the agent's CPU
 * per span, spans per request, the rings' drops and the RSS of its BPF rings (`bpf-map`).
 *
 *   deno task bench:go-flood [--rounds 3] [--seconds 2] [--against DIR] [--nice N]
 *
 * `--nice -10` runs the agent's threads at that priority: on a machine shared with other work,
 * what it loses when it has the CPU.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { buildGoServer, startGoServer } from "../tests/targets/go/build.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "2" },
    against: { type: "string" },
    nice: { type: "string" },
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

const built = await buildGoServer("go1.26.8");
if (!built.ok) throw new Error(built.error);
const server = await startGoServer(built.path);
try {
  const url = `http://127.0.0.1:${server.backendPort}/backend/1`;
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const tree of trees) {
      const { startUpspan, wrk, agentCounters } = await import(`${tree}/scripts/bench/measure.ts`);
      const agent = await startUpspan(["--pid", String(server.pid)]);
      if (values.nice !== undefined) {
        for (const t of Deno.readDirSync(`/proc/${agent.pid}/task`)) {
          await new Deno.Command("renice", {
            args: ["-n", values.nice, "-p", t.name],
            stdout: "null",
          })
            .output();
        }
      }
      const w = await wrk(url, Number(values.seconds));
      await new Promise((r) => setTimeout(r, 500));
      const rings = ringsKb(agent.pid);
      const rep = await agent.stop();
      console.log(
        `${tree}: ${w.rps.toFixed(0)} req/s, ${
          (rep.cpuSeconds * 1e6 / rep.spans).toFixed(1)
        } µs CPU/span, ${(rep.spans / w.requests).toFixed(3)} spans/request, ${
          agentCounters(rep.stderr).dropped
        } dropped, rings ${(rings / 1024).toFixed(1)} MB RSS`,
      );
    }
  }
} finally {
  await server.stop();
}
