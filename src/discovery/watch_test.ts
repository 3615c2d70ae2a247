import assert from "node:assert/strict";
import { type WatchedProcess, watchProcesses } from "./watch.ts";

/** Writes a fake /proc/PID/stat (and exe link) into `root`. */
function fakeProcess(root: string, pid: number, comm: string, startTime: number, exe: string) {
  Deno.mkdirSync(`${root}/${pid}`, { recursive: true });
  // pid (comm) state ppid pgrp session tty tpgid flags … starttime is field 22.
  const fields = ["S", "1", "1", "1", "0", "-1", "4194304"];
  while (fields.length < 19) fields.push("0");
  fields.push(String(startTime), "0", "0");
  Deno.writeTextFileSync(`${root}/${pid}/stat`, `${pid} (${comm}) ${fields.join(" ")}\n`);
  try {
    Deno.removeSync(`${root}/${pid}/exe`);
  } catch { /* first time */ }
  Deno.symlinkSync(exe, `${root}/${pid}/exe`);
}

Deno.test("watchProcesses: new, exec, reused pid and exit, on a fake /proc", async () => {
  const root = Deno.makeTempDirSync();
  const events: string[] = [];
  const ac = new AbortController();
  let filtered = 0;
  const tick = () => new Promise((r) => setTimeout(r, 30));
  fakeProcess(root, 100, "bash", 500, "/usr/bin/bash");
  const done = watchProcesses({
    procRoot: root,
    intervalMs: 10,
    exclude: [],
    signal: ac.signal,
    filter: (p) => {
      filtered++;
      return p.comm !== "bash";
    },
    onExec: (p, why) => events.push(`${why} ${p.pid} ${p.comm} ${p.exe} ${p.startTime}`),
    onExit: (pid) => events.push(`exit ${pid}`),
  });
  await tick(); // pid 100 is there from the start: not reported
  fakeProcess(root, 200, "python3", 600, "/usr/bin/python3.11");
  await tick();
  fakeProcess(root, 100, "python3", 500, "/usr/bin/python3.11"); // bash exec'd python
  await tick();
  fakeProcess(root, 200, "node", 900, "/usr/bin/node"); // 200 exited, the pid was reused
  await tick();
  Deno.removeSync(`${root}/100`, { recursive: true });
  await tick();
  ac.abort();
  await done;
  assert.deepEqual(events, [
    "new 200 python3 /usr/bin/python3.11 600",
    "exec 100 python3 /usr/bin/python3.11 500",
    "exit 200",
    "reused 200 node /usr/bin/node 900",
    "exit 100",
  ]);
  assert.equal(filtered, 3, "the filter runs once per new program, not per poll");
  Deno.removeSync(root, { recursive: true });
});

Deno.test("watchProcesses: a real process is seen starting, exec'ing and exiting", async () => {
  const ours = new Set<number>();
  const seen: [string, WatchedProcess][] = [];
  const exits: number[] = [];
  const ac = new AbortController();
  let wake = () => {};
  const done = watchProcesses({
    intervalMs: 50,
    signal: ac.signal,
    filter: (p) => ours.has(p.pid) && p.comm === "sleep",
    onExec: (p, why) => {
      seen.push([why, p]);
      wake();
    },
    onExit: (pid) => {
      exits.push(pid);
      wake();
    },
  });
  const until = async (cond: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!cond() && Date.now() < deadline) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    assert.ok(cond(), `waited 10 s; seen ${JSON.stringify(seen)}, exits ${exits}`);
  };
  await new Promise((r) => setTimeout(r, 120)); // the first poll is the baseline
  // sh starts (refused by the filter: comm "sh"), then becomes sleep by exec.
  const child = new Deno.Command("sh", { args: ["-c", "read x; exec sleep 30"], stdin: "piped" })
    .spawn();
  ours.add(child.pid);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(seen.length, 0, "sh itself is filtered out");
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("go\n"));
  await w.close();
  await until(() => seen.length > 0);
  assert.equal(seen[0]![0], "exec");
  assert.equal(seen[0]![1].pid, child.pid);
  assert.match(seen[0]![1].exe, /\/sleep$/);
  child.kill("SIGKILL");
  await child.status;
  await until(() => exits.includes(child.pid));
  ac.abort();
  await done;
});
