// Nothing leaked: however the agent ends — SIGKILL, SIGTERM, SIGINT, --duration, its only
// target exiting, a run-time error after attach, SIGTERM while the OTLP backend accepts and
// never answers — no BPF program, link or map it held
// remains in the kernel, no tracefs uprobe entry is left, and the target goes on serving.
import assert from "node:assert/strict";
import { curl } from "./agent.ts";
import { startServer } from "./targets/targets.ts";
import { bpfHeldBy, bpfRemaining, spawnAgent } from "./targets/agent_process.ts";
import { startOtlpBackend } from "./targets/otlp_backend.ts";

const FAULT_SERVER = new URL("./targets/fault_server.py", import.meta.url).pathname;
const sleep = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms));

async function uprobeEvents(): Promise<string> {
  return await Deno.readTextFile("/sys/kernel/tracing/uprobe_events").catch(() => "");
}

type Ending =
  | "SIGKILL"
  | "SIGTERM"
  | "SIGINT"
  | "duration"
  | "target exits"
  | "run-time error"
  | "backend stuck";

const ENDINGS: { ending: Ending; code?: number }[] = [
  { ending: "SIGKILL" },
  { ending: "SIGTERM", code: 0 },
  { ending: "SIGINT", code: 0 },
  { ending: "duration", code: 0 },
  { ending: "target exits", code: 0 },
  // Provoked for real: a forked child killed while strace holds its uprobe attach, which
  // today ends the agent with exit 1 (see faults_test.ts). Once that is fixed the agent
  // survives it and is stopped with SIGTERM instead: the check holds either way.
  { ending: "run-time error" },
  { ending: "backend stuck", code: 0 },
];

for (const { ending, code } of ENDINGS) {
  Deno.test(`leaks: after ${ending}, no BPF program, link or map of the agent remains`, async () => {
    await using server = await startServer("python3", [FAULT_SERVER]);
    await using backend = startOtlpBackend("silent");
    const before = await uprobeEvents();
    const args = ["--format", "json", "--pid", String(server.pid)];
    if (ending === "duration") args.push("--duration", "4");
    if (ending === "backend stuck") args.push("--otlp-endpoint", backend.url);
    const wrapper = ending === "run-time error"
      ? [
        "strace",
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        "trace=perf_event_open",
        "-e",
        "inject=perf_event_open:delay_enter=250000",
      ]
      : undefined;
    const env = ending === "backend stuck" ? { OTEL_BSP_SCHEDULE_DELAY: "100" } : undefined;
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
    if (ending === "SIGKILL" || ending === "SIGTERM" || ending === "SIGINT") {
      exit = await agent.stop(ending);
    } else if (ending === "backend stuck") {
      await backend.waitForRequests(1);
      const t0 = performance.now();
      exit = await agent.stop("SIGTERM");
      console.log(`backend stuck: exited ${Math.round(performance.now() - t0)} ms after SIGTERM`);
    } else if (ending === "duration") {
      exit = (await agent.status).code;
    } else if (ending === "target exits") {
      await server[Symbol.asyncDispose]();
      exit = (await agent.status).code;
    } else {
      const child = Number(await curl(`http://127.0.0.1:${server.port}/fork`));
      await agent.waitForStderr(new RegExp(`pid ${child} \\(\\S+\\): OpenSSL in`), 10_000);
      Deno.kill(child, "SIGKILL");
      const ended = await Promise.race([agent.status.then((s) => s.code), sleep(3000)]);
      exit = ended ?? await agent.stop("SIGTERM");
    }
    if (code !== undefined) assert.equal(exit, code, agent.stderr());
    const left = await bpfRemaining(held);
    assert.deepEqual(left, { progs: [], links: [], maps: [] }, `${ending}: left behind`);
    assert.equal(await uprobeEvents(), before, "no tracefs uprobe entry left behind");
    if (ending !== "target exits") {
      assert.equal(await curl(`http://127.0.0.1:${server.port}/hello`), "hello\n");
    }
    console.log(
      `${ending}: exit ${exit}; released ${held.progs.length} programs, ` +
        `${held.links.length} links, ${held.maps.length} maps`,
    );
  });
}
