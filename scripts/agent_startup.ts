/**
 * The agent's start-up on one Python target: time to its `ready` line and the CPU it used by
 * then, its own (user) apart from the kernel's on its behalf (system: verifying and loading
 * the BPF programs, placing the probes). `--mod` runs another checkout's mod.ts, for a
 * before and after in one run; `--env` adds to the agent's environment; `--target go`: the
 * Go fixture server (Go 1.26) instead, whose first process loads Go's object too.
 *
 *   deno task profile:startup [--runs 5] [--target python|go] [--mod PATH]… [--env NAME=VALUE]…
 *
 * With several `--mod`, runs alternate between them.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startPythonServer } from "../tests/targets/targets.ts";
import { buildGoServer, startGoServer } from "../tests/targets/go/build.ts";
import { agentV8Flags } from "./bench/measure.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "5" },
    target: { type: "string", default: "python" },
    mod: { type: "string", multiple: true, default: [] },
    env: { type: "string", multiple: true, default: [] },
  },
});
const mods = values.mod.length ? values.mod : [new URL("../mod.ts", import.meta.url).pathname];
const env = Object.fromEntries(values.env.map((e) => {
  const i = e.indexOf("=");
  return [e.slice(0, i), e.slice(i + 1)];
}));
const TICK_MS = 10; // USER_HZ 100

/** The process the agent traces. */
async function target(): Promise<{ pid: number } & AsyncDisposable> {
  if (values.target === "python") return await startPythonServer({});
  if (values.target !== "go") throw new Error(`--target is python or go, not ${values.target}`);
  const built = await buildGoServer("go1.26.8");
  if (!built.ok) throw new Error(built.error);
  const server = await startGoServer(built.path);
  return { pid: server.pid, [Symbol.asyncDispose]: server.stop };
}

await using traced = await target();
const results = new Map<string, string[]>(mods.map((m) => [m, []]));
for (let run = 0; run < Number(values.runs); run++) {
  for (const mod of mods) {
    const t0 = performance.now();
    const agent = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--v8-flags=${agentV8Flags()}`,
        "-A",
        mod,
        "--pid",
        String(traced.pid),
        "--format",
        "json",
      ],
      env,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const reader = agent.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let err = "";
    while (!/^ready/m.test(err)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${mod} stopped before ready:\n${err}`);
      err += value;
    }
    const ms = performance.now() - t0;
    const stat = Deno.readTextFileSync(`/proc/${agent.pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    agent.kill("SIGINT");
    await reader.cancel();
    await agent.status;
    results.get(mod)!.push(
      `${ms.toFixed(0)} ms (CPU user ${Number(f[11]) * TICK_MS}, system ${
        Number(f[12]) * TICK_MS
      } ms)`,
    );
  }
}
for (const [mod, runs] of results) console.log(`${mod}: ready after ${runs.join("; ")}`);
