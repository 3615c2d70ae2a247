// Probes are file descriptors: when the agent dies, even by SIGKILL, the kernel removes
// its programs, links and uprobes, and the target goes on serving.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { startPythonServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";

async function bpftool(...args: string[]): Promise<unknown[]> {
  const out = await new Deno.Command("bpftool", { args: ["-j", ...args] }).output();
  assert.ok(out.success, `bpftool ${args.join(" ")} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout) || "[]");
}

/** Ids of the BPF programs and links a process holds, from the kernel's /proc/PID/fdinfo. */
async function heldBy(pid: number): Promise<{ progs: number[]; links: number[] }> {
  const progs = new Set<number>(), links = new Set<number>();
  for await (const e of Deno.readDir(`/proc/${pid}/fdinfo`)) {
    const info = await Deno.readTextFile(`/proc/${pid}/fdinfo/${e.name}`).catch(() => "");
    const prog = /^prog_id:\s*(\d+)/m.exec(info)?.[1];
    const link = /^link_id:\s*(\d+)/m.exec(info)?.[1];
    if (prog) progs.add(Number(prog));
    if (link) links.add(Number(link));
  }
  return { progs: [...progs], links: [...links] };
}

async function liveIds(kind: "prog" | "link"): Promise<number[]> {
  return ((await bpftool(kind, "show")) as { id: number }[]).map((p) => p.id);
}

async function uprobeEvents(): Promise<string> {
  return await Deno.readTextFile("/sys/kernel/tracing/uprobe_events").catch(() => "");
}

for (const signal of ["SIGKILL", "SIGTERM"] as const) {
  Deno.test(`agent stopped by ${signal}: no probe remains and the target keeps serving`, async () => {
    const { cert, key } = await makeCert(await Deno.makeTempDir());
    await using server = await startPythonServer({ cert, key });
    const eventsBefore = await uprobeEvents();
    await using agent = await startAgent(["--pid", String(server.pid)]);
    const base = `https://127.0.0.1:${server.port}`;
    await curl(`${base}/hello`);
    await agent.waitForSpans((s) => s.kind === "SERVER", 1);

    const { progs, links } = await heldBy(agent.pid);
    assert.ok(progs.length >= 7, `the agent holds its programs (${progs.length})`);
    assert.ok(links.length >= 10, `6 uprobe and 4 tracepoint links (${links.length})`);
    const live = await liveIds("link");
    assert.ok(links.every((id) => live.includes(id)), "the kernel lists the links");

    const code = await agent.stop(signal);
    if (signal === "SIGTERM") assert.equal(code, 0, "SIGTERM: a clean exit");

    // The kernel releases the objects once the last fd is gone (asynchronously).
    let left: number[] = progs;
    for (let i = 0; i < 50 && left.length; i++) {
      const live = await liveIds("prog");
      left = progs.filter((id) => live.includes(id));
      if (left.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(left, [], "no program of the agent remains");
    const liveLinks = await liveIds("link");
    assert.deepEqual(
      links.filter((id) => liveLinks.includes(id)),
      [],
      "no link of the agent remains",
    );
    assert.equal(await uprobeEvents(), eventsBefore, "no tracefs uprobe entry left behind");
    assert.equal(await curl(`${base}/hello`), "hello\n", "target still serves");
  });
}
