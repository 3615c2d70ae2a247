/**
 * The agent's CPU per span by thread: its main (JavaScript) thread apart from V8's
 * background threads (TurboFan compiling, concurrent GC), from `/proc/PID/task/*\/schedstat`,
 * while the Python target takes a paced load, measured after a warm-up.
 *
 *   deno task profile:threads [--warm 3] [--seconds 4] [--rate 1000] [--idle]
 *     [--v8-flags --no-concurrent-recompilation]
 *
 * `--idle`: no load in the measured window (the agent's own wake-ups, per span of the
 * warm-up's rate). `--v8-flags`: passed to the agent's V8.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startPythonServer } from "../tests/targets/targets.ts";
import { pacedLoad } from "./bench/paced_load.ts";
import { startUpspan, threadCpuSeconds } from "./bench/measure.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    warm: { type: "string", default: "3" },
    seconds: { type: "string", default: "4" },
    rate: { type: "string", default: "1000" },
    idle: { type: "boolean", default: false },
    "v8-flags": { type: "string" },
  },
});
const rate = Number(values.rate), seconds = Number(values.seconds);

await using python = await startPythonServer({});
const flags = values["v8-flags"];
const agent = await startUpspan(
  ["--pid", String(python.pid)],
  {},
  flags ? [`--v8-flags=${flags}`] : [],
);
await pacedLoad(python.port, rate, Number(values.warm));
const before = threadCpuSeconds(agent.pid), spans0 = agent.sample().spans;
if (values.idle) await new Promise((r) => setTimeout(r, seconds * 1000));
else await pacedLoad(python.port, rate, seconds);
await new Promise((r) => setTimeout(r, 200));
const after = threadCpuSeconds(agent.pid);
// Idle: per span of the rate the warm-up ran at, as the agent's own share of that load.
const per = values.idle ? rate * seconds : agent.sample().spans - spans0;
let total = 0;
for (const [thread, cpu] of after) {
  const used = cpu - (before.get(thread) ?? 0);
  total += used;
  if (used > 0) console.log(`${thread.padEnd(24)} ${(used * 1e6 / per).toFixed(1)} µs/span`);
}
console.log(`total ${(total * 1e6 / per).toFixed(1)} µs/span (${per} spans)`);
await agent.stop();
