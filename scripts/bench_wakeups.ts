/**
 * What one sleep and wake-up costs the agent: the CPU (all of its threads, from
 * `/proc/self/task/*\/schedstat`) per wait on the engine's epoll set through a non-blocking
 * FFI call (as the engine waits on its rings) and per `setTimeout`, for a few sleep lengths.
 * On a VM the wake-up itself is most of it, whichever way the process sleeps: the engine
 * sleeps as few times as the records let it (see `src/trace.ts`).
 *
 *   deno run -A scripts/bench_wakeups.ts [--waits 200]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { WakeupSet } from "../ffi/mod.ts";
import { schedCpuSeconds } from "./bench/measure.ts";

const cpuUs = () => schedCpuSeconds("self") * 1e6;

const { values } = parseArgs({
  args: Deno.args,
  options: { waits: { type: "string", default: "200" } },
});
const waits = Number(values.waits);

const set = new WakeupSet();
try {
  console.log("sleep   epoll (FFI)   setTimeout   per wait: µs CPU (ms wall)");
  for (const ms of [0, 1, 5, 20, 50]) {
    const n = ms === 0 ? waits * 20 : waits;
    let c = cpuUs(), t = performance.now();
    for (let i = 0; i < n; i++) await set.wait(ms);
    const epoll = `${((cpuUs() - c) / n).toFixed(1)} (${((performance.now() - t) / n).toFixed(2)})`;
    c = cpuUs(), t = performance.now();
    // Awaited back to back, as a loop would: timers' nesting clamp applies from the sixth.
    for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, ms));
    const timer = `${((cpuUs() - c) / n).toFixed(1)} (${((performance.now() - t) / n).toFixed(2)})`;
    console.log(`${String(ms).padStart(2)} ms   ${epoll.padStart(11)}   ${timer.padStart(10)}`);
  }
} finally {
  set.close();
}
