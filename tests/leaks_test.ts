// Nothing leaked: however the agent ends — SIGKILL, SIGTERM, SIGINT, --duration, its only
// target exiting, the reader of its spans going away (stdout closed, as in `upspan | head`),
// SIGTERM while the OTLP backend accepts and never answers — no BPF program, link or map it
// held remains in the kernel, no tracefs uprobe entry is left, and the target goes on
// serving. Each of them exits by itself with 0 (SIGKILL aside).
import assert from "node:assert/strict";
import { curl } from "./agent.ts";
import { startServer } from "./targets/targets.ts";
import { bpfHeldBy, bpfRemaining, spawnAgent } from "./targets/agent_process.ts";
import { startOtlpBackend } from "./targets/otlp_backend.ts";

const FAULT_SERVER = new URL("./targets/fault_server.py", import.meta.url).pathname;
const sleep = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms));

/** Whether the agent's sibling in the pipeline (grep) still runs. */
async function grepRunning(agentPid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${agentPid}/stat`).catch(() => "");
  const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  const kids = await Deno.readTextFile(`/proc/${ppid}/task/${ppid}/children`).catch(() => "");
  return kids.trim().split(" ").some((k) => k !== "" && Number(k) !== agentPid);
}

async function uprobeEvents(): Promise<string> {
  return await Deno.readTextFile("/sys/kernel/tracing/uprobe_events").catch(() => "");
}

type Ending =
  | "SIGKILL"
  | "SIGTERM"
  | "SIGINT"
  | "duration"
  | "target exits"
  | "stdout closed"
  | "backend stuck";

const ENDINGS: { ending: Ending; code?: number }[] = [
  { ending: "SIGKILL" },
  { ending: "SIGTERM", code: 0 },
  { ending: "SIGINT", code: 0 },
  { ending: "duration", code: 0 },
  { ending: "target exits", code: 0 },
  // No run-time error is left that ends the agent after attach (a process vanishing
  // mid-attach used to; faults_test.ts covers it now that it does not): the reader going
  // away is the one ending the agent comes to by itself on an error (EPIPE).
  { ending: "stdout closed", code: 0 },
  { ending: "backend stuck", code: 0 },
];

for (const { ending, code } of ENDINGS) {
  Deno.test(`leaks: after ${ending}, no BPF program, link or map of the agent remains`, async () => {
    await using server = await startServer("python3", [FAULT_SERVER]);
    await using backend = startOtlpBackend("silent");
    const before = await uprobeEvents();
    const args = ["--format", "json", "--pid", String(server.pid)];
    // Long enough for the steps below to see its probes before it ends.
    if (ending === "duration") args.push("--duration", "10");
    if (ending === "backend stuck") args.push("--otlp-endpoint", backend.url);
    // Spans go to a grep that leaves at the first with "close=1"; the exit status is the
    // agent's (pipefail; grep's is 0 once it has matched).
    const wrapper = ending === "stdout closed"
      ? ["bash", "-c", 'set -o pipefail; "$@" | grep -q -m1 close=1', "bash"]
      : undefined;
    const env = ending === "backend stuck" ? { OTEL_BSP_SCHEDULE_DELAY: "100" } : undefined;
    const started = performance.now();
    await using agent = spawnAgent(args, { wrapper, env });
    await agent.waitForStderr(/^ready: /m, 30_000);
    // OpenSSL loaded late: uprobes too, not only tracepoints.
    await curl(`http://127.0.0.1:${server.port}/load`);
    await agent.waitForStderr(/OpenSSL loaded/, 10_000);
    await curl(`http://127.0.0.1:${server.port}/hello`);
    // The "OpenSSL loaded" line comes just before its uprobes are attached.
    // One link per tracepoint the ready line counts, and 6 OpenSSL uprobes.
    const tracepoints = Number(/^ready: .*\((\d+) tracepoints/m.exec(agent.stderr())?.[1]);
    assert.ok(tracepoints > 0, agent.stderr());
    const links = tracepoints + 6;
    let held = await bpfHeldBy(await agent.pid());
    for (let i = 0; i < 30 && held.links.length < links; i++) {
      await sleep(100);
      held = await bpfHeldBy(await agent.pid());
    }
    assert.ok(held.progs.length >= 7, `programs held: ${held.progs.length}`);
    assert.ok(
      held.links.length >= links,
      `${tracepoints} tracepoint + 6 uprobe links: ${held.links.length}`,
    );
    assert.ok(held.maps.length >= 3, `maps held: ${held.maps.length}`);

    let exit: number;
    // When the ending was provoked (a figure, not a pass/fail: timing is for the record).
    let t0 = performance.now();
    if (ending === "SIGKILL" || ending === "SIGTERM" || ending === "SIGINT") {
      exit = await agent.stop(ending);
    } else if (ending === "backend stuck") {
      await backend.waitForRequests(1);
      t0 = performance.now();
      exit = await agent.stop("SIGTERM");
    } else if (ending === "duration") {
      t0 = started + 10_000; // an upper bound: the agent's clock starts after Deno's start-up
      exit = (await agent.status).code;
    } else if (ending === "target exits") {
      t0 = performance.now();
      await server[Symbol.asyncDispose]();
      exit = (await agent.status).code;
    } else {
      await curl(`http://127.0.0.1:${server.port}/hello?close=1`);
      // grep has gone once that span is out; the next write finds no reader.
      for (let i = 0; i < 100 && (await grepRunning(await agent.pid())); i++) await sleep(50);
      t0 = performance.now();
      await curl(`http://127.0.0.1:${server.port}/hello?after=1`);
      exit = (await agent.status).code;
    }
    const took = `, ${Math.round(performance.now() - t0)} ms after`;
    if (code !== undefined) assert.equal(exit, code, agent.stderr());
    const left = await bpfRemaining(held);
    assert.deepEqual(left, { progs: [], links: [], maps: [] }, `${ending}: left behind`);
    assert.equal(await uprobeEvents(), before, "no tracefs uprobe entry left behind");
    if (ending !== "target exits") {
      assert.equal(await curl(`http://127.0.0.1:${server.port}/hello`), "hello\n");
    }
    console.log(
      `${ending}: exit ${exit}${took}; released ${held.progs.length} programs, ` +
        `${held.links.length} links, ${held.maps.length} maps`,
    );
  });
}
