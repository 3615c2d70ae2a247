// Probes are file descriptors: when the agent dies, even by SIGKILL, the kernel removes
// its programs, links and uprobes, and the target goes on serving.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { startPythonServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";

interface BpfProg {
  id: number;
  name?: string;
  pids?: { pid: number }[];
}

async function bpftool(...args: string[]): Promise<unknown[]> {
  const out = await new Deno.Command("bpftool", { args: ["-j", ...args] }).output();
  assert.ok(out.success, `bpftool ${args.join(" ")} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout) || "[]");
}

async function programsOf(pid: number): Promise<number[]> {
  const progs = (await bpftool("prog", "show")) as BpfProg[];
  return progs.filter((p) => p.pids?.some((o) => o.pid === pid)).map((p) => p.id);
}

async function linkIds(progIds: number[]): Promise<number[]> {
  const links = (await bpftool("link", "show")) as { id: number; prog_id: number }[];
  return links.filter((l) => progIds.includes(l.prog_id)).map((l) => l.id);
}

async function uprobeEvents(): Promise<string> {
  return await Deno.readTextFile("/sys/kernel/tracing/uprobe_events").catch(() => "");
}

for (const signal of ["SIGKILL", "SIGTERM"] as const) {
  Deno.test(`agent stopped by ${signal}: no probe remains and the target keeps serving`, async () => {
    const { cert, key } = await makeCert(await Deno.makeTempDir());
    await using server = await startPythonServer({ cert, key });
    const eventsBefore = await uprobeEvents();
    const agent = await startAgent(["--pid", String(server.pid)]);
    const base = `https://127.0.0.1:${server.port}`;
    await curl(`${base}/hello`);
    await agent.waitForSpans((s) => s.kind === "SERVER", 1);

    const progs = await programsOf(agent.pid);
    assert.ok(progs.length >= 7, `the agent holds its programs (${progs.length})`);
    const links = await linkIds(progs);
    assert.ok(links.length >= 4, `tracepoint links are listed (${links.length})`);

    const code = await agent.stop(signal);
    if (signal === "SIGTERM") assert.equal(code, 0, "SIGTERM: a clean exit");

    // The kernel releases the objects once the last fd is gone (asynchronously).
    let left: number[] = progs;
    for (let i = 0; i < 50 && left.length; i++) {
      const live = ((await bpftool("prog", "show")) as BpfProg[]).map((p) => p.id);
      left = progs.filter((id) => live.includes(id));
      if (left.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(left, [], "no program of the agent remains");
    assert.deepEqual(await linkIds(progs), [], "no link of the agent remains");
    assert.equal(await uprobeEvents(), eventsBefore, "no tracefs uprobe entry left behind");
    assert.equal(await curl(`${base}/hello`), "hello\n", "target still serves");
  });
}
